import SluiceBase

/// Stores every object in the `BlockCodec` form: compressed if asked, always checksummed.
/// Reads fetch the whole stored object (blocks are read whole anyway), verify and decode it,
/// then cut the asked range; anything damaged is `Errno.ioError`, never wrong bytes.
///
/// `head` reports the raw size (from the header); `list` reports stored sizes, which are what
/// the backend holds.
public final class CodecStore: ObjectStore, TransformingStore {
    public let base: any ObjectStore
    public let compression: Compression

    public init(_ base: any ObjectStore, compression: Compression) {
        self.base = base
        self.compression = compression
    }

    public var description: String { base.description }

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        let raw = try BlockCodec.decode(try base.get(key, offset: 0, length: nil))
        guard offset > 0 || (length != nil && length! < raw.count) else { return raw }
        let start = min(offset, raw.count)
        let end = length.map { min(raw.count, start + $0) } ?? raw.count
        return Array(raw[start..<end])
    }

    public func put(_ key: String, _ data: [UInt8]) throws {
        try base.put(key, BlockCodec.encode(data, compression: compression))
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        guard try base.head(key) != nil else { return nil }
        let header: [UInt8]
        do { header = try base.get(key, offset: 0, length: BlockCodec.headerSize) } catch Errno.noSuchFileOrDirectory { return nil }
        return ObjectInfo(key: key, size: try BlockCodec.rawLength(header))
    }
    public func delete(_ key: String) throws { try base.delete(key) }
    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try base.list(prefix: prefix, after: after, limit: limit)
    }
    public func sync(_ keys: [String]) throws { try base.sync(keys) }
}

/// A store that stores something other than the bytes it is given (compressed, encrypted,
/// framed): its `list` reports the sizes its backend holds, not the sizes that were put.
public protocol TransformingStore {}
