import SluiceBase

/// Wraps a store to count its calls and their latency in `OperationStats`.
public final class InstrumentedStore: ObjectStore {
    public let base: any ObjectStore
    public init(_ base: any ObjectStore) { self.base = base }

    public var description: String { base.description }

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        try OperationStats.objectGet.time { try base.get(key, offset: offset, length: length) }
    }

    public func put(_ key: String, _ data: [UInt8]) throws {
        try OperationStats.objectPut.time { try base.put(key, data) }
    }

    public func put(_ key: String, parts: [[UInt8]]) throws {
        try OperationStats.objectPut.time { try base.put(key, parts: parts) }
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        try OperationStats.objectHead.time { try base.head(key) }
    }

    public func delete(_ key: String) throws {
        try OperationStats.objectDelete.time { try base.delete(key) }
    }

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try OperationStats.objectList.time { try base.list(prefix: prefix, after: after, limit: limit) }
    }

    public func sync(_ keys: [String]) throws { try base.sync(keys) }
    public func dropCachedCopy(_ key: String) -> Bool { base.dropCachedCopy(key) }
    public func warm(_ key: String) throws -> Bool { try base.warm(key) }
}
