import Foundation
import SluiceBase
import SluiceObject
import XCTest
@testable import SluiceCache

/// A fresh temporary directory, removed when the test ends.
func makeTempDirectory(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "sluice-cache-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// A backend that counts the gets that reach it.
final class CountingStore: ObjectStore, @unchecked Sendable {
    let base = MemoryStore()
    private let counts = Locked<(whole: Int, ranged: Int)>((0, 0))

    var description: String { "counting" }
    var gets: Int { counts.withLock { $0.whole + $0.ranged } }

    func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        counts.withLock { c in if offset == 0 && length == nil { c.whole += 1 } else { c.ranged += 1 } }
        return try base.get(key, offset: offset, length: length)
    }
    func put(_ key: String, _ data: [UInt8]) throws { try base.put(key, data) }
    func head(_ key: String) throws -> ObjectInfo? { try base.head(key) }
    func delete(_ key: String) throws { try base.delete(key) }
    func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try base.list(prefix: prefix, after: after, limit: limit)
    }
    func sync(_ keys: [String]) throws {}
}

/// Deterministic bytes, different for each seed.
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// A block-like key for object `i`.
func blockKey(_ i: Int, length: Int = 10_000) -> String { "vol/chunks/0/0/\(i)_0_\(length)" }

/// Flips one byte of a file at `offset` from its end (negative) or start.
func damage(_ path: String, at offset: Int) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let at = offset < 0 ? bytes.count + offset : offset
    bytes[at] ^= 0xFF
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
