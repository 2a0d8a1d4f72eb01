#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceBase

/// The files of write-back staging: one file per staged object at
/// `<root>/<volume uuid>/staging/<object key>` in one of the cache roots, written so that a
/// file under its final name is always whole and durable. Only file operations live here; which
/// objects are staged, and their uploads, are `WritebackStore`'s.
///
/// Calls block on disk I/O: run them on threads made for blocking work.
final class StagingArea: Sendable {
    /// The staging directory of each cache root, in the order of `LocalCacheConfig.roots`.
    let directories: [String]

    /// Names beginning with this are temporaries of puts that have not finished; a crash can
    /// leave them behind, and `scan` removes them.
    static let tempPrefix = ".sluice-staging."

    init(_ config: LocalCacheConfig) {
        directories = config.roots.map(config.stagingDirectory)
    }

    /// The staging file of `key` in root number `root`, after checking that the key can be a
    /// relative path (no empty, `.` or `..` parts, no temporary name).
    func path(root: Int, key: String) throws -> String {
        guard !key.isEmpty, !key.hasPrefix("/"), !key.hasSuffix("/") else {
            throw EngineError("object key \"\(key)\" cannot be staged")
        }
        for part in key.split(separator: "/", omittingEmptySubsequences: false)
        where part.isEmpty || part == "." || part == ".." || part.hasPrefix(Self.tempPrefix) {
            throw EngineError("object key \"\(key)\" cannot be staged")
        }
        return directories[root] + "/" + key
    }

    // MARK: - Writing

    /// Writes `data` to a new temporary file beside `path` and makes it durable (fsync), creating
    /// missing directories durably too; returns the temporary's path for `install`.
    func writeTemporary(for path: String, parts: [[UInt8]]) throws -> String {
        let dir = Self.directory(of: path)
        let temp = "\(dir)/\(Self.tempPrefix)\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        var fd: Int32 = -1
        // Removing an uploaded object drops directories it leaves empty, which can race with
        // this create: making the directory again and retrying is enough.
        for attempt in 0..<5 {
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { break }
            guard errno == ENOENT, attempt < 4 else { throw Self.failure("create", temp) }
            do {
                try makeDirectories(dir)
            } catch let e as EngineError where attempt < 3 {
                _ = e  // a parent removed between two mkdirs: the same race, try again
            }
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temp) }
        }
        let failed = FileIO.writeAll(fd, parts)
        if failed != 0 {
            errno = failed
            throw Self.failure("write", temp)
        }
        // The data must be on disk before the name points at it: after a crash a staged file
        // is uploaded as it is, so it must never be short.
        if fsync(fd) != 0 { throw Self.failure("fsync", temp) }
        ok = true
        return temp
    }

    /// Moves a temporary written by `writeTemporary` to its final name (atomically replacing
    /// an older version). Durable only after `syncDirectory(of:)`.
    func install(_ temp: String, at path: String) throws {
        guard rename(temp, path) == 0 else {
            let error = Self.failure("rename", path)
            unlink(temp)
            throw error
        }
    }

    /// Makes the directory entry of `path` durable. A directory already removed (the object
    /// was uploaded and its staging file dropped in the meantime) needs nothing.
    func syncDirectory(of path: String) throws {
        let dir = Self.directory(of: path)
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw Self.failure("open", dir)
        }
        defer { close(fd) }
        if fsync(fd) != 0 { throw Self.failure("fsync", dir) }
    }

    /// `mkdir -p` of a directory under a staging directory; the parent of every directory it
    /// creates is fsync'd, so that a staged file never vanishes with its directory in a crash.
    private func makeDirectories(_ dir: String) throws {
        if mkdir(dir, 0o700) == 0 {
            try syncParent(of: dir)
            return
        }
        if errno == EEXIST { return }
        guard errno == ENOENT else { throw Self.failure("mkdir", dir) }
        let parent = Self.directory(of: dir)
        guard parent != dir, parent != "/" else { throw Self.failure("mkdir", dir) }
        try makeDirectories(parent)
        if mkdir(dir, 0o700) == 0 {
            try syncParent(of: dir)
        } else if errno != EEXIST {
            throw Self.failure("mkdir", dir)
        }
    }

    private func syncParent(of dir: String) throws {
        let parent = Self.directory(of: dir)
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Self.failure("open", parent) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw Self.failure("fsync", parent) }
    }

    // MARK: - Reading and removing

    /// Bytes `offset ..< offset + length` of a staged file (to its end when `length` is nil),
    /// read with pread. A missing file is `Errno.noSuchFileOrDirectory`.
    func read(_ path: String, offset: Int = 0, length: Int? = nil) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { throw Errno.noSuchFileOrDirectory }
            throw Self.failure("open", path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.failure("stat", path) }
        let size = Int(st.st_size)
        let start = min(max(0, offset), size)
        let end = length.map { min(size, start + max(0, $0)) } ?? size
        if end <= start { return [] }
        let (out, failed) = FileIO.range(fd, offset: start, count: end - start)
        if failed != 0 {
            errno = failed
            throw Self.failure("read", path)
        }
        // Staged files never change in place (a new version is a new file renamed over it), so
        // a short read means damage, and damaged data must not be served.
        guard out.count == end - start else { throw Errno.ioError }
        return out
    }

    /// Removes a staged file and the directories it leaves empty (never the staging directory
    /// itself). A missing file is fine. Errors are not thrown: a leftover file is uploaded again
    /// at the next start, which is harmless.
    func remove(_ path: String, root: Int) {
        guard unlink(path) == 0 || errno == ENOENT else { return }
        let top = directories[root]
        var dir = Self.directory(of: path)
        while dir.count > top.count, dir.hasPrefix(top + "/") {
            if rmdir(dir) != 0 { break }
            dir = Self.directory(of: dir)
        }
    }

    // MARK: - Start-up

    /// A staged object found on disk.
    struct Found {
        var root: Int
        var key: String
        var size: Int
        /// When it was staged (seconds since 1970).
        var modified: Double
    }

    /// Every staged object in every root (temporaries of unfinished puts are removed: their
    /// put never returned, so nothing refers to them). Missing staging directories are empty.
    func scan() throws -> [Found] {
        var found: [Found] = []
        for (root, dir) in directories.enumerated() {
            try walk(dir, keyPrefix: "", root: root, into: &found)
        }
        return found
    }

    private func walk(_ dir: String, keyPrefix: String, root: Int, into found: inout [Found]) throws {
        guard let d = opendir(dir) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw Self.failure("opendir", dir)
        }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(d)
        for name in names {
            let full = dir + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            if name.hasPrefix(Self.tempPrefix) {
                unlink(full)
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(full, keyPrefix: keyPrefix + name + "/", root: root, into: &found)
            case S_IFREG:
                let modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                found.append(Found(root: root, key: keyPrefix + name, size: Int(st.st_size), modified: modified))
            default:
                continue
            }
        }
    }

    // MARK: - Helpers

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// The error for a failed system call, keeping out-of-space conditions as their errno.
    static func failure(_ op: String, _ path: String) -> any Error {
        let code = errno
        if code == ENOSPC || code == EDQUOT || code == EROFS { return Errno(rawValue: code) }
        return EngineError("\(op) \(path): \(String(cString: strerror(code)))")
    }
}
