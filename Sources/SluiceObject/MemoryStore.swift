import SluiceBase

/// An object store held in process memory, for tests and throwaway volumes. Objects are lost
/// when the store is released; `sync` has nothing to do.
public final class MemoryStore: ObjectStore {
    private let objects = Locked<[String: [UInt8]]>([:])
    private let name: String

    /// A new, empty store; `name` only shows in `description`.
    public init(name: String = "") {
        self.name = name
    }

    public var description: String { "mem://\(name)" }

    /// How many objects the store holds.
    public var count: Int { objects.withLock { $0.count } }

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        guard let data = objects.withLock({ $0[key] }) else { throw Errno.noSuchFileOrDirectory }
        // Slicing happens outside the lock: arrays are values, so the copy we hold is stable.
        let start = min(max(0, offset), data.count)
        let end = length.map { min(data.count, start + max(0, $0)) } ?? data.count
        if start == 0, end == data.count { return data }
        return Array(data[start..<end])
    }

    public func put(_ key: String, _ data: [UInt8]) throws {
        objects.withLock { $0[key] = data }
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        objects.withLock { $0[key] }.map { ObjectInfo(key: key, size: $0.count) }
    }

    public func delete(_ key: String) throws {
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        guard limit > 0 else { return [] }
        let matching: [ObjectInfo] = objects.withLock { all in
            all.compactMap { key, data in
                guard key.utf8.starts(with: prefix.utf8) else { return nil }
                if let after, !after.utf8.lexicographicallyPrecedes(key.utf8) { return nil }
                return ObjectInfo(key: key, size: data.count)
            }
        }
        // Sort by bytes, as every store does, rather than by Swift's Unicode-aware String order.
        let sorted = matching.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return Array(sorted.prefix(limit))
    }

    public func sync(_ keys: [String]) throws {}
}
