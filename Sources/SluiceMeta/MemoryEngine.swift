import SluiceBase

/// An in-process engine for unit tests and throwaway volumes (`memory://`). Nothing survives
/// the process.
///
/// One lock is held for the whole of every transaction, so transactions are serial: a read
/// trivially sees one consistent state and writers can never conflict. Write transactions
/// buffer their changes and apply them only when the body returns, so a throwing body leaves
/// no trace. A body must not start another transaction on the same engine (it would wait for
/// the lock it is holding).
public final class MemoryEngine: KVEngine {
    public var scheme: String { "memory" }

    private let store = Locked(MemoryStore())

    /// An empty engine.
    public init() {}

    // The KVEngine requirements below are documented on the protocol; see the type's
    // documentation for how this engine meets them.

    public func read<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try store.withLock { store in
            let tx = MemoryTransaction(store: store, writable: false)
            defer { tx.finish() }
            return try body(tx)
        }
    }

    public func write<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try store.withLock { store in
            let tx = MemoryTransaction(store: store, writable: true)
            defer { tx.finish() }
            let result = try body(tx)
            // Only reached when the body succeeded: publish the buffered changes.
            tx.apply()
            return result
        }
    }

    public func reset() throws {
        store.withLock { $0.removeAll() }
    }

    public func close() {}

    /// The number of keys stored (for tests).
    public var count: Int { store.withLock { $0.keys.count } }
}

/// The committed state: a sorted key array for ordered scans plus a dictionary for point
/// reads. Only touched while `MemoryEngine.store`'s lock is held.
final class MemoryStore {
    private(set) var keys: [[UInt8]] = []
    private(set) var values: [[UInt8]: [UInt8]] = [:]

    func get(_ key: [UInt8]) -> [UInt8]? { values[key] }

    func set(_ key: [UInt8], _ value: [UInt8]) {
        if values.updateValue(value, forKey: key) == nil {
            keys.insert(key, at: lowerBound(key))
        }
    }

    func delete(_ key: [UInt8]) {
        if values.removeValue(forKey: key) != nil {
            keys.remove(at: lowerBound(key))
        }
    }

    func removeAll() {
        keys.removeAll()
        values.removeAll()
    }

    /// The index of the first key not less than `key` (binary search).
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0
        var high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if KeyBytes.compare(keys[mid], key) < 0 { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// A transaction over a `MemoryStore`, valid only inside the engine call that created it.
final class MemoryTransaction: KVTransaction {
    private let store: MemoryStore
    private let writable: Bool
    /// Changes not yet applied: a value to set, or nil for a deletion.
    private var pending = WriteOverlay()
    private var finished = false

    init(store: MemoryStore, writable: Bool) {
        self.store = store
        self.writable = writable
    }

    func finish() { finished = true }

    func apply() {
        for (key, value) in pending.changes {
            if let value { store.set(key, value) } else { store.delete(key) }
        }
        pending = WriteOverlay()
    }

    private func checkUsable(writing: Bool) throws {
        // A transaction that escaped its body would otherwise touch the store without the lock.
        if finished { throw EngineError("memory engine: transaction used after it ended") }
        if writing && !writable { throw EngineError("memory engine: write in a read transaction") }
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try checkUsable(writing: false)
        if let change = pending[key] { return change }
        return store.get(key)
    }

    func set(_ key: [UInt8], _ value: [UInt8]) throws {
        try checkUsable(writing: true)
        pending.set(key, value)
    }

    func delete(_ key: [UInt8]) throws {
        try checkUsable(writing: true)
        pending.delete(key)
    }

    func scan(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> [KVPair] {
        try checkUsable(writing: false)
        guard limit > 0 else { return [] }
        let start = KeyBytes.scanStart(prefix: prefix, after: after)
        let end = KeyBytes.prefixEnd(prefix)
        // Merge the committed keys with this transaction's own changes, which win on equal keys.
        let base = store.keys[store.lowerBound(start)...].lazy.prefix { KeyBytes.inScan($0, start: start, end: end) }
        return pending.merge(base: base, mine: pending.keys(from: start, to: end), limit: limit) { store.get($0) }
    }
}
