import SluiceBase
import SluiceMeta
import XCTest

final class RangeTests: XCTestCase {
    private func file(_ meta: MetaClient, _ name: String) throws -> InodeNumber {
        try meta.create(.root, Array(name.utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: .root).0
    }

    func testFallocateModes() throws {
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "r", storage: "mem", bucket: "b"), force: false)
        let ino = try file(meta, "f")
        _ = try meta.write(ino, chunk: 0, slice: SliceRef(position: 0, id: try meta.newSliceID(), size: 100, offset: 0, length: 100))
        XCTAssertEqual(try meta.fallocate(ino, mode: [], offset: 50, length: 150).size, 200)
        XCTAssertEqual(try meta.fallocate(ino, mode: .keepSize, offset: 0, length: 1000).size, 200)
        XCTAssertThrowsError(try meta.fallocate(ino, mode: .punchHole, offset: 0, length: 10)) {
            XCTAssertEqual($0 as? Errno, .notSupported, "PUNCH_HOLE needs KEEP_SIZE")
        }
        _ = try meta.fallocate(ino, mode: [.punchHole, .keepSize], offset: 10, length: 20)
        let last = try meta.readChunk(ino, 0).last!
        XCTAssertEqual([last.position, last.length], [10, 20])
        XCTAssertTrue(last.id.isHole)
        XCTAssertEqual(try meta.fallocate(ino, mode: .zeroRange, offset: 150, length: 100).size, 250)
        XCTAssertThrowsError(try meta.fallocate(ino, mode: [], offset: 0, length: 0)) { XCTAssertEqual($0 as? Errno, .invalidArgument) }
    }

    func testCopiedSlicesAreSharedUntilTheLastReferenceGoes() throws {
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "r", storage: "mem", bucket: "b"), force: false)
        let src = try file(meta, "src"), dst = try file(meta, "dst")
        let id = try meta.newSliceID()
        _ = try meta.write(src, chunk: 0, slice: SliceRef(position: 0, id: id, size: 1000, offset: 0, length: 1000))
        // Across a chunk boundary in the destination.
        let at = UInt64(Layout.chunkSize) - 300
        XCTAssertEqual(try meta.copyRange(from: src, at: 100, to: dst, at: at, length: 5000), 900, "stops at the source's end")
        XCTAssertEqual(try meta.getattr(dst).size, at + 900)
        let first = try meta.readChunk(dst, 0), second = try meta.readChunk(dst, 1)
        XCTAssertEqual(first.map(\.id), [.hole, id])
        XCTAssertEqual(first.last.map { [$0.position, $0.offset, $0.length] }, [UInt32(Layout.chunkSize) - 300, 100, 300])
        XCTAssertEqual(second.last.map { [$0.position, $0.offset, $0.length] }, [0, 400, 600])
        // Deleting the source keeps the shared slice; deleting the copy too frees it.
        try meta.unlink(.root, Array("src".utf8))
        XCTAssertEqual(try meta.pendingSliceDeletions(limit: 10).count, 0)
        try meta.unlink(.root, Array("dst".utf8))
        XCTAssertEqual(try meta.pendingSliceDeletions(limit: 10).map(\.id), [id])
        // Overlapping copies within one file are refused.
        let f = try file(meta, "self")
        _ = try meta.write(f, chunk: 0, slice: SliceRef(position: 0, id: try meta.newSliceID(), size: 100, offset: 0, length: 100))
        XCTAssertThrowsError(try meta.copyRange(from: f, at: 0, to: f, at: 50, length: 100)) { XCTAssertEqual($0 as? Errno, .invalidArgument) }
    }
}
