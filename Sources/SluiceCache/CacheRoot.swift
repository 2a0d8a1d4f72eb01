#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SluiceBase

/// Free space of the file system holding a path, as (bytes available, bytes in all); nil when
/// unknown. Injected in tests.
public typealias FreeSpaceProbe = @Sendable (String) -> (available: Int, total: Int)?

/// One cache directory (`<root>/<volume uuid>/blocks`): its index, its share of the capacity,
/// its background writer and its start-up scan.
///
/// Cache files are written by one background thread per root from a bounded backlog (full:
/// the insert is dropped), so caching never slows a read or a write by more than a copy
/// reference. The index is rebuilt at start by a background scan of the file names; until it
/// ends, a key missing from the index is still looked for on disk.
///
/// Failures degrade, never fail I/O: a full disk stops inserts and evicts; any other error of
/// the directory (EIO, read-only, removed) takes the root out of service for the rest of the
/// mount (logged once), and its objects are read from the backend.
final class CacheRoot: @unchecked Sendable {
    // @unchecked: every var below is only touched while `cond` is locked.
    let directory: String
    let capacity: Int
    let freeSpaceRatio: Double
    let probe: FreeSpaceProbe
    let maxBacklog: Int

    private struct Pending {
        var key: String
        /// The object as stored one part after the other: a put's header and block buffer are
        /// kept as they came, so queuing costs no copy.
        var parts: [[UInt8]]
        var count: Int
        var token: UInt64

        var joined: [UInt8] { parts.count == 1 ? parts[0] : Array(parts.joined()) }
    }

    private let cond = NSCondition()
    private var index = CacheIndex()
    private var inService = true
    private var scanning = true
    private var stopped = false
    /// Objects waiting for the writer, or being written, by name.
    private var pending: [CacheName: Pending] = [:]
    private var queue: [CacheName] = []
    private var queueHead = 0
    private var backlog = 0
    private var writing = 0
    private var tokens: UInt64 = 0
    /// Put/delete counts by a hash of the name: a get that fetched from the backend caches
    /// what it got only if no put or delete of (probably) that name happened meanwhile, so a
    /// read racing an overwrite cannot leave the older object cached.
    private var epochs = [UInt32](repeating: 0, count: 4096)

    private func slot(_ name: CacheName) -> Int { Int(name.low % UInt64(4096)) }

    init(directory: String, capacity: Int, freeSpaceRatio: Double, probe: @escaping FreeSpaceProbe, maxBacklog: Int) {
        self.directory = directory
        self.capacity = capacity
        self.freeSpaceRatio = freeSpaceRatio
        self.probe = probe
        self.maxBacklog = maxBacklog
        if let problem = Self.makeDirectories(directory) {
            inService = false
            scanning = false
            Self.log("cache directory \(directory) is not usable (\(problem)); reading from the object store instead")
            return
        }
        let writer = Thread { [self] in writeLoop() }
        writer.name = "sluice-cache-write"
        writer.start()
        let scanner = Thread { [self] in scan() }
        scanner.name = "sluice-cache-scan"
        scanner.start()
    }

    /// Ends the background threads (queued writes are dropped: it is only a cache).
    func stop() {
        cond.lock()
        stopped = true
        cond.broadcast()
        cond.unlock()
    }

    // MARK: - Paths

    func path(_ name: CacheName) -> String { "\(directory)/\(name.bucket)/\(name.fileName)" }
    private func bucketDirectory(_ name: CacheName) -> String { "\(directory)/\(name.bucket)" }

    // MARK: - Reading

    /// The cached object (`offset == 0, length == nil`: whole and fully verified) or a range
    /// of it; nil when it is not cached (or its copy was bad and is dropped now).
    func read(key: String, name: CacheName, offset: Int, length: Int?) -> [UInt8]? {
        cond.lock()
        guard inService else {
            cond.unlock()
            return nil
        }
        if let p = pending[name], p.key == key {
            cond.unlock()
            let data = p.joined
            let start = min(max(0, offset), data.count)
            let end = length.map { min(data.count, start + max(0, $0)) } ?? data.count
            return start == 0 && end == data.count ? data : Array(data[start..<end])
        }
        let indexed = index.touch(name)
        let look = indexed || scanning
        cond.unlock()
        guard look else { return nil }
        let file = path(name)
        do throws(CacheFile.Failure) {
            let data: [UInt8]
            if offset == 0 && length == nil {
                data = try CacheFile.readWhole(path: file, key: key)
            } else {
                data = try CacheFile.readRange(path: file, key: key, offset: offset, length: length)
            }
            if !indexed, let size = Self.diskSize(file) {
                // Found before the scan reached it.
                cond.lock()
                if inService { index.insert(name, size: size) }
                cond.unlock()
            }
            return data
        } catch {
            switch error {
            case .missing:
                if indexed { forget(name) }
            case .damaged:
                _ = remove(name)
                OperationStats.cacheEvict.increment()
            case .full:
                break
            case .failed(let problem):
                takeOutOfService(problem)
            }
            return nil
        }
    }

