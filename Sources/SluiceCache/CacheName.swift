/// The 128-bit name of a cached object: two independent 64-bit hashes of its key.
///
/// The index holds names, not keys, so its bookkeeping is 16 bytes of name per object whatever
/// the key's length; the cache file is named after it (`<hi>/<32 hex digits>`), so the index
/// can be rebuilt from file names alone. The file also holds the key itself, checked on every
/// read, so even a collision of both hashes can only cost a miss, never another object's bytes.
struct CacheName: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(key: String) {
        // FNV-1a for one half, a multiply-rotate mix for the other; both finished with the
        // SplitMix64 finaliser so that every input bit reaches every output bit.
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x9E37_79B9_7F4A_7C15
        for byte in key.utf8 {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = ((b ^ UInt64(byte)) &* 0xff51_afd7_ed55_8ccd)
            b = (b << 29) | (b >> 35)
        }
        high = Self.finish(a ^ UInt64(key.utf8.count))
        low = Self.finish(b &+ UInt64(key.utf8.count))
    }

    private static func finish(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The file's directory below the blocks directory: 256 buckets by the first byte.
    var bucket: String { Self.hex(high >> 56, digits: 2) }

    /// The file's name: 32 hex digits.
    var fileName: String { Self.hex(high, digits: 16) + Self.hex(low, digits: 16) }

    /// The name a cache file name stands for, or nil for anything else in the directory.
    init?(fileName: String) {
        let utf8 = Array(fileName.utf8)
        guard utf8.count == 32, let high = Self.parseHex(utf8[0..<16]), let low = Self.parseHex(utf8[16..<32]) else {
            return nil
        }
        self.init(high: high, low: low)
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    private static func parseHex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for d in digits {
            let v: UInt8
            switch d {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = d - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = d - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(v)
        }
        return value
    }
}
