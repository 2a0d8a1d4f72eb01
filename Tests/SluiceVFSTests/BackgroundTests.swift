import Foundation
import XCTest
import SluiceBase
import SluiceMeta
import SluiceObject
import SluiceTestSupport
@testable import SluiceVFS

/// Compaction and deletion of unreferenced objects, driven through `runBackgroundWorkNow`.
final class BackgroundTests: XCTestCase {
    func testCompactionKeepsContentAndShrinksTheSliceList() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (fh, ino) = try v.create("c")
        let r = try v.open(ino, Flags.readOnly)
        var model = FileModel()
        var rng = SeededRNG(seed: 21)
        // Each flush commits one slice; past 100 entries the flush queues a compaction.
        let commits = 130
        for i in 0..<commits {
            let length = Int.random(in: 1...3000, using: &rng)
            let offset = Int.random(in: 0...400_000, using: &rng)
            let data = randomBytes(length, seed: UInt64(1000 + i))
            try v.write(fh, data, at: offset)
            model.write(data, at: offset)
            try v.vfs.flush(fh)
            // The worker may be compacting right now: what a reader sees must not change.
            if i % 10 == 0 || i > 100 {
                assertBytes(try v.readAll(r, step: 50_000), model.bytes, "after commit \(i)")
            }
        }
        v.vfs.runBackgroundWorkNow()
        let slices = try v.meta.readChunk(ino, 0)
        XCTAssertLessThanOrEqual(slices.count, 30, "the list was compacted")
        XCTAssertGreaterThanOrEqual(slices.count, 1)
        assertBytes(try v.readAll(r), model.bytes, "after compaction, same handle")
        try v.vfs.release(fh)
        try v.vfs.release(r)
        let again = try v.open(ino, Flags.readOnly)
        assertBytes(try v.readAll(again), model.bytes, "after compaction, new handle")
        try v.vfs.release(again)
        // Replaced slices wait out the grace period: their objects are still there.
        XCTAssertGreaterThan(v.objectCount, commits)
    }

    func testCompactionAfterTruncateAndHoles() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (fh, ino) = try v.create("h")
        var model = FileModel()
        for i in 0..<110 {
            let data = randomBytes(500, seed: UInt64(2000 + i))
            let offset = (i * 7919) % 300_000 + (i % 3 == 0 ? 1_000_000 : 0)
            try v.write(fh, data, at: offset)
            model.write(data, at: offset)
            try v.vfs.flush(fh)
            if i == 50 {
                _ = try v.vfs.setattr(ino, AttributeChanges(size: 100_000))
                model.truncate(100_000)
            }
        }
        v.vfs.runBackgroundWorkNow()
        XCTAssertLessThan(try v.meta.readChunk(ino, 0).count, 10)
        XCTAssertEqual(try v.size(ino), model.bytes.count)
        assertBytes(try v.readAll(fh), model.bytes)
        _ = try v.vfs.setattr(ino, AttributeChanges(size: 2_000_000))
        model.truncate(2_000_000)
        assertBytes(try v.readAll(fh), model.bytes, "extended after compaction")
        try v.vfs.release(fh)
    }

    func testUnlinkOfClosedFileDeletesItsObjects() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (keep, _) = try v.create("keep")
        try v.write(keep, randomBytes(100_000, seed: 30), at: 0)
        try v.vfs.release(keep)
        let kept = v.objectCount
        let (fh, _) = try v.create("gone")
        try v.write(fh, randomBytes(1_000_000, seed: 31), at: 0)
        try v.write(fh, randomBytes(1000, seed: 32), at: 5000)
        try v.vfs.release(fh)
        XCTAssertGreaterThan(v.objectCount, kept)
        try v.vfs.unlink(.root, fileName("gone"))
        // (unlink wakes the worker, which may already be deleting: no assertion on the queue here)
        v.vfs.runBackgroundWorkNow()
        XCTAssertEqual(v.objectCount, kept, "only the other file's objects remain")
        XCTAssertTrue(try v.meta.pendingSliceDeletions(limit: 100).isEmpty)
        assertErrno(.noSuchFileOrDirectory) { _ = try v.vfs.lookup(.root, fileName("gone")) }
    }

    func testUnlinkOfOpenFileKeepsDataUntilRelease() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let data = randomBytes(700_000, seed: 33)
        let (fh, ino) = try v.create("open")
        try v.write(fh, data, at: 0)
        try v.vfs.flush(fh)
        let objects = v.objectCount
        XCTAssertGreaterThan(objects, 0)
        try v.vfs.unlink(.root, fileName("open"))
        v.vfs.runBackgroundWorkNow()
        XCTAssertEqual(v.objectCount, objects, "still open: nothing deleted")
        assertBytes(try v.readAll(fh), data, "readable through the open handle")
        // Writes to the unlinked file still work until the last close.
        try v.write(fh, [1, 2, 3], at: 10)
        var model = FileModel(bytes: data)
        model.write([1, 2, 3], at: 10)
        assertBytes(try v.readAll(fh), model.bytes)
        try v.vfs.release(fh)
        v.vfs.runBackgroundWorkNow()
        XCTAssertEqual(v.objectCount, 0, "last close deleted every object")
        assertErrno(.noSuchFileOrDirectory) { _ = try v.vfs.getattr(ino) }
    }
}
