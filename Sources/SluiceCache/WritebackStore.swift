import Foundation
import SluiceBase
import SluiceObject

/// Tunables of write-back.
public struct WritebackConfig: Sendable, Hashable {
    /// Threads uploading staged objects to the backend at once (`--max-uploads`).
    public var uploadThreads: Int
    /// Seconds an object stays staged before its upload starts (`--upload-delay`): objects
    /// deleted within it (temporary files) never reach the backend.
    public var uploadDelay: Double
    /// The pause before the first retry of a failed upload, in seconds; it doubles with each
    /// further failure up to `maxRetryDelay`. Uploads are retried forever: the staged copy is
    /// the only one, so giving up would lose data the application was told was written.
    public var retryDelay: Double
    public var maxRetryDelay: Double

    public init(uploadThreads: Int = 20, uploadDelay: Double = 0, retryDelay: Double = 0.5, maxRetryDelay: Double = 30) {
        self.uploadThreads = uploadThreads
        self.uploadDelay = uploadDelay
        self.retryDelay = retryDelay
        self.maxRetryDelay = maxRetryDelay
    }
}

/// Write-back: an object store wrapper that makes a put durable on a local disk and returns,
/// leaving the upload to the backend to background threads.
///
/// - `put` writes the object to a staging file (temporary, fsync, rename, fsync of the
///   directory; see `StagingArea`) and queues it; `uploadThreads` threads put queued objects to
///   the backend (after `uploadDelay`), sync them there, and then drop the staging file.
/// - `get`, `head` and `list` see staged objects at once: they are read from the staging file.
///   Other clients see an object only once it is uploaded.
/// - `delete` drops the staged copy and deletes from the backend; an upload of the same object
///   in flight deletes what it uploaded when it completes, so a deleted object never reappears.
/// - `sync` has nothing to do for staged objects: they are durable on the local disk already.
/// - When staging fails (the cache disk is full, or broken), the put goes straight to the
///   backend instead: a write the backend can take never fails because of the cache disk.
/// - At start, every object found staged in any root is queued again: uploads resume after a
///   crash or an unmount that left some behind. `shutdown` gives uploads a bounded time.
///
/// All methods are safe to call from many threads; they block on disk or network I/O.
public final class WritebackStore: ObjectStore, @unchecked Sendable {
    // @unchecked: every var below is only touched while `cond` is locked.
    public let base: any ObjectStore
    public let cache: LocalCacheConfig
    public let config: WritebackConfig
    let staging: StagingArea
    /// Guards the index and the queue; waited on by upload threads and `shutdown`. Never held
    /// during I/O.
    let cond = NSCondition()
    /// Serialise the file operations on one key's staging path (install, removal), which
    /// must agree with the index; striped, and held only for a rename or an unlink.
    let keyLocks = KeyLocks()
    /// Staged objects (and deleted ones whose upload is still in flight) by key.
    var entries: [String: Entry] = [:]
    /// Keys waiting for upload with when they are due (seconds since 1970), oldest first.
    var queue: [(key: String, due: Double)] = []
    var queueHead = 0
    /// Set by `shutdown`: every queued object is due now.
    var draining = false
    /// Set when `shutdown` gives up waiting: threads exit, puts go straight to the backend.
    var stopped = false
    let log = RareLog()

    struct Entry {
        var root: Int
        var size: Int
        var modified: Int64
        /// Bumped by every put, so an upload that finishes knows whether it uploaded the newest.
        var generation: UInt64
        var queued: Bool
        var uploading: Bool
        /// Deleted while its upload was in flight: absent to readers; the upload deletes what
        /// it put once it completes, then drops the entry.
        var deleted: Bool
    }

    /// Opens write-back for the volume of `cache` over `base`: queues every object left staged
    /// by an earlier run, then starts the upload threads.
    public init(_ base: any ObjectStore, cache: LocalCacheConfig, config: WritebackConfig) throws {
        precondition(config.uploadThreads >= 1, "at least one upload thread")
        precondition(!cache.roots.isEmpty, "no cache roots")
        self.base = base
        self.cache = cache
        self.config = config
        staging = StagingArea(cache)
        try resume()
        for i in 0..<config.uploadThreads {
            let thread = Thread { [self] in uploadLoop() }
            thread.name = "sluice-writeback-\(i)"
            thread.start()
        }
    }

