/// The in-memory index of one cache root: which objects it holds, their disk sizes and how
/// recently each was used.
///
/// Entries live in one dense array (name, size, last use: 24 bytes) and a dictionary from name
/// to position (about 28 bytes with its slack): roughly 50 bytes per cached object, so a
/// million cached blocks cost ~50 MB. Eviction approximates LRU the way Redis does: it looks
/// at a few entries at random and evicts the least recently used of them, which needs no list
/// links and is O(1) per eviction.
struct CacheIndex {
    struct Entry {
        var name: CacheName
        var size: UInt32
        /// The value of `clock` at the last use.
        var used: UInt32
    }

    private var entries: [Entry] = []
    private var positions: [CacheName: Int32] = [:]
    private var clock: UInt32 = 0
    /// Disk bytes of all entries.
    private(set) var bytes = 0

    var count: Int { entries.count }

    func contains(_ name: CacheName) -> Bool { positions[name] != nil }

    /// Marks `name` used; whether it is indexed.
    mutating func touch(_ name: CacheName) -> Bool {
        guard let at = positions[name] else { return false }
        entries[Int(at)].used = tick()
        return true
    }

    /// Adds `name` (or updates its size); returns false when it was indexed already.
    @discardableResult
    mutating func insert(_ name: CacheName, size: Int) -> Bool {
        let now = tick()
        if let at = positions[name] {
            bytes += size - Int(entries[Int(at)].size)
            entries[Int(at)].size = UInt32(size)
            entries[Int(at)].used = now
            return false
        }
        positions[name] = Int32(entries.count)
        entries.append(Entry(name: name, size: UInt32(size), used: now))
        bytes += size
        return true
    }

    /// Adds a name found on disk at mount: as if used before anything used since the mount.
    mutating func insertFound(_ name: CacheName, size: Int) {
        guard positions[name] == nil else { return }
        positions[name] = Int32(entries.count)
        entries.append(Entry(name: name, size: UInt32(size), used: 0))
        bytes += size
    }

    /// Removes `name`; its disk size, or nil when it was not indexed.
    @discardableResult
    mutating func remove(_ name: CacheName) -> Int? {
        guard let at = positions.removeValue(forKey: name) else { return nil }
        let size = Int(entries[Int(at)].size)
        let last = entries.removeLast()
        if Int(at) < entries.count {
            entries[Int(at)] = last
            positions[last.name] = at
        }
        bytes -= size
        return size
    }

    /// Picks and removes the entry to evict: the least recently used of `samples` random ones
    /// (of all of them when there are no more than that: exact LRU for small caches).
    mutating func evictOne(samples: Int = 16) -> (name: CacheName, size: Int)? {
        guard !entries.isEmpty else { return nil }
        var best = 0
        if entries.count <= samples {
            for i in entries.indices where entries[i].used < entries[best].used { best = i }
        } else {
            best = Int.random(in: 0..<entries.count)
            for _ in 1..<samples {
                let candidate = Int.random(in: 0..<entries.count)
                if entries[candidate].used < entries[best].used { best = candidate }
            }
        }
        let name = entries[best].name
        return (name, remove(name)!)
    }

    mutating func removeAll() {
        entries = []
        positions = [:]
        bytes = 0
    }

    /// The next use time. Before the clock would overflow, every entry's time is halved
    /// (their order survives, roughly), which happens once per two billion uses.
    private mutating func tick() -> UInt32 {
        if clock == UInt32.max {
            for i in entries.indices { entries[i].used /= 2 }
            clock /= 2
        }
        clock += 1
        return clock
    }
}
