import SluiceBase
import SluiceObject

/// The disk tier of the block cache: an object-store wrapper that keeps copies of objects,
/// as the backend stores them, in the client's cache directories (`--cache-dir`).
///
/// It sits under the codec, so what it keeps is compressed, checksummed and, on an encrypted
/// volume, encrypted: no plaintext of an encrypted volume reaches the local disk. One object
/// (one block) is one cache file; a ranged get of a cached object is a pread of its file, which
/// is what makes small random reads fast once blocks are cached.
///
/// - A whole-object get that misses fetches from the backend and caches the object; a ranged
///   get that misses reads the range from the backend and caches nothing (whole blocks are
///   fetched by sequential readers, prefetch and warmup).
/// - A put stores in the backend, then caches the object (written blocks are often read back
///   soon); a delete drops the cached copy too.
/// - Cache files are written by a background thread per directory from a bounded backlog,
///   dropped when it is full.
/// - A whole get verifies the cache file's own CRC; damage found by the codec in a ranged get is
///   reported through `dropCachedCopy`, and the codec retries from the backend.
/// - Objects are spread over the directories by a hash of the key; each directory gets an equal
///   share of `capacity` and keeps `freeSpaceRatio` of its disk free, evicting (approximate
///   LRU) as needed.
public final class DiskCacheStore: ObjectStore, @unchecked Sendable {
    // @unchecked: `roots` is immutable; each `CacheRoot` locks its own state.
    public let base: any ObjectStore
    public let config: LocalCacheConfig
    private let roots: [String: CacheRoot]

    /// `freeSpace` replaces statvfs (tests); `maxBacklog` bounds the bytes waiting to be written
    /// per directory.
    public init(_ base: any ObjectStore, config: LocalCacheConfig, freeSpace: FreeSpaceProbe? = nil,
                maxBacklog: Int = 64 << 20) {
        precondition(!config.roots.isEmpty, "no cache roots")
        self.base = base
        self.config = config
        let share = config.capacity / Set(config.roots).count
        var roots: [String: CacheRoot] = [:]
        for root in config.roots where roots[root] == nil {
            roots[root] = CacheRoot(directory: config.blocksDirectory(root), capacity: share,
                                    freeSpaceRatio: config.freeSpaceRatio,
                                    probe: freeSpace ?? CacheRoot.statfsProbe, maxBacklog: maxBacklog)
        }
        self.roots = roots
    }

    deinit {
        for root in roots.values { root.stop() }
    }

    public var description: String { base.description }

    /// The directory that holds `key`, or nil for a key the cache does not take.
    private func place(_ key: String) -> (CacheRoot, CacheName)? {
        guard key.utf8.count <= CacheFile.maxKeyLength, let root = roots[config.root(for: key)] else { return nil }
        return (root, CacheName(key: key))
    }

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        guard let (root, name) = place(key) else { return try base.get(key, offset: offset, length: length) }
        let start = monotonicNanoseconds()
        if let data = root.read(key: key, name: name, offset: offset, length: length) {
            OperationStats.cacheHit.record(since: start)
            return data
        }
        OperationStats.cacheMiss.increment()
        let epoch = root.epoch(name)
        let data = try base.get(key, offset: offset, length: length)
        if offset == 0 && length == nil { root.enqueue(key: key, name: name, parts: [data], since: epoch) }
        return data
    }

    public func put(_ key: String, _ data: [UInt8]) throws { try put(key, parts: [data]) }

    /// Passes the parts down unjoined and queues them as they are: the codec's header and the
    /// writer's block buffer are never copied into one array on the way.
    public func put(_ key: String, parts: [[UInt8]]) throws {
        guard let (root, name) = place(key) else { return try base.put(key, parts: parts) }
        // An older copy must not outlive the new object.
        _ = root.remove(name)
        try base.put(key, parts: parts)
        // Not queued (backlog full): a get racing this put may have cached the older object.
        if !root.enqueue(key: key, name: name, parts: parts, since: nil) { _ = root.remove(name) }
    }

    public func head(_ key: String) throws -> ObjectInfo? { try base.head(key) }

    public func delete(_ key: String) throws {
        if let (root, name) = place(key) { _ = root.remove(name) }
        try base.delete(key)
    }

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try base.list(prefix: prefix, after: after, limit: limit)
    }

    public func sync(_ keys: [String]) throws { try base.sync(keys) }

    public func dropCachedCopy(_ key: String) -> Bool {
        let below = base.dropCachedCopy(key)
        guard let (root, name) = place(key) else { return below }
        return root.remove(name) || below
    }

    /// Fetches the object into the cache unless it is there (or queued) already, and writes it
    /// on this thread. False when the cache could not take it (full of other data, out of
    /// service).
    public func warm(_ key: String) throws -> Bool {
        guard let (root, name) = place(key) else { return try base.warm(key) }
        if root.holds(name) { return true }
        let data = try base.get(key, offset: 0, length: nil)
        return root.store(key: key, name: name, data: data)
    }

    // MARK: - State

    /// Waits until every queued cache file is written (tests, and before reporting usage).
    public func waitForWrites() {
        for root in roots.values { root.waitForWrites() }
    }

    /// Waits until the start-up scans have rebuilt the index.
    public func waitForScan() {
        for root in roots.values { root.waitForScan() }
    }

    /// Disk bytes and objects cached, over all directories in service.
    public var usage: (bytes: Int, objects: Int) {
        roots.values.reduce((0, 0)) { sum, root in
            let u = root.usage
            return (sum.0 + u.bytes, sum.1 + u.objects)
        }
    }

    /// The cache directories still in service (`LocalCacheConfig.roots` entries).
    public var rootsInService: [String] {
        config.roots.filter { roots[$0]?.usage.inService == true }
    }

    /// Where the cache file of `key` is (tests damage it).
    public func cacheFilePath(_ key: String) -> String? {
        place(key).map { $0.0.path($0.1) }
    }
}