    public var description: String { base.description }

    /// The index in `cache.roots` of the root that stages `key`.
    func rootIndex(for key: String) -> Int {
        let root = cache.root(for: key)
        return cache.roots.firstIndex(of: root) ?? 0
    }

    // MARK: - ObjectStore

    public func put(_ key: String, _ data: [UInt8]) throws { try put(key, parts: [data]) }

    /// Writes the parts one after the other into the staging file (and passes them down
    /// unjoined when staging fails): no joined copy of a block.
    public func put(_ key: String, parts: [[UInt8]]) throws {
        let size = parts.reduce(0) { $0 + $1.count }
        let root = rootIndex(for: key)
        let path: String
        let temp: String
        do {
            guard !isStopped else { throw EngineError("write-back is shut down") }
            path = try staging.path(root: root, key: key)
            temp = try staging.writeTemporary(for: path, parts: parts)
        } catch {
            try putDirectly(key, parts, because: error)
            return
        }
        do {
            try keyLocks.withLock(key) {
                try staging.install(temp, at: path)
                if let old = stage(key, root: root, size: size),
                   let oldPath = try? staging.path(root: old, key: key) {
                    // Staged in another root by an earlier run (the roots changed): that older
                    // version must not be uploaded at the next start.
                    staging.remove(oldPath, root: old)
                }
            }
        } catch {
            try putDirectly(key, parts, because: error)
            return
        }
        try staging.syncDirectory(of: path)
    }

    /// Records a freshly installed staging file and queues its upload (unless an upload of the
    /// key is in flight: it queues the key again when it sees the newer generation). Returns
    /// the root of a staged older version when it was another one.
    private func stage(_ key: String, root: Int, size: Int) -> Int? {
        cond.lock()
        defer { cond.unlock() }
        let now = Date().timeIntervalSince1970
        var entry = entries[key] ?? Entry(root: root, size: size, modified: Int64(now), generation: 0,
                                          queued: false, uploading: false, deleted: false)
        let oldRoot = entry.root != root && !entry.deleted ? entry.root : nil
        entry.root = root
        entry.size = size
        entry.modified = Int64(now)
        entry.generation &+= 1
        entry.deleted = false
        if !entry.queued && !entry.uploading {
            entry.queued = true
            enqueueLocked(key, due: now + config.uploadDelay)
        }
        entries[key] = entry
        return oldRoot
    }

