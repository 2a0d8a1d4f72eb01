import CLZ4
import CZlib
import CZstd
import SluiceBase

/// How block payloads are compressed.
public enum Compression: String, Sendable, CaseIterable {
    case none, lz4, zstd

    var code: UInt8 {
        switch self {
        case .none: return 0
        case .lz4: return 1
        case .zstd: return 2
        }
    }
}

/// The stored form of every block: a 16-byte header, then the payload.
///
/// ```
/// 0  "SLB" + format version (1)
/// 4  codec: 0 none, 1 lz4, 2 zstd
/// 5  flags: 0, or 1 encrypted; 2 bytes reserved (0)
/// 8  raw length (u32, big-endian)
/// 12 CRC-32: of the raw data (compressed codecs), of the segment table (codec none);
///    0 when encrypted (authentication replaces it, and a CRC would leak the plaintext's)
/// 16 codec none: a CRC-32 per 64 KiB segment of the raw data, then the raw data
///    compressed codecs: the compressed data
///    encrypted: the payload (raw or compressed, no segment table) sealed by `BlockCipher`
/// ```
/// Unencrypted blocks never set a flag, so their form is the same as before encryption existed.
/// Every read verifies checksums, so a damaged, truncated or swapped object is reported (EIO)
/// and never returned. Uncompressed blocks carry a checksum per 64 KiB segment so that a small
/// random read fetches and verifies only the segments it needs. An incompressible block is
/// stored uncompressed, so no block grows by more than the header and its segment table
/// (16 + 4 bytes per 64 KiB: 272 bytes for 4 MiB).
public enum BlockCodec {
    public static let headerSize = 16
    public static let segmentSize = 64 << 10
    /// The longest prefix a ranged read needs before the data: header plus the segment table
    /// of the largest block (16 MiB).
    public static let maxPrefix = headerSize + 4 * ((16 << 20) / segmentSize)
    static let magic: [UInt8] = [0x53, 0x4C, 0x42, 0x01]

    static func segments(_ length: Int) -> Int { (length + segmentSize - 1) / segmentSize }

    /// Where the raw data starts in an uncompressed block of `length` bytes.
    public static func payloadStart(rawLength length: Int) -> Int { headerSize + 4 * segments(length) }

    public static func encode(_ raw: [UInt8], compression: Compression) -> [UInt8] {
        let parts = encodeParts(raw, compression: compression)
        return parts.count == 1 ? parts[0] : Array(parts.joined())
    }

    /// The stored form of `raw` as parts to be stored one after the other: one part when
    /// compressed; for an uncompressed block the header with the segment table, then `raw`
    /// itself (the same array, not a copy: see `ObjectStore.put(_:parts:)`).
    public static func encodeParts(_ raw: [UInt8], compression: Compression) -> [[UInt8]] {
        if compression != .none, raw.count > 64, let packed = compress(raw, compression) {
            var out: [UInt8] = []
            out.reserveCapacity(headerSize + packed.count)
            appendHeader(&out, codec: compression.code, flags: 0, length: raw.count, crc: checksum(raw[...]))
            out.append(contentsOf: packed)
            return [out]
        }
        let table = segmentTable(raw[...])
        var prefix: [UInt8] = []
        prefix.reserveCapacity(headerSize + table.count)
        appendHeader(&prefix, codec: 0, flags: 0, length: raw.count, crc: checksum(table[...]))
        prefix.append(contentsOf: table)
        return [prefix, raw]
    }

    /// What a stored block's header says.
    public struct Header {
        public var codec: UInt8
        public var rawLength: Int
        var crc: UInt32
        public var encrypted: Bool
    }

