import SluiceBase

/// A bounded in-memory cache of whole blocks by object key, evicting the least recently used
/// block once the bytes held pass the budget. Safe to use from any thread; blocks are immutable
/// objects, so a cached copy never goes stale (only `remove` when a slice is deleted).
public final class BlockCache: Sendable {
    /// The byte budget.
    public let capacity: Int
    private let state: Locked<LRU>

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
        state = Locked(LRU())
    }

    /// The cached block, marking it most recently used.
    public func get(_ key: String) -> [UInt8]? {
        state.withLock { $0.get(key) }
    }

    /// Whether the block is cached, without changing its place in the order.
    public func contains(_ key: String) -> Bool {
        state.withLock { $0.index[key] != nil }
    }

    /// Caches a block (replacing any under the same key), evicting old blocks to stay within the
    /// budget. A block larger than the whole budget is not cached.
    public func insert(_ key: String, _ data: [UInt8]) {
        guard data.count <= capacity else { return }
        // Evicted arrays are released after the lock is dropped, so freeing memory does not
        // lengthen the critical section.
        let evicted: [[UInt8]] = state.withLock { lru in
            lru.insert(key, data)
            var out: [[UInt8]] = []
            while lru.bytes > capacity, let old = lru.removeOldest() { out.append(old) }
            return out
        }
        _ = evicted
    }

    /// Drops a block if cached.
    public func remove(_ key: String) {
        let old = state.withLock { $0.remove(key) }
        _ = old
    }

    /// Bytes of all cached blocks.
    public var usedBytes: Int { state.withLock { $0.bytes } }

    /// Number of cached blocks.
    public var count: Int { state.withLock { $0.index.count } }
}

/// The cache's bookkeeping: a doubly linked list threaded through an array of nodes (free slots
/// reused), most recent at the head, plus a key index. No per-entry objects, O(1) operations.
struct LRU {
    struct Node {
        var key: String
        var data: [UInt8]
        var prev: Int
        var next: Int
    }

    var nodes: [Node] = []
    var free: [Int] = []
    var index: [String: Int] = [:]
    var head = -1
    var tail = -1
    var bytes = 0

    mutating func get(_ key: String) -> [UInt8]? {
        guard let i = index[key] else { return nil }
        unlink(i)
        linkAtHead(i)
        return nodes[i].data
    }

    mutating func insert(_ key: String, _ data: [UInt8]) {
        if let i = index[key] {
            bytes += data.count - nodes[i].data.count
            nodes[i].data = data
            unlink(i)
            linkAtHead(i)
            return
        }
        let node = Node(key: key, data: data, prev: -1, next: -1)
        let i: Int
        if let slot = free.popLast() {
            nodes[slot] = node
            i = slot
        } else {
            nodes.append(node)
            i = nodes.count - 1
        }
        index[key] = i
        bytes += data.count
        linkAtHead(i)
    }

    mutating func remove(_ key: String) -> [UInt8]? {
        guard let i = index.removeValue(forKey: key) else { return nil }
        return release(i)
    }

    mutating func removeOldest() -> [UInt8]? {
        guard tail >= 0 else { return nil }
        index.removeValue(forKey: nodes[tail].key)
        return release(tail)
    }

    private mutating func release(_ i: Int) -> [UInt8] {
        unlink(i)
        let data = nodes[i].data
        bytes -= data.count
        nodes[i].data = []
        nodes[i].key = ""
        free.append(i)
        return data
    }

    private mutating func unlink(_ i: Int) {
        let p = nodes[i].prev, n = nodes[i].next
        if p >= 0 { nodes[p].next = n } else { head = n }
        if n >= 0 { nodes[n].prev = p } else { tail = p }
        nodes[i].prev = -1
        nodes[i].next = -1
    }

    private mutating func linkAtHead(_ i: Int) {
        nodes[i].next = head
        nodes[i].prev = -1
        if head >= 0 { nodes[head].prev = i }
        head = i
        if tail < 0 { tail = i }
    }
}
