import SluiceBase

extension BlockCodec {
    /// The header flag of an encrypted block.
    static let encryptedFlag: UInt8 = 1

    /// The stored form of `raw` for an encrypted volume: the header (flag 1, no CRC), then the
    /// payload (compressed when asked and smaller, raw otherwise) sealed by `cipher`, bound to
    /// `objectKey`. Overhead over the payload: 16 (header) + 2 + wrapped key (256 bytes for
    /// RSA-2048) + 12 (nonce) + 16 (tag).
    public static func encode(_ raw: [UInt8], compression: Compression, cipher: BlockCipher,
                              objectKey: String) throws -> [UInt8] {
        var codec: UInt8 = 0
        var payload = raw
        if compression != .none, raw.count > 64, let packed = compress(raw, compression) {
            codec = compression.code
            payload = packed
        }
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + 2 + 512 + BlockCipher.nonceSize + payload.count + BlockCipher.tagSize)
        appendHeader(&out, codec: codec, flags: encryptedFlag, length: raw.count, crc: 0)
        let header = Array(out[0..<headerSize])  // a copy: `out` stays uniquely owned while it grows
        try cipher.seal(payload, header: header[...], objectKey: objectKey, into: &out)
        return out
    }

    /// The raw data of a block of an encrypted volume; `Errno.ioError` when it is damaged, was
    /// moved from another key, was sealed for another volume key, or is not encrypted at all
    /// (an encrypted volume holds sealed blocks only: a plain one in its place is an attack or
    /// damage, never data).
    public static func decode(_ stored: [UInt8], cipher: BlockCipher, objectKey: String) throws -> [UInt8] {
        let h = try header(stored)
        guard h.encrypted else { throw Errno.ioError }
        let payload = try cipher.open(stored[headerSize...], header: stored[0..<headerSize], objectKey: objectKey)
        guard h.codec != 0 else {
            guard payload.count == h.rawLength else { throw Errno.ioError }
            return payload
        }
        return try decompress(payload[...], codec: h.codec, length: h.rawLength)
    }
}