    private func forget(_ name: CacheName) {
        cond.lock()
        index.remove(name)
        cond.unlock()
    }

    // MARK: - Writing

    /// The put/delete count of `name`'s slot, taken before a backend get whose result may be
    /// cached (`enqueue(…, since:)`).
    func epoch(_ name: CacheName) -> UInt32 {
        cond.lock()
        defer { cond.unlock() }
        return epochs[slot(name)]
    }

    /// Queues `parts` (stored one after the other) as the object `key` for the background writer; dropped when the backlog
    /// is full or the root out of service. A fill after a get (`since` its epoch) is also
    /// dropped when the object is cached or queued already, or was put or deleted meanwhile;
    /// a put's data (`since` nil) replaces whatever is queued.
    @discardableResult
    func enqueue(key: String, name: CacheName, parts: [[UInt8]], since: UInt32?) -> Bool {
        let count = parts.reduce(0) { $0 + $1.count }
        cond.lock()
        defer { cond.unlock() }
        guard inService, !stopped else { return false }
        if let since {
            guard epochs[slot(name)] == since, pending[name] == nil, !index.contains(name) else { return false }
        } else if let old = pending.removeValue(forKey: name) {
            backlog -= old.count
        }
        guard backlog + count <= maxBacklog else { return false }
        tokens += 1
        pending[name] = Pending(key: key, parts: parts, count: count, token: tokens)
        queue.append(name)
        backlog += count
        cond.broadcast()
        return true
    }