    public static func header(_ stored: [UInt8]) throws -> Header {
        guard stored.count >= headerSize, Array(stored[0..<4]) == magic else { throw Errno.ioError }
        var r = ByteReader(stored, at: 4)
        let codec = r.u8()
        // The only flag is "encrypted"; reserved bytes are zero: anything else is damage.
        let flags = r.u8()
        guard flags & ~encryptedFlag == 0, r.u16() == 0, codec <= 2 else { throw Errno.ioError }
        let h = Header(codec: codec, rawLength: Int(r.u32()), crc: r.u32(), encrypted: flags == encryptedFlag)
        guard !h.encrypted || h.crc == 0 else { throw Errno.ioError }
        return h
    }

    /// The raw length a stored block's header announces.
    public static func rawLength(_ header: [UInt8]) throws -> Int { try Self.header(header).rawLength }

    /// The raw data of a stored block; `Errno.ioError` when it is damaged in any way.
    /// An encrypted block needs its cipher (`decode(_:cipher:objectKey:)`): here it is EIO.
    public static func decode(_ stored: [UInt8]) throws -> [UInt8] {
        var data = stored
        try decodeInPlace(&data)
        return data
    }

    /// Replaces a stored block by its raw data. An uncompressed block is verified and then
    /// shifted down over its header within the same storage (when `stored` is the only
    /// reference to it): a fresh 4 MiB array per fetched block cost a page fault per page.
    public static func decodeInPlace(_ stored: inout [UInt8]) throws {
        let h = try header(stored)
        guard !h.encrypted else { throw Errno.ioError }
        guard h.codec == 0 else {
            let raw = try decompress(stored[headerSize...], codec: h.codec, length: h.rawLength)
            guard checksum(raw[...]) == h.crc else { throw Errno.ioError }
            stored = raw
            return
        }
        let start = payloadStart(rawLength: h.rawLength)
        guard stored.count == start + h.rawLength else { throw Errno.ioError }
        let table = stored[headerSize..<start]
        guard checksum(table) == h.crc, segmentTable(stored[start...])[...] == table else { throw Errno.ioError }
        stored.removeSubrange(0..<start)
    }

    /// Verifies the segments of an uncompressed block that `data` holds: `data` is the raw data
    /// from segment `first` on (whole segments, the last possibly short at the block's end);
    /// `prefix` holds at least the header and segment table.
    public static func verifySegments(prefix: [UInt8], first: Int, data: ArraySlice<UInt8>) throws {
        let h = try header(prefix)
        guard h.codec == 0, !h.encrypted else { throw Errno.ioError }
        let tableEnd = payloadStart(rawLength: h.rawLength)
        guard prefix.count >= tableEnd else { throw Errno.ioError }
        let table = prefix[headerSize..<tableEnd]
        guard checksum(table) == h.crc else { throw Errno.ioError }
        let crcs = Array(table)
        var at = data.startIndex
        var segment = first
        while at < data.endIndex {
            let expectedLength = min(segmentSize, h.rawLength - segment * segmentSize)
            guard expectedLength > 0, data.endIndex - at >= expectedLength else { throw Errno.ioError }
            var r = ByteReader(crcs, at: 4 * segment)
            guard checksum(data[at..<(at + expectedLength)]) == r.u32() else { throw Errno.ioError }
            at += expectedLength
            segment += 1
        }
    }

    static func segmentTable(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        var w = ByteWriter(capacity: 4 * segments(raw.count))
        var at = raw.startIndex
        while at < raw.endIndex {
            let end = min(raw.endIndex, at + segmentSize)
            w.u32(checksum(raw[at..<end]))
            at = end
        }
        return w.bytes
    }

    static func checksum(_ data: ArraySlice<UInt8>) -> UInt32 {
        data.withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, $0.count)) }
    }

    static func appendHeader(_ out: inout [UInt8], codec: UInt8, flags: UInt8, length: Int, crc: UInt32) {
        var w = ByteWriter(capacity: headerSize)
        w.raw(magic)
        w.u8(codec)
        w.u8(flags)
        w.u16(0)
        w.u32(UInt32(length))
        w.u32(crc)
        out.append(contentsOf: w.bytes)
    }
}
