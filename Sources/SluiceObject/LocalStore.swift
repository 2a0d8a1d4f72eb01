#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLinux
import SluiceBase

/// An object store kept as plain files under a root directory: the object `a/b/c` is the file
/// `root/a/b/c`. Calls block on disk I/O; run them on threads made for blocking work.
///
/// Puts write a temporary file in the object's directory and rename it into place, so readers
/// see the old object or the whole new one. File names beginning with `.sluice-tmp.` are
/// reserved for those temporaries and are never listed. Because objects are files, a key that
/// is also a "directory" of other keys (`a` beside `a/b`) cannot be stored.
public final class LocalStore: ObjectStore {
    /// The root directory, without a trailing slash.
    public let root: String

    /// A store rooted at `root`, which must exist (see `ObjectStores.open`, which creates it).
    public init(root: String) {
        var r = root
        while r.count > 1, r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    public var description: String { "file://\(root)/" }

    static let tempPrefix = ".sluice-tmp."

    // MARK: - get / head

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        let path = try self.path(of: key)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw Self.missingOr("open", path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.failure("stat", path) }
        // A directory is where other keys live, not an object.
        if (st.st_mode & S_IFMT) == S_IFDIR { throw Errno.noSuchFileOrDirectory }
        let size = Int(st.st_size)
        let start = min(max(0, offset), size)
        let end = length.map { min(size, start + max(0, $0)) } ?? size
        if end <= start { return [] }
        // A short result means the file shrank under us: return what exists.
        let (out, failed) = FileIO.range(fd, offset: start, count: end - start)
        if failed != 0 {
            errno = failed
            throw Self.failure("read", path)
        }
        return out
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        let path = try self.path(of: key)
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.failure("stat", path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { return nil }
        return ObjectInfo(key: key, size: Int(st.st_size), modified: Int64(st.st_mtim.tv_sec))
    }

    // MARK: - put / delete

    public func put(_ key: String, _ data: [UInt8]) throws {
        try put(key, parts: [data])
    }

    /// Writes the parts one after the other into the temporary file: no joined copy.
    public func put(_ key: String, parts: [[UInt8]]) throws {
        let path = try self.path(of: key)
        let (dir, _) = Self.split(path)
        let temp = "\(dir)/\(Self.tempPrefix)\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        // A concurrent delete may remove the (then empty) directory between our mkdir and our
        // create; recreating it and trying again is enough.
        var fd: Int32 = -1
        for attempt in 0..<5 {
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { break }
            guard errno == ENOENT, attempt < 4 else { throw Self.failure("create", temp) }
            let code = makeDirectories(dir)
            if code != 0 { errno = code; throw Self.failure("mkdir", dir) }
        }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        do {
            defer { close(fd) }
            let failed = FileIO.writeAll(fd, parts)
            if failed != 0 {
                errno = failed
                throw Self.failure("write", temp)
            }
        }
        guard rename(temp, path) == 0 else { throw Self.failure("rename", path) }
        ok = true
    }

    public func delete(_ key: String) throws {
        let path = try self.path(of: key)
        if unlink(path) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return }
            if errno == EISDIR || errno == EPERM {
                // unlink of a directory: that key names no object.
                var st = stat()
                if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return }
            }
            throw Self.failure("unlink", path)
        }
        // Drop directories this left empty, so removed slices do not leave a tree of empty
        // directories behind. rmdir refuses non-empty ones, which makes this cheap and safe.
        var (dir, _) = Self.split(path)
        while dir.count > root.count, dir.hasPrefix(root + "/") {
            if rmdir(dir) != 0 { break }
            dir = Self.split(dir).0
        }
    }

    // MARK: - list

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        guard limit > 0 else { return [] }
        var walk = Walk(prefix: Array(prefix.utf8), after: after.map { Array($0.utf8) }, limit: limit)
        try walk.visit(directory: root, keyPrefix: [])
        return walk.found
    }

    /// A depth-first walk that visits entries in the byte order of the keys they form.
    private struct Walk {
        let prefix: [UInt8]
        let after: [UInt8]?
        let limit: Int
        var found: [ObjectInfo] = []

        init(prefix: [UInt8], after: [UInt8]?, limit: Int) {
            self.prefix = prefix
            self.after = after
            self.limit = limit
        }

        /// Whether some key starting with `p` could match the prefix and sort after `after`.
        func mayContain(_ p: [UInt8]) -> Bool {
            guard p.starts(with: prefix) || prefix.starts(with: p) else { return false }
            // When `after` is not itself under p and sorts after p, it sorts after every key
            // under p too, so the whole subtree was already listed.
            if let after, !after.starts(with: p), !after.lexicographicallyPrecedes(p) { return false }
            return true
        }

        mutating func visit(directory: String, keyPrefix: [UInt8]) throws {
            let entries = try LocalStore.readDirectory(directory)
            // A directory's keys all start with "name/", so it sorts as that string does.
            var named: [(sortKey: [UInt8], name: String, isDir: Bool)] = []
            named.reserveCapacity(entries.count)
            for (name, isDir) in entries {
                var k = keyPrefix
                k.append(contentsOf: name.utf8)
                if isDir { k.append(UInt8(ascii: "/")) }
                named.append((k, name, isDir))
            }
            named.sort { $0.sortKey.lexicographicallyPrecedes($1.sortKey) }
            for entry in named {
                if found.count >= limit { return }
                if entry.isDir {
                    if mayContain(entry.sortKey) {
                        try visit(directory: directory + "/" + entry.name, keyPrefix: entry.sortKey)
                    }
                    continue
                }
                let key = entry.sortKey
                guard key.starts(with: prefix) else { continue }
                if let after, !after.lexicographicallyPrecedes(key) { continue }
                var st = stat()
                // The object may vanish between readdir and stat: then it is not listed.
                guard stat(directory + "/" + entry.name, &st) == 0 else { continue }
                found.append(ObjectInfo(key: String(decoding: key, as: UTF8.self), size: Int(st.st_size),
                                        modified: Int64(st.st_mtim.tv_sec)))
            }
        }
    }

    /// Names in a directory with whether each is a directory, without `.`, `..` and temporaries.
    /// A directory that does not exist (removed by a concurrent delete) is empty.
    static func readDirectory(_ path: String) throws -> [(String, Bool)] {
        guard let d = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return [] }
            throw failure("opendir", path)
        }
        defer { closedir(d) }
        var out: [(String, Bool)] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." || name.hasPrefix(tempPrefix) { continue }
            var isDir = Int32(ent.pointee.d_type) == Int32(DT_DIR)
            if Int32(ent.pointee.d_type) == Int32(DT_UNKNOWN) {
                var st = stat()
                guard stat(path + "/" + name, &st) == 0 else { continue }
                isDir = (st.st_mode & S_IFMT) == S_IFDIR
            }
            out.append((name, isDir))
        }
        return out
    }

    // MARK: - sync

    /// From this many objects on, `sync` flushes the whole file system at once (see below).
    static let syncfsThreshold = 128
    /// Threads (the caller's included) that fsync objects at the same time.
    static let syncThreads = 8

    public func sync(_ keys: [String]) throws {
        var files: [String] = []
        files.reserveCapacity(keys.count)
        // New directories must be durable too, or the file could be lost with them; each is
        // synced once however many of the objects it holds.
        var dirs = Set<String>()
        for key in keys {
            let path = try self.path(of: key)
            files.append(path)
            var (dir, _) = Self.split(path)
            while dir.count >= root.count, dirs.insert(dir).inserted {
                if dir == root { break }
                dir = Self.split(dir).0
            }
        }
        guard !files.isEmpty else { return }
        if files.count >= Self.syncfsThreshold {
            try syncFileSystem(files)
            return
        }
        // fsyncs of different files wait on the disk, not on each other: issued together they
        // share journal commits and device flushes instead of paying one each.
        try Self.concurrently(files, threads: Self.syncThreads) { try Self.fsyncPath($0, flags: O_RDONLY) }
        try Self.concurrently(dirs.sorted(), threads: Self.syncThreads) {
            try Self.fsyncPath($0, flags: O_RDONLY | O_DIRECTORY)
        }
    }

    /// Makes many objects durable with one syncfs(2) on the store's file system, then checks
    /// each object for a writeback error.
    ///
    /// Trade-off: syncfs writes back and commits everything dirty on that file system, not just
    /// these objects, so it takes longer when other programs have much unwritten data there;
    /// with thousands of small objects (random writes) it is still far cheaper than one fsync,
    /// one journal commit and one device flush per object. It makes file data, the renames that
    /// put objects in place and new directories durable (the journal commit covers all
    /// metadata) before it returns.
    ///
    /// syncfs reports a writeback error of the file system once, to the first caller that asks,
    /// which might be another program. So each object is also checked on its own:
    /// sync_file_range with WAIT_BEFORE | WRITE | WAIT_AFTER on a clean file does no I/O and
    /// reports a writeback error of that file not yet seen through any descriptor, like fsync
    /// would (only this store opens object files).
    func syncFileSystem(_ files: [String]) throws {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Self.failure("open", root) }
        defer { close(fd) }
        if syncfs(fd) != 0 { throw Self.failure("syncfs", root) }
        let flags = UInt32(SLUICE_SYNC_FILE_RANGE_WAIT_BEFORE | SLUICE_SYNC_FILE_RANGE_WRITE
                           | SLUICE_SYNC_FILE_RANGE_WAIT_AFTER)
        for path in files {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw Self.missingOr("open", path) }
            defer { close(fd) }
            if sync_file_range(fd, 0, 0, flags) != 0 { throw Self.failure("sync_file_range", path) }
        }
    }

    /// Runs `body` for every item on up to `threads` threads, the calling one included, and
    /// returns once all are done; throws the first error (the other items still run).
    static func concurrently(_ items: [String], threads: Int,
                             _ body: @escaping @Sendable (String) throws -> Void) throws {
        let job = ConcurrentJob(items: items, body: body)
        var started: [pthread_t] = []
        for _ in 0..<max(0, min(threads, items.count) - 1) {
            var tid = pthread_t()
            let arg = Unmanaged.passRetained(job).toOpaque()
            let code = pthread_create(&tid, nil, { arg in
                Unmanaged<ConcurrentJob>.fromOpaque(arg!).takeRetainedValue().run()
                return nil
            }, arg)
            if code == 0 {
                started.append(tid)
            } else {
                Unmanaged<ConcurrentJob>.fromOpaque(arg).release()  // fewer threads; still done
            }
        }
        job.run()
        for tid in started { pthread_join(tid, nil) }
        if let error = job.firstError { throw error }
    }

    static func fsyncPath(_ path: String, flags: Int32) throws {
        let fd = open(path, flags | O_CLOEXEC)
        if fd < 0 { throw missingOr("open", path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw failure("fsync", path) }
    }

    // MARK: - paths and errors

    /// The file of `key`, after checking that the key cannot escape the root or name a temporary.
    func path(of key: String) throws -> String {
        guard !key.isEmpty, !key.hasPrefix("/"), !key.hasSuffix("/") else {
            throw EngineError("invalid object key \"\(key)\"")
        }
        for part in key.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty || part == "." || part == ".." || part.hasPrefix(Self.tempPrefix) {
                throw EngineError("invalid object key \"\(key)\"")
            }
        }
        return root + "/" + key
    }

    /// `mkdir -p`: creates `dir` and its missing parents; returns 0 or the errno that stopped it.
    func makeDirectories(_ dir: String) -> Int32 {
        if mkdir(dir, 0o755) == 0 || errno == EEXIST { return 0 }
        guard errno == ENOENT else { return errno }
        let parent = Self.split(dir).0
        guard parent != dir, !parent.isEmpty else { return ENOENT }
        let code = makeDirectories(parent)
        if code != 0 { return code }
        if mkdir(dir, 0o755) != 0, errno != EEXIST { return errno }
        return 0
    }

    /// Splits a path at its last slash into directory and name.
    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    static func missingOr(_ op: String, _ path: String) -> any Error {
        if errno == ENOENT || errno == ENOTDIR { return Errno.noSuchFileOrDirectory }
        return failure(op, path)
    }

    /// The error for a failed system call: out-of-space conditions keep their errno so the
    /// file system can report them as such; everything else is an engine failure with details.
    static func failure(_ op: String, _ path: String) -> any Error {
        let code = errno
        if code == ENOSPC || code == EDQUOT || code == EROFS { return Errno(rawValue: code) }
        return EngineError("\(op) \(path): \(String(cString: strerror(code)))")
    }
}

/// The shared state of `LocalStore.concurrently`: a next-item counter and the first error.
private final class ConcurrentJob: Sendable {
    let items: [String]
    let body: @Sendable (String) throws -> Void
    private let state = Locked<(next: Int, error: (any Error)?)>((0, nil))

    init(items: [String], body: @escaping @Sendable (String) throws -> Void) {
        self.items = items
        self.body = body
    }

    var firstError: (any Error)? { state.withLock { $0.error } }

    func run() {
        while true {
            let i = state.withLock { s -> Int in
                defer { s.next += 1 }
                return s.next
            }
            guard i < items.count else { return }
            do {
                try body(items[i])
            } catch {
                state.withLock { s in if s.error == nil { s.error = error } }
            }
        }
    }
}
