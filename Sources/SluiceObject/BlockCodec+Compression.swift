import CLZ4
import CZstd
import SluiceBase

extension BlockCodec {
    /// The compressed bytes, or nil when compression does not make the block smaller.
    static func compress(_ raw: [UInt8], _ compression: Compression) -> [UInt8]? {
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

    /// The `length` raw bytes `packed` (the compressed payload) holds; EIO when it does not.
    static func decompress(_ packed: ArraySlice<UInt8>, codec: UInt8, length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let payload = packed.count
        guard payload > 0 else { throw Errno.ioError }
        let produced: Int = packed.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                let input = src.baseAddress!
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
