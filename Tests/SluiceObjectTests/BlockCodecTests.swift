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
                XCTAssertLessThanOrEqual(stored.count, data.count + BlockCodec.headerSize, "never grows past the header")
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
}
