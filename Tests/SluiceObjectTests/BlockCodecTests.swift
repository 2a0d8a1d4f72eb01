import SluiceBase
import SluiceObject
import SluiceTestSupport
import XCTest

final class BlockCodecTests: XCTestCase {
    private func compressible(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(($0 / 100) % 7) } }
    private func random(_ n: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    func testRoundTripsWithEveryCompression() throws {
        for c in Compression.allCases {
            for data in [[], [1, 2, 3], compressible(4 << 20), random(100_000)] as [[UInt8]] {
                let stored = BlockCodec.encode(data, compression: c)
                XCTAssertEqual(try BlockCodec.decode(stored), data, "\(c) \(data.count)")
                XCTAssertLessThanOrEqual(stored.count, BlockCodec.payloadStart(rawLength: data.count) + data.count,
                                         "never grows past the header and segment table")
            }
            if c != .none {
                XCTAssertLessThan(BlockCodec.encode(compressible(1 << 20), compression: c).count, 100_000, "\(c) compresses")
            }
        }
    }

    func testDamageIsAnIOErrorNeverWrongBytes() throws {
        for c in Compression.allCases {
            let data = compressible(200_000)
            let stored = BlockCodec.encode(data, compression: c)
            for position in [0, 5, 9, 13, BlockCodec.headerSize, stored.count / 2, stored.count - 1] {
                var bad = stored
                bad[position] ^= 0x40
                XCTAssertThrowsError(try BlockCodec.decode(bad), "\(c) flip at \(position)") { XCTAssertEqual($0 as? Errno, .ioError) }
            }
            XCTAssertThrowsError(try BlockCodec.decode(Array(stored.dropLast(1)))) { XCTAssertEqual($0 as? Errno, .ioError) }
            XCTAssertThrowsError(try BlockCodec.decode(Array(stored.prefix(10)))) { XCTAssertEqual($0 as? Errno, .ioError) }
            // Another block's object under this key (a swap) fails its checksum or length.
            let other = BlockCodec.encode(random(200_000), compression: c)
            XCTAssertNotEqual(try? BlockCodec.decode(other), data)
        }
    }

    func testRangesFetchAndVerifyOnlyTheirSegments() throws {
        let backend = MemoryStore()
        let store = CodecStore(backend, compression: .none)
        let data = random(4 << 20)
        try store.put("b", data)
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let offset = Int.random(in: 0..<data.count, using: &g)
            let length = Int.random(in: 1...300_000, using: &g)
            let end = min(data.count, offset + length)
            XCTAssertEqual(try store.get("b", offset: offset, length: length), Array(data[offset..<end]))
        }
        XCTAssertEqual(try store.get("b", offset: data.count, length: 5), [])
        // Damage in one segment: reads of that segment fail, reads elsewhere still succeed.
        var stored = try backend.get("b", offset: 0, length: nil)
        let payload = BlockCodec.payloadStart(rawLength: data.count)
        stored[payload + 3 * BlockCodec.segmentSize + 10] ^= 1
        try backend.put("b", stored)
        XCTAssertThrowsError(try store.get("b", offset: 3 * BlockCodec.segmentSize + 5000, length: 4096)) {
            XCTAssertEqual($0 as? Errno, .ioError)
        }
        XCTAssertEqual(try store.get("b", offset: 100, length: 4096), Array(data[100..<4196]))
        XCTAssertThrowsError(try store.get("b", offset: 0, length: nil)) { XCTAssertEqual($0 as? Errno, .ioError) }
        // Damage in the segment table is caught by the table's own checksum.
        var table = try backend.get("b", offset: 0, length: nil)
        table[stored.count - stored.count + BlockCodec.headerSize + 8] ^= 1
        try backend.put("b", table)
        XCTAssertThrowsError(try store.get("b", offset: 100, length: 10)) { XCTAssertEqual($0 as? Errno, .ioError) }
    }

    func testCodecStorePassesTheConformanceSuiteAndCatchesTampering() throws {
        for c in Compression.allCases {
            let backend = MemoryStore()
            ObjectStoreConformance.runAll(on: CodecStore(backend, compression: c))
            let store = CodecStore(backend, compression: c)
            try store.put("k", compressible(50_000))
            XCTAssertEqual(try store.get("k", offset: 100, length: 10), Array(compressible(50_000)[100..<110]))
            var stored = try backend.get("k", offset: 0, length: nil)
            stored[stored.count - 3] ^= 1
            try backend.put("k", stored)
            XCTAssertThrowsError(try store.get("k", offset: 0, length: nil)) { XCTAssertEqual($0 as? Errno, .ioError) }
        }
    }

    func testPartsAreTheEncodingAndFilesGetThemUncopied() throws {
        for c in Compression.allCases {
            for data in [[], [7], compressible(1 << 20), random(300_000)] as [[UInt8]] {
                let parts = BlockCodec.encodeParts(data, compression: c)
                XCTAssertEqual(Array(parts.joined()), BlockCodec.encode(data, compression: c), "\(c) \(data.count)")
            }
        }
        // An uncompressed block is the header and table, then the caller's array itself.
        let raw = random(200_000)
        let parts = BlockCodec.encodeParts(raw, compression: .none)
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[1], raw)
        // A file store writes the parts one after the other: the file is the whole encoding.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parts-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let local = LocalStore(root: dir)
        let store = CodecStore(local, compression: .none)
        try store.put("v/k", raw)
        XCTAssertEqual(try local.get("v/k", offset: 0, length: nil), BlockCodec.encode(raw, compression: .none))
        XCTAssertEqual(try store.get("v/k", offset: 0, length: nil), raw)
        XCTAssertEqual(try store.get("v/k", offset: 70_000, length: 5), Array(raw[70_000..<70_005]))
    }
}
