import SluiceBase

/// Wraps an engine to count its transactions and their latency in `OperationStats`.
public final class InstrumentedEngine: KVEngine {
    public let base: any KVEngine
    public init(_ base: any KVEngine) { self.base = base }

    public var scheme: String { base.scheme }

    public func read<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try OperationStats.metaRead.time { try base.read(body) }
    }

    public func write<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try OperationStats.metaWrite.time { try base.write(body) }
    }

    public func reset() throws { try base.reset() }
    public func sync() throws { try base.sync() }
    public func close() { base.close() }
}
