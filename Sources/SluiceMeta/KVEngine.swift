import SluiceBase

/// One key-value pair read from an engine.
public struct KVPair: Sendable, Hashable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// The operations available inside one transaction. Keys are compared as unsigned bytes
/// (memcmp order). A transaction sees its own writes.
public protocol KVTransaction: AnyObject {
    /// The value of `key`, or nil when absent.
    func get(_ key: [UInt8]) throws -> [UInt8]?
    /// Values of several keys at once, in the same order (nil where absent).
    func get(many keys: [[UInt8]]) throws -> [[UInt8]?]
    /// Creates or replaces `key`.
    func set(_ key: [UInt8], _ value: [UInt8]) throws
    /// Removes `key`; removing an absent key is not an error.
    func delete(_ key: [UInt8]) throws
    /// Up to `limit` pairs whose keys start with `prefix` and sort strictly after `after`
    /// (or from the start of the prefix when nil), in ascending key order.
    func scan(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> [KVPair]
    /// A hint that the body is about to `get` these keys: an engine whose reads are round trips
    /// to a server reads them all in one and answers the gets that follow from what it read.
    /// Changes nothing that the transaction sees.
    func prefetch(_ keys: [[UInt8]]) throws
}

extension KVTransaction {
    /// Local engines read cheaply one key at a time: nothing to do ahead.
    public func prefetch(_ keys: [[UInt8]]) throws {}

    public func get(many keys: [[UInt8]]) throws -> [[UInt8]?] {
        try keys.map { try get($0) }
    }

    /// Adds `delta` to the big-endian 64-bit signed counter stored at `key` (absent reads as 0) and
    /// returns the new value.
    @discardableResult
    public func increment(_ key: [UInt8], by delta: Int64) throws -> Int64 {
        let current = try counter(key)
        let next = current &+ delta
        var w = ByteWriter(capacity: 8)
        w.u64(UInt64(bitPattern: next))
        try set(key, w.bytes)
        return next
    }

    /// Reads the counter at `key` (absent reads as 0).
    public func counter(_ key: [UInt8]) throws -> Int64 {
        try get(key).map { bytes -> Int64 in
            var r = ByteReader(bytes)
            return r.i64()
        } ?? 0
    }
}

/// A transactional, ordered key-value engine: the small interface every metadata engine
/// (SQLite, Redis, PostgreSQL, memory) implements. All POSIX logic lives above it, in
/// `MetaClient`, written once.
///
/// `write` may run `body` more than once when the engine detects a conflict with another
/// client; `body` must therefore have no effects outside the transaction. Errors thrown by
/// `body` abort the transaction and propagate unchanged.
public protocol KVEngine: AnyObject, Sendable {
    /// The URL scheme this engine serves, e.g. `sqlite3`.
    var scheme: String { get }
    /// Runs `body` in a read-only transaction that sees one consistent snapshot.
    func read<T>(_ body: (any KVTransaction) throws -> T) throws -> T
    /// Runs `body` in a read-write transaction, atomically, retrying on conflicts.
    func write<T>(_ body: (any KVTransaction) throws -> T) throws -> T
    /// Removes every key (used by `format --force` and by tests).
    func reset() throws
    /// Makes every committed transaction durable (survives power loss) before returning.
    func sync() throws
    /// Releases connections. The engine must not be used afterwards.
    func close()
}

extension KVEngine {
    /// Engines whose commits are already durable (or that keep nothing, like memory) have
    /// nothing to do.
    public func sync() throws {}
}
