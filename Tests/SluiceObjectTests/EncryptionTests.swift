import SluiceBase
import SluiceObject
import SluiceTestSupport
import XCTest
import _CryptoExtras

final class EncryptionTests: XCTestCase {
    // Key generation takes a while: two keys serve every test.
    nonisolated(unsafe) static let key = try! _RSA.Encryption.PrivateKey(keySize: .bits2048)
    nonisolated(unsafe) static let otherKey = try! _RSA.Encryption.PrivateKey(keySize: .bits2048)

    private func cipher(_ key: _RSA.Encryption.PrivateKey = key, publicOnly: Bool = false) -> BlockCipher {
        BlockCipher(publicKey: key.publicKey, privateKey: publicOnly ? nil : key)
    }
    private func compressible(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(($0 / 100) % 7) } }
    private func random(_ n: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }
    private func assertIOError(_ body: @autoclosure () throws -> [UInt8], _ message: String = "",
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) {
            XCTAssertEqual($0 as? Errno, .ioError, message, file: file, line: line)
        }
    }

    func testRoundTripsWithEveryCompressionAndHidesThePlaintext() throws {
        let marker = Array("the plaintext marker that must not be stored".utf8)
        for c in Compression.allCases {
            let backend = MemoryStore()
            let store = CodecStore(backend, compression: c, cipher: cipher())
            let text = (0..<2000).flatMap { _ in marker }
            for (i, data) in ([[], [1, 2, 3], compressible(4 << 20), random(200_000), text] as [[UInt8]]).enumerated() {
                try store.put("b\(i)", data)
                XCTAssertEqual(try store.get("b\(i)", offset: 0, length: nil), data, "\(c) \(data.count)")
                XCTAssertEqual(try store.head("b\(i)")?.size, data.count)
                if data.count > 1000 {
                    XCTAssertEqual(try store.get("b\(i)", offset: 500, length: 300), Array(data[500..<800]), "ranges read whole")
                }
            }
            let stored = try backend.get("b4", offset: 0, length: nil)
            XCTAssertNil(stored.firstRange(of: marker), "\(c): plaintext in the stored object")
            XCTAssertEqual(stored[5], 1, "encrypted flag")
            if c != .none {
                XCTAssertLessThan(try backend.get("b2", offset: 0, length: nil).count, 100_000, "\(c) compresses before sealing")
            }
        }
    }

    func testPassesTheConformanceSuite() {
        for c in Compression.allCases {
            ObjectStoreConformance.runAll(on: CodecStore(MemoryStore(), compression: c, cipher: cipher()))
        }
    }

    func testTamperingWithAnyByteIsAnIOError() throws {
        for c in [Compression.none, .zstd] {
            let backend = MemoryStore()
            let store = CodecStore(backend, compression: c, cipher: cipher())
            let data = compressible(3000)
            try store.put("k", data)
            let stored = try backend.get("k", offset: 0, length: nil)
            for position in 0..<stored.count {
                var bad = stored
                bad[position] ^= 0x01
                try backend.put("k", bad)
                assertIOError(try store.get("k", offset: 0, length: nil), "\(c) flip at \(position)")
            }
            for cut in [1, 16, stored.count - 10] {
                try backend.put("k", Array(stored.prefix(stored.count - cut)))
                assertIOError(try store.get("k", offset: 0, length: nil), "\(c) truncated by \(cut)")
            }
            try backend.put("k", stored + [0])
            assertIOError(try store.get("k", offset: 0, length: nil), "\(c) extended")
            try backend.put("k", stored)
            XCTAssertEqual(try store.get("k", offset: 0, length: nil), data, "intact again")
        }
    }

    func testASwappedObjectIsAnIOError() throws {
        let backend = MemoryStore()
        let store = CodecStore(backend, compression: .none, cipher: cipher())
        let a = random(10_000), b = random(10_000)
        try store.put("vol/chunks/0/0/1_0_10000", a)
        try store.put("vol/chunks/0/0/2_0_10000", b)
        // The same volume key sealed both; only the object key in the associated data differs.
        try backend.put("vol/chunks/0/0/1_0_10000", try backend.get("vol/chunks/0/0/2_0_10000", offset: 0, length: nil))
        assertIOError(try store.get("vol/chunks/0/0/1_0_10000", offset: 0, length: nil))
        XCTAssertEqual(try store.get("vol/chunks/0/0/2_0_10000", offset: 0, length: nil), b)
    }

    func testAWrongKeyOrNoKeyIsAnIOError() throws {
        let backend = MemoryStore()
        try CodecStore(backend, compression: .lz4, cipher: cipher()).put("k", compressible(100_000))
        assertIOError(try CodecStore(backend, compression: .lz4, cipher: cipher(Self.otherKey)).get("k", offset: 0, length: nil))
        // The public key alone seals but cannot open.
        let sealOnly = CodecStore(backend, compression: .lz4, cipher: cipher(publicOnly: true))
        XCTAssertFalse(sealOnly.cipher!.canOpen)
        try sealOnly.put("k2", [1, 2, 3])
        assertIOError(try sealOnly.get("k2", offset: 0, length: nil))
        XCTAssertEqual(try CodecStore(backend, compression: .lz4, cipher: cipher()).get("k2", offset: 0, length: nil), [1, 2, 3])
        // No cipher at all: an encrypted block is EIO, never ciphertext.
        assertIOError(try CodecStore(backend, compression: .lz4).get("k", offset: 0, length: nil))
        assertIOError(try CodecStore(backend, compression: .lz4).get("k", offset: 10, length: 10))
    }

    func testAnUnencryptedBlockInAnEncryptedVolumeIsAnIOError() throws {
        let backend = MemoryStore()
        try CodecStore(backend, compression: .none).put("k", [1, 2, 3])
        assertIOError(try CodecStore(backend, compression: .none, cipher: cipher()).get("k", offset: 0, length: nil))
    }

    func testDataKeysAndNoncesDifferPerBlockAndUnwrappedKeysAreCached() throws {
        let backend = MemoryStore()
        let c = cipher()
        let store = CodecStore(backend, compression: .none, cipher: c)
        let data = compressible(5000)
        try store.put("a", data)
        try store.put("b", data)
        let a = try backend.get("a", offset: 0, length: nil), b = try backend.get("b", offset: 0, length: nil)
        XCTAssertEqual(a.count, b.count)
        let wrapped = BlockCodec.headerSize + 2 ..< BlockCodec.headerSize + 2 + 256
        XCTAssertNotEqual(a[wrapped], b[wrapped], "each block has its own data key")
        XCTAssertNotEqual(a[wrapped.upperBound..<(wrapped.upperBound + 12)], b[wrapped.upperBound..<(wrapped.upperBound + 12)])
        XCTAssertNotEqual(a.suffix(5000), b.suffix(5000), "same plaintext, different ciphertext")

        let reader = CodecStore(backend, compression: .none, cipher: cipher())
        for _ in 0..<3 {
            XCTAssertEqual(try reader.get("a", offset: 0, length: nil), data)
            XCTAssertEqual(try reader.get("b", offset: 0, length: nil), data)
        }
        XCTAssertEqual(reader.cipher!.cachedKeyCounters.misses, 2, "one RSA unwrap per block")
        XCTAssertEqual(reader.cipher!.cachedKeyCounters.hits, 4)
    }

    func testTheKeyCacheStaysBounded() throws {
        let backend = MemoryStore()
        let c = BlockCipher(publicKey: Self.key.publicKey, privateKey: Self.key, cacheSize: 8)
        let store = CodecStore(backend, compression: .none, cipher: c)
        for i in 0..<40 {
            try store.put("k\(i)", [UInt8(i)])
            XCTAssertEqual(try store.get("k\(i)", offset: 0, length: nil), [UInt8(i)])
        }
        XCTAssertLessThanOrEqual(c.cachedKeys, 8)
        XCTAssertEqual(try store.get("k0", offset: 0, length: nil), [0], "evicted keys are unwrapped again")
    }
}