    /// Whether `name` is cached or queued.
    func holds(_ name: CacheName) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        return inService && (pending[name] != nil || index.touch(name))
    }

    /// Writes the object now, on the calling thread (warmup); whether it is cached.
    func store(key: String, name: CacheName, data: [UInt8]) -> Bool {
        write(key: key, name: name, parts: [data], token: nil)
    }

    /// Drops the object (queued, indexed or on disk); whether there was a copy. Called before
    /// a put or delete reaches the backend, it also makes gets under way not cache what they
    /// fetched.
    func remove(_ name: CacheName) -> Bool {
        cond.lock()
        epochs[slot(name)] &+= 1
        let queued = pending.removeValue(forKey: name)
        if let queued { backlog -= queued.count }
        let indexed = index.remove(name)
        cond.unlock()
        let unlinked = unlink(path(name)) == 0
        return queued != nil || indexed != nil || unlinked
    }

    private func writeLoop() {
        while true {
            cond.lock()
            while queueHead == queue.count && !stopped { cond.wait() }
            if stopped {
                cond.unlock()
                return
            }
            let name = queue[queueHead]
            queueHead += 1
            if queueHead > 1024 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            guard let item = pending[name] else {
                cond.broadcast()  // the backlog may be empty now: wake `waitForWrites`
                cond.unlock()
                continue  // dropped meanwhile
            }
            writing += 1
            cond.unlock()
            _ = write(key: item.key, name: name, parts: item.parts, token: item.token)
            cond.lock()
            writing -= 1
            if pending[name]?.token == item.token {
                pending[name] = nil
                backlog -= item.count
            }
            cond.broadcast()
            cond.unlock()
        }
    }

    /// Writes one cache file, making room first. `token` is the queued entry's: if it was
    /// dropped meanwhile (the object was deleted), the file is removed again.
    private func write(key: String, name: CacheName, parts: [[UInt8]], token: UInt64?) -> Bool {
        let size = CacheFile.diskSize(key: key, objectLength: parts.reduce(0) { $0 + $1.count })
        guard size <= capacity, makeRoom(for: size) else { return false }
        let file = path(name)
        let temp = "\(bucketDirectory(name))/.tmp.\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        do throws(CacheFile.Failure) {
            try CacheFile.write(path: file, directory: bucketDirectory(name), temp: temp, key: key, parts: parts)
        } catch .full {
            // The disk is full (nothing kept a free share, or another program filled it): give
            // back room for this block and the next, and drop this one.
            evict(bytes: 2 * size)
            return false
        } catch .failed(let problem) {
            takeOutOfService(problem)
            return false
        } catch {
            return false  // .missing, .damaged: not produced by a write
        }
        cond.lock()
        guard inService, token == nil || pending[name]?.token == token else {
            cond.unlock()
            unlink(file)
            return false
        }
        index.insert(name, size: size)
        var victims: [CacheName] = []
        while index.bytes > capacity, let v = index.evictOne() { victims.append(v.name) }
        cond.unlock()
        OperationStats.cacheWrite.increment()
        discard(victims)
        return true
    }

    /// Evicts until `size` more bytes fit in the capacity and leave the disk its free share.
    /// False when that is impossible (the disk is full of other things).
    private func makeRoom(for size: Int) -> Bool {
        let space = freeSpaceRatio > 0 ? probe(directory) : nil
        var victims: [CacheName] = []
        var ok = true
        cond.lock()
        guard inService else {
            cond.unlock()
            return false
        }
        var freed = 0
        while index.bytes + size > capacity, let v = index.evictOne() {
            victims.append(v.name)
            freed += v.size
        }
        if index.bytes + size > capacity { ok = false }
        if let space {
            var needed = Int(freeSpaceRatio * Double(space.total)) - (space.available + freed - size)
            while needed > 0, let v = index.evictOne() {
                victims.append(v.name)
                needed -= v.size
            }
            if needed > 0 { ok = false }
        }
        cond.unlock()
        discard(victims)
        return ok
    }

    /// Evicts at least `bytes` (or everything).
    private func evict(bytes: Int) {
        var victims: [CacheName] = []
        var freed = 0
        cond.lock()
        while freed < bytes, let v = index.evictOne() {
            victims.append(v.name)
            freed += v.size
        }
        cond.unlock()
        discard(victims)
    }

    private func discard(_ victims: [CacheName]) {
        for v in victims {
            unlink(path(v))
            OperationStats.cacheEvict.increment()
        }
    }

    // MARK: - Failure

    private func takeOutOfService(_ problem: String) {
        cond.lock()
        let first = inService
        inService = false
        scanning = false
        index.removeAll()
        pending.removeAll()
        queue.removeAll()
        queueHead = 0
        backlog = 0
        cond.broadcast()
        cond.unlock()
        if first { Self.log("cache directory \(directory) is out of service (\(problem)); reading from the object store instead") }
    }

    static func log(_ message: String) {
        FileHandle.standardError.write(Data("sluice: \(message)\n".utf8))
    }

    // MARK: - Start-up scan

    /// Rebuilds the index from the file names on disk, without delaying the mount. Leftover
    /// temporaries of earlier processes are removed.
    private func scan() {
        let me = ".tmp.\(getpid())."
        for bucket in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard bucket.utf8.count == 2 else { continue }
            let dir = directory + "/" + bucket
            for file in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                if file.hasPrefix(".tmp.") {
                    if !file.hasPrefix(me) { unlink(dir + "/" + file) }
                    continue
                }
                guard let name = CacheName(fileName: file), let size = Self.diskSize(dir + "/" + file) else { continue }
                cond.lock()
                let go = inService && !stopped
                if go { index.insertFound(name, size: size) }
                cond.unlock()
                if !go { return }
            }
        }
        // The cache may have been bigger at the last mount: evict down to this one's limits
        // before saying the scan is done.
        cond.lock()
        var victims: [CacheName] = []
        while index.bytes > capacity, let v = index.evictOne() { victims.append(v.name) }
        cond.unlock()
        discard(victims)
        _ = makeRoom(for: 0)
        cond.lock()
        scanning = false
        cond.broadcast()
        cond.unlock()
    }

    // MARK: - Waiting and usage (tests, warmup)

    /// Waits until the backlog is written.
    func waitForWrites() {
        cond.lock()
        while (queueHead < queue.count || writing > 0) && !stopped { cond.wait() }
        cond.unlock()
    }

    /// Waits until the start-up scan has ended.
    func waitForScan() {
        cond.lock()
        while scanning && !stopped { cond.wait() }
        cond.unlock()
    }

    /// Disk bytes and objects indexed, and whether the root is in service.
    var usage: (bytes: Int, objects: Int, inService: Bool) {
        cond.lock()
        defer { cond.unlock() }
        return (index.bytes, index.count, inService)
    }

    private static func diskSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return (Int(st.st_size) + 4095) & ~4095
    }

    /// `mkdir -p`; nil or what went wrong.
    private static func makeDirectories(_ path: String) -> String? {
        var built = ""
        for part in path.split(separator: "/") {
            built += "/" + part
            if mkdir(built, 0o700) != 0 && errno != EEXIST { return "mkdir \(built): \(String(cString: strerror(errno)))" }
        }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return "\(path) is not a directory" }
        return access(path, W_OK | X_OK) == 0 ? nil : "\(path): \(String(cString: strerror(errno)))"
    }

    /// The default probe: statvfs of the directory.
    static let statfsProbe: FreeSpaceProbe = { path in
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return (Int(s.f_bavail) * Int(s.f_frsize), Int(s.f_blocks) * Int(s.f_frsize))
    }
}
