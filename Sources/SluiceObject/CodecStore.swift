import SluiceBase

/// Stores every object in the `BlockCodec` form: compressed if asked, always checksummed, and
/// with a `BlockCipher` encrypted and authenticated. A whole read fetches, verifies and decodes
/// the whole object; a range of an uncompressed, unencrypted block fetches and verifies only
/// the segments it touches (encrypted blocks are always read whole: GCM authenticates the
/// whole payload). Anything damaged is `Errno.ioError`, never wrong bytes.
///
/// `head` reports the raw size (from the header); `list` reports stored sizes, which are what
/// the backend holds.
public final class CodecStore: ObjectStore, TransformingStore {
    public let base: any ObjectStore
    public let compression: Compression
    /// Set for an encrypted volume: every block is sealed, and only sealed blocks are read.
    public let cipher: BlockCipher?

    public init(_ base: any ObjectStore, compression: Compression, cipher: BlockCipher? = nil) {
        self.base = base
        self.compression = compression
        self.cipher = cipher
    }

    public var description: String { base.description }

    /// False when a range costs a whole-block fetch and decode anyway (encrypted volumes):
    /// readers then rather fetch and cache whole blocks.
    public var readsRangesCheaply: Bool { cipher == nil }

    /// A local cache below may hold a damaged copy: what fails verification is reported to it
    /// (`dropCachedCopy`), and when it had a copy the read is tried once more, from the
    /// backend. Damage in a cache is never an error while the backend's copy is good.
    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        do {
            return try verifiedGet(key, offset: offset, length: length)
        } catch Errno.ioError where base.dropCachedCopy(key) {
            return try verifiedGet(key, offset: offset, length: length)
        }
    }

    private func verifiedGet(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        if cipher == nil, offset > 0 || length != nil, let part = try getRange(key, offset: offset, length: length) {
            return part
        }
        var raw = try base.get(key, offset: 0, length: nil)
        if let cipher {
            raw = try BlockCodec.decode(raw, cipher: cipher, objectKey: key)
        } else {
            try BlockCodec.decodeInPlace(&raw)
        }
        guard offset > 0 || (length != nil && length! < raw.count) else { return raw }
        let start = min(offset, raw.count)
        let end = length.map { min(raw.count, start + $0) } ?? raw.count
        return Array(raw[start..<end])
    }

    /// A range of an uncompressed block, fetching and verifying only the 64 KiB segments it
    /// touches: one get for the header and segment table, one for the segments (one in all
    /// when they lie near the start). Nil when the block is compressed (it must be read whole).
    private func getRange(_ key: String, offset: Int, length: Int?) throws -> [UInt8]? {
        let prefix = try base.get(key, offset: 0, length: BlockCodec.maxPrefix)
        let header = try BlockCodec.header(prefix)
        guard header.codec == 0, !header.encrypted else { return nil }
        let raw = header.rawLength
        let start = min(offset, raw)
        let end = length.map { min(raw, start + $0) } ?? raw
        guard start < end else { return [] }
        let segment = BlockCodec.segmentSize
        let first = start / segment
        let alignedStart = first * segment
        let alignedEnd = min(raw, (end + segment - 1) / segment * segment)
        let payload = BlockCodec.payloadStart(rawLength: raw)
        let data: ArraySlice<UInt8>
        if payload + alignedEnd <= prefix.count {
            data = prefix[(payload + alignedStart)..<(payload + alignedEnd)]
        } else {
            let fetched = try base.get(key, offset: payload + alignedStart, length: alignedEnd - alignedStart)
            guard fetched.count == alignedEnd - alignedStart else { throw Errno.ioError }
            data = fetched[...]
        }
        try BlockCodec.verifySegments(prefix: prefix, first: first, data: data)
        let from = data.startIndex + (start - alignedStart)
        return Array(data[from..<(from + end - start)])
    }

    public func put(_ key: String, _ data: [UInt8]) throws {
        if let cipher {
            try base.put(key, BlockCodec.encode(data, compression: compression, cipher: cipher, objectKey: key))
        } else {
            try base.put(key, parts: BlockCodec.encodeParts(data, compression: compression))
        }
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
    public func dropCachedCopy(_ key: String) -> Bool { base.dropCachedCopy(key) }
    public func warm(_ key: String) throws -> Bool { try base.warm(key) }
}

/// A store that stores something other than the bytes it is given (compressed, encrypted,
/// framed): its `list` reports the sizes its backend holds, not the sizes that were put.
public protocol TransformingStore {}