    /// The fallback when staging fails: a synchronous put to the backend. An object of the
    /// same key already staged would be uploaded over it later, so then the error stands
    /// (object keys are never reused by the chunk layer, so this does not happen there).
    private func putDirectly(_ key: String, _ parts: [[UInt8]], because error: any Error) throws {
        let staged = cond.withLock { entries[key].map { !$0.deleted } ?? false }
        if staged { throw error }
        if !isStopped { log.report("staging \(key) failed (\(error)); uploading it directly") }
        try base.put(key, parts: parts)
    }

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        switch lookup(key) {
        case .deleted:
            throw Errno.noSuchFileOrDirectory
        case .staged(let path, _):
            do {
                return try staging.read(path, offset: offset, length: length)
            } catch let e as Errno where e == .noSuchFileOrDirectory {
                // Uploaded (or deleted) since the lookup: the backend has the answer.
                return try base.get(key, offset: offset, length: length)
            }
        case .absent:
            return try base.get(key, offset: offset, length: length)
        }
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        switch lookup(key) {
        case .deleted: return nil
        case .staged(_, let info): return info
        case .absent: return try base.head(key)
        }
    }

    public func delete(_ key: String) throws {
        keyLocks.withLock(key) {
            cond.lock()
            guard var entry = entries[key] else {
                cond.unlock()
                return
            }
            let path = try? staging.path(root: entry.root, key: key)
            if entry.uploading {
                entry.deleted = true
                entries[key] = entry
            } else {
                entries[key] = nil  // its queue slot is skipped when it comes up
            }
            cond.broadcast()
            cond.unlock()
            if let path { staging.remove(path, root: entry.root) }
        }
        // An older version may have been uploaded before; and a concurrent upload deletes its
        // own copy when it sees the tombstone.
        try base.delete(key)
    }

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        guard limit > 0 else { return [] }
        // Staged first, then the backend: an object uploaded between the two is then seen in
        // the backend; the other order could miss it.
        let (staged, deleted) = stagedListing(prefix: prefix, after: after, limit: limit)
        var fromBackend: [ObjectInfo] = []
        var bound: String?  // when the backend page was full: its last key; nothing past it is known
        var cursor = after
        while true {
            let page = try base.list(prefix: prefix, after: cursor, limit: limit)
            let kept = page.filter { !deleted.contains($0.key) }
            fromBackend.append(contentsOf: kept)
            guard page.count == limit, let last = page.last else {
                bound = nil
                break
            }
            bound = last.key
            // A page of nothing but deleted keys must not end the caller's paging.
            if !kept.isEmpty { break }
            cursor = last.key
        }
        var merged: [String: ObjectInfo] = [:]
        for info in fromBackend { merged[info.key] = info }
        for info in staged where bound.map({ !$0.utf8.lexicographicallyPrecedes(info.key.utf8) }) ?? true {
            merged[info.key] = info
        }
        let sorted = merged.values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return Array(sorted.prefix(limit))
    }

    public func sync(_ keys: [String]) throws {
        // Staged objects were fsync'd by their put; the rest went (or were uploaded) to the
        // backend, which makes them durable its way.
        let unstaged = cond.withLock { keys.filter { entries[$0].map { $0.deleted } ?? true } }
        if !unstaged.isEmpty { try base.sync(unstaged) }
    }

    // MARK: - Index lookups

    enum Lookup {
        case absent
        case deleted
        case staged(path: String, info: ObjectInfo)
    }

    func lookup(_ key: String) -> Lookup {
        cond.lock()
        defer { cond.unlock() }
        guard let entry = entries[key] else { return .absent }
        if entry.deleted { return .deleted }
        guard let path = try? staging.path(root: entry.root, key: key) else { return .absent }
        return .staged(path: path, info: ObjectInfo(key: key, size: entry.size, modified: entry.modified))
    }

    /// Staged objects under `prefix` after `after` (up to `limit`, in byte order) and the keys
    /// deleted while their upload is in flight, which the backend may briefly still list.
    private func stagedListing(prefix: String, after: String?, limit: Int) -> ([ObjectInfo], Set<String>) {
        cond.lock()
        defer { cond.unlock() }
        var staged: [ObjectInfo] = []
        var deleted = Set<String>()
        for (key, entry) in entries where key.utf8.starts(with: prefix.utf8) {
            if entry.deleted {
                deleted.insert(key)
                continue
            }
            if let after, !after.utf8.lexicographicallyPrecedes(key.utf8) { continue }
            staged.append(ObjectInfo(key: key, size: entry.size, modified: entry.modified))
        }
        staged.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return (Array(staged.prefix(limit)), deleted)
    }

    var isStopped: Bool { cond.withLock { stopped } }

    /// Objects staged and not yet uploaded (deleted ones whose upload is in flight excluded).
    public var stagedCount: Int { cond.withLock { entries.values.filter { !$0.deleted }.count } }
}

/// Striped locks by key: a few mutexes shared by all keys, so that operations on one key's
/// staging path are serialised without a lock object per key.
final class KeyLocks: Sendable {
    private let locks: [NSLock] = (0..<64).map { _ in NSLock() }

    func withLock<R>(_ key: String, _ body: () throws -> R) rethrows -> R {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable and cheap
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let lock = locks[Int(hash % UInt64(locks.count))]
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
