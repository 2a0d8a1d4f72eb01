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
/// 5  flags (0), 2 bytes reserved
/// 8  raw length (u32, big-endian)
/// 12 CRC-32 of the raw data (u32, big-endian)
/// 16 payload
/// ```
/// The checksum is verified on every read, so a damaged, truncated or swapped object is
/// reported (EIO) and never returned. An incompressible block is stored raw, so no block grows
/// by more than the header.
public enum BlockCodec {
    public static let headerSize = 16
    static let magic: [UInt8] = [0x53, 0x4C, 0x42, 0x01]

    public static func encode(_ raw: [UInt8], compression: Compression) -> [UInt8] {
        let crc = checksum(raw)
        var out: [UInt8] = []
        var codec: UInt8 = 0
        if compression != .none, raw.count > 64, let packed = compress(raw, compression) {
            codec = compression.code
            out.reserveCapacity(headerSize + packed.count)
            appendHeader(&out, codec: codec, length: raw.count, crc: crc)
            out.append(contentsOf: packed)
            return out
        }
        out.reserveCapacity(headerSize + raw.count)
        appendHeader(&out, codec: codec, length: raw.count, crc: crc)
        out.append(contentsOf: raw)
        return out
    }

    /// The raw data of a stored block; `Errno.ioError` when it is damaged in any way.
    public static func decode(_ stored: [UInt8]) throws -> [UInt8] {
        guard stored.count >= headerSize, Array(stored[0..<4]) == magic else { throw Errno.ioError }
        var r = ByteReader(stored, at: 4)
        let codec = r.u8()
        // Flags and reserved bytes are zero in format 1: anything else is damage.
        guard r.u8() == 0, r.u16() == 0 else { throw Errno.ioError }
        let length = Int(r.u32())
        let crc = r.u32()
        let raw: [UInt8]
        switch codec {
        case 0:
            guard stored.count - headerSize == length else { throw Errno.ioError }
            raw = Array(stored[headerSize...])
        case 1, 2:
            raw = try decompress(stored, codec: codec, length: length)
        default:
            throw Errno.ioError
        }
        guard checksum(raw) == crc else { throw Errno.ioError }
        return raw
    }

    /// The raw length a stored block's header announces.
    public static func rawLength(_ header: [UInt8]) throws -> Int {
        guard header.count >= headerSize, Array(header[0..<4]) == magic else { throw Errno.ioError }
        var r = ByteReader(header, at: 8)
        return Int(r.u32())
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, $0.count)) }
    }

    private static func appendHeader(_ out: inout [UInt8], codec: UInt8, length: Int, crc: UInt32) {
        var w = ByteWriter(capacity: headerSize)
        w.raw(magic)
        w.u8(codec)
        w.u8(0)
        w.u16(0)
        w.u32(UInt32(length))
        w.u32(crc)
        out.append(contentsOf: w.bytes)
    }

    /// The compressed bytes, or nil when compression does not make the block smaller.
    private static func compress(_ raw: [UInt8], _ compression: Compression) -> [UInt8]? {
        raw.withUnsafeBytes { src -> [UInt8]? in
            switch compression {
            case .none:
                return nil
            case .lz4:
                let bound = Int(LZ4_compressBound(Int32(raw.count)))
                var out = [UInt8](repeating: 0, count: bound)
                let n = out.withUnsafeMutableBytes {
                    LZ4_compress_default(src.baseAddress, $0.baseAddress, Int32(raw.count), Int32(bound))
                }
                guard n > 0, Int(n) < raw.count else { return nil }
                out.removeLast(bound - Int(n))
                return out
            case .zstd:
                let bound = ZSTD_compressBound(raw.count)
                var out = [UInt8](repeating: 0, count: bound)
                let n = out.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, bound, src.baseAddress, raw.count, 1) }
                guard ZSTD_isError(n) == 0, n < raw.count else { return nil }
                out.removeLast(bound - n)
                return out
            }
        }
    }

    private static func decompress(_ stored: [UInt8], codec: UInt8, length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let payload = stored.count - headerSize
        let produced: Int = stored.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                let input = src.baseAddress! + headerSize
                if codec == 1 {
                    return Int(LZ4_decompress_safe(input, dst.baseAddress, Int32(payload), Int32(length)))
                }
                let n = ZSTD_decompress(dst.baseAddress, length, input, payload)
                return ZSTD_isError(n) != 0 ? -1 : n
            }
        }
        guard produced == length else { throw Errno.ioError }
        return out
    }
}
