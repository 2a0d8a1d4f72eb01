/// Appends fixed-width big-endian integers and raw bytes; used for metadata keys (big-endian
/// sorts numerically) and compact binary values.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 32) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public mutating func u8(_ v: UInt8) { append(v) }
    public mutating func u16(_ v: UInt16) { appendInteger(v) }
    public mutating func u32(_ v: UInt32) { appendInteger(v) }
    public mutating func u64(_ v: UInt64) { appendInteger(v) }
    public mutating func i64(_ v: Int64) { appendInteger(UInt64(bitPattern: v)) }
    public mutating func raw(_ v: some Sequence<UInt8>) { bytes.append(contentsOf: v) }
    public mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    @usableFromInline mutating func append(_ v: UInt8) { bytes.append(v) }

    private mutating func appendInteger<T: FixedWidthInteger>(_ v: T) {
        let be = v.bigEndian
        withUnsafeBytes(of: be) { bytes.append(contentsOf: $0) }
    }
}

/// Reads what `ByteWriter` wrote. Reading past the end yields zeros, so a damaged or short
/// record decodes to something checkable rather than trapping; callers validate lengths.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var position: Int = 0

    public init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var remaining: Int { max(0, bytes.count - position) }

    public mutating func u8() -> UInt8 { UInt8(integer(width: 1)) }
    public mutating func u16() -> UInt16 { UInt16(integer(width: 2)) }
    public mutating func u32() -> UInt32 { UInt32(integer(width: 4)) }
    public mutating func u64() -> UInt64 { integer(width: 8) }
    public mutating func i64() -> Int64 { Int64(bitPattern: integer(width: 8)) }

    public mutating func rest() -> ArraySlice<UInt8> {
        defer { position = bytes.count }
        return position < bytes.count ? bytes[position...] : []
    }

    public mutating func take(_ n: Int) -> ArraySlice<UInt8> {
        let end = min(bytes.count, position + n)
        defer { position = end }
        return position < end ? bytes[position..<end] : []
    }

    private mutating func integer(width: Int) -> UInt64 {
        var v: UInt64 = 0
        for _ in 0..<width {
            v <<= 8
            if position < bytes.count { v |= UInt64(bytes[position]) }
            position += 1
        }
        return v
    }
}
