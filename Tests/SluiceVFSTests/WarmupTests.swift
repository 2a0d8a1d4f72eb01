import Foundation
import XCTest
import SluiceBase
import SluiceObject
import SluiceTestSupport
@testable import SluiceVFS

/// A store with a "local cache" of its own: `warm` records the keys it was asked to hold.
final class WarmRecordingStore: ObjectStore, @unchecked Sendable {
    let base = MemoryStore()
    let warmed = Locked<[String]>([])
    var description: String { "warm-recording" }
    func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] { try base.get(key, offset: offset, length: length) }
    func put(_ key: String, _ data: [UInt8]) throws { try base.put(key, data) }
    func head(_ key: String) throws -> ObjectInfo? { try base.head(key) }
    func delete(_ key: String) throws { try base.delete(key) }
    func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try base.list(prefix: prefix, after: after, limit: limit)
    }
    func sync(_ keys: [String]) throws {}
    func warm(_ key: String) throws -> Bool {
        guard try base.head(key) != nil else { throw Errno.noSuchFileOrDirectory }
        warmed.withLock { $0.append(key) }
        return true
    }
}

final class WarmupTests: XCTestCase {
    func testWarmupAsksForExactlyTheBlocksARangeShows() throws {
        let store = WarmRecordingStore()
        let volume = try TestVolume(blockSize: 64 << 10, store: CodecStore(store, compression: .none))
        defer { volume.close() }
        let (fh, ino) = try volume.create("f")
        // Two slices: 300 KiB, then 10 KiB written over its middle; and a hole to 1 MiB.
        try volume.write(fh, randomBytes(300 << 10, seed: 1), at: 0)
        try volume.vfs.flush(fh)
        try volume.write(fh, randomBytes(10 << 10, seed: 2), at: 100 << 10)
        try volume.write(fh, [1], at: (1 << 20) - 1)
        try volume.vfs.release(fh)

        XCTAssertEqual(try volume.vfs.warmup(ino, offset: 0, length: .max), 1 << 20)
        let all = Set(store.warmed.withLock { $0 })
        // 300 KiB in 64 KiB blocks: 5 blocks, the one under the overwrite included (its first
        // 36 KiB still show); the overwrite's own block; the last byte's block.
        XCTAssertEqual(all.count, 7, "\(all.sorted())")

        store.warmed.withLock { $0 = [] }
        // Just the overwritten range: only the overwrite's block.
        XCTAssertEqual(try volume.vfs.warmup(ino, offset: (100 << 10) + 5, length: 100), 100)
        XCTAssertEqual(store.warmed.withLock { $0 }.count, 1)
        store.warmed.withLock { $0 = [] }
        // Past the end: nothing.
        XCTAssertEqual(try volume.vfs.warmup(ino, offset: 2 << 20, length: 10), 0)
        // A hole only: nothing to fetch.
        XCTAssertEqual(try volume.vfs.warmup(ino, offset: 500 << 10, length: 1000), 1000)
        XCTAssertEqual(store.warmed.withLock { $0 }.count, 0)
    }

    func testWarmupOfAMissingBlockIsEIO() throws {
        let store = WarmRecordingStore()
        let volume = try TestVolume(blockSize: 64 << 10, store: CodecStore(store, compression: .none))
        defer { volume.close() }
        let (fh, ino) = try volume.create("f")
        try volume.write(fh, randomBytes(100 << 10, seed: 3), at: 0)
        try volume.vfs.release(fh)
        for key in try store.base.list(prefix: "", after: nil, limit: 100).map(\.key) { try store.base.delete(key) }
        assertErrno(.ioError) { _ = try volume.vfs.warmup(ino, offset: 0, length: .max) }
    }
}
