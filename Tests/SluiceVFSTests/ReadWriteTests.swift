import Foundation
import XCTest
import SluiceBase
import SluiceMeta
import SluiceTestSupport
@testable import SluiceVFS

/// Round trips, read-your-writes, chunk boundaries, holes, truncation and random overwrites,
/// always checked byte for byte against `FileModel`.
final class ReadWriteTests: XCTestCase {
    func testRoundTripAcrossHandles() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let data = randomBytes(1_000_003, seed: 1)
        let (fh, ino) = try v.create("a")
        try v.write(fh, Array(data[0..<500_000]), at: 0)
        try v.write(fh, Array(data[500_000...]), at: 500_000)
        try v.vfs.flush(fh)
        try v.vfs.release(fh)
        XCTAssertEqual(try v.size(ino), data.count)

        let r = try v.open(ino, Flags.readOnly)
        assertBytes(try v.readAll(r, step: 100_000), data)
        assertBytes(try v.read(r, 999_990, 100), Array(data[999_990...]), "short read at EOF")
        XCTAssertEqual(try v.read(r, data.count, 10), [], "read at EOF")
        XCTAssertEqual(try v.read(r, data.count + 5000, 10), [], "read past EOF")
        try v.vfs.release(r)
    }

    func testReadYourWritesBeforeFlush() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (w, ino) = try v.create("a")
        let r = try v.open(ino, Flags.readOnly)
        var model = FileModel()
        let first = randomBytes(200_000, seed: 2)
        try v.write(w, first, at: 0)
        model.write(first, at: 0)
        // getattr counts the buffered bytes before anything is committed.
        XCTAssertEqual(try v.size(ino), 200_000)
        XCTAssertEqual(try v.meta.getattr(ino).size, 0, "nothing committed yet")
        // Another handle of the same inode sees the buffered data.
        assertBytes(try v.read(r, 0, 300_000), model.bytes)
        // Overwrite part of it and extend, still without flush; read again through both handles.
        let second = randomBytes(150_000, seed: 3)
        try v.write(w, second, at: 120_000)
        model.write(second, at: 120_000)
        XCTAssertEqual(try v.size(ino), model.bytes.count)
        assertBytes(try v.read(r, 0, 400_000), model.bytes)
        assertBytes(try v.read(w, 100_000, 100_000), model.slice(100_000, 100_000))
        try v.vfs.release(w)
        try v.vfs.release(r)
    }

    func testWritesAcrossTheChunkBoundary() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let chunk = Layout.chunkSize
        let (fh, ino) = try v.create("big")
        let pieces = [(chunk - 100_000, 250_000), (chunk - 1, 2), (2 * chunk - 7, 20), (chunk + 50_000, 10)]
        for (i, (offset, count)) in pieces.enumerated() {
            let data = randomBytes(count, seed: UInt64(10 + i))
            try v.write(fh, data, at: offset)
        }
        XCTAssertEqual(try v.size(ino), 2 * chunk + 13)
        // The expected bytes: the pieces applied in the order they were written.
        func replay(_ offset: Int, _ count: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            for (i, (o, _)) in pieces.enumerated() {
                let d = randomBytes(pieces[i].1, seed: UInt64(10 + i))
                for (j, b) in d.enumerated() where o + j >= offset && o + j < offset + count { out[o + j - offset] = b }
            }
            return out
        }
        for (offset, count) in [(chunk - 150_000, 400_000), (chunk - 3, 6), (2 * chunk - 20, 33)] {
            assertBytes(try v.read(fh, offset, count), replay(offset, count), "before flush at \(offset)")
        }
        try v.vfs.release(fh)
        XCTAssertFalse(try v.meta.readChunk(ino, 0).isEmpty)
        XCTAssertFalse(try v.meta.readChunk(ino, 1).isEmpty)
        let r = try v.open(ino, Flags.readOnly)
        for (offset, count) in [(chunk - 150_000, 400_000), (chunk - 3, 6), (2 * chunk - 20, 33), (1000, 10)] {
            assertBytes(try v.read(r, offset, count), replay(offset, count), "after reopen at \(offset)")
        }
        try v.vfs.release(r)
    }

    func testHoleBetweenWritesReadsZeros() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (fh, ino) = try v.create("sparse")
        var model = FileModel()
        let head = randomBytes(1000, seed: 4), tail = randomBytes(3000, seed: 5)
        try v.write(fh, head, at: 0)
        model.write(head, at: 0)
        try v.vfs.flush(fh)
        try v.write(fh, tail, at: 5_000_000)
        model.write(tail, at: 5_000_000)
        XCTAssertEqual(try v.size(ino), 5_003_000)
        assertBytes(try v.readAll(fh), model.bytes)
        try v.vfs.release(fh)
        let r = try v.open(ino, Flags.readOnly)
        assertBytes(try v.read(r, 900, 300_000), model.slice(900, 300_000))
        assertBytes(try v.readAll(r), model.bytes)
        try v.vfs.release(r)
    }

    func testTruncateDownAndUpWithPendingWrites() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (fh, ino) = try v.create("t")
        var model = FileModel()
        let data = randomBytes(1_000_000, seed: 6)
        try v.write(fh, data, at: 0)
        model.write(data, at: 0)
        try v.vfs.flush(fh)
        // Buffered, uncommitted data when the truncate comes: it happened first, so it is cut too.
        let more = randomBytes(200_000, seed: 7)
        try v.write(fh, more, at: 900_000)
        model.write(more, at: 900_000)
        XCTAssertEqual(try v.size(ino), 1_100_000)
        _ = try v.vfs.setattr(ino, AttributeChanges(size: 333_333))
        model.truncate(333_333)
        XCTAssertEqual(try v.size(ino), 333_333)
        assertBytes(try v.readAll(fh), model.bytes, "after truncate down")
        _ = try v.vfs.setattr(ino, AttributeChanges(size: 2_000_000))
        model.truncate(2_000_000)
        XCTAssertEqual(try v.size(ino), 2_000_000)
        assertBytes(try v.read(fh, 333_000, 700_000), model.slice(333_000, 700_000), "the old tail reads zeros")
        // A small write after the truncates: the reported size must not come from before them.
        _ = try v.vfs.setattr(ino, AttributeChanges(size: 10))
        model.truncate(10)
        try v.write(fh, [1, 2, 3], at: 20)
        model.write([1, 2, 3], at: 20)
        XCTAssertEqual(try v.size(ino), 23, "size with buffered data after a truncate")
        assertBytes(try v.readAll(fh), model.bytes)
        try v.vfs.release(fh)
        let r = try v.open(ino, Flags.readOnly)
        assertBytes(try v.readAll(r), model.bytes, "after reopen")
        try v.vfs.release(r)
    }

    func testOpenWithTruncate() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let (fh, ino) = try v.create("o")
        try v.write(fh, randomBytes(500_000, seed: 8), at: 0)
        try v.vfs.release(fh)
        let t = try v.open(ino, Flags.truncate)
        XCTAssertEqual(try v.size(ino), 0)
        XCTAssertEqual(try v.read(t, 0, 100), [])
        try v.write(t, [9, 9], at: 0)
        try v.vfs.release(t)
        let r = try v.open(ino, Flags.readOnly)
        XCTAssertEqual(try v.readAll(r), [9, 9])

        // O_TRUNC while another handle holds buffered (uncommitted) data: that data goes too.
        let w = try v.open(ino, Flags.writeOnly)
        try v.write(w, randomBytes(70_000, seed: 9), at: 0)
        let t2 = try v.open(ino, Flags.truncate)
        XCTAssertEqual(try v.size(ino), 0)
        XCTAssertEqual(try v.readAll(r), [])
        for fh in [w, t2, r] { try v.vfs.release(fh) }
        XCTAssertEqual(try v.meta.getattr(ino).size, 0)

        // The same on a file whose committed length is still 0.
        let (w2, ino2) = try v.create("p")
        try v.write(w2, randomBytes(1000, seed: 10), at: 0)
        let t3 = try v.open(ino2, Flags.truncate)
        XCTAssertEqual(try v.size(ino2), 0, "O_TRUNC over buffered data only")
        assertBytes(try v.readAll(t3), [])
        for fh in [w2, t3] { try v.vfs.release(fh) }
        XCTAssertEqual(try v.meta.getattr(ino2).size, 0)
    }

    func testRandomOverwritesMatchModel() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let fileSize = 3 << 20
        let (fh, ino) = try v.create("r")
        let r = try v.open(ino, Flags.readOnly)
        var model = FileModel()
        let initial = randomBytes(fileSize, seed: 11)
        try v.write(fh, initial, at: 0)
        model.write(initial, at: 0)
        var rng = SeededRNG(seed: 12)
        for step in 0..<3000 {
            let length = Int.random(in: 1...4096, using: &rng)
            let offset = Int.random(in: 0...(fileSize - length), using: &rng)
            let data = randomBytes(length, seed: rng.next())
            try v.write(fh, data, at: offset)
            model.write(data, at: offset)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<5:
                let o = Int.random(in: 0..<fileSize, using: &rng)
                assertBytes(try v.read(r, o, 20_000), model.slice(o, 20_000), "step \(step)")
            case 5..<7:
                try v.vfs.flush(fh)
            default:
                break
            }
        }
        assertBytes(try v.readAll(r), model.bytes, "before close")
        try v.vfs.release(fh)
        try v.vfs.release(r)
        let again = try v.open(ino, Flags.readOnly)
        assertBytes(try v.readAll(again), model.bytes, "after reopen")
        try v.vfs.release(again)
    }

    func testManyOpenSlicesCommitAutomatically() throws {
        // No compaction here: it would shrink the slice list this test counts, whenever the
        // background worker happens to run.
        var config = VFSConfig()
        config.compactionThreshold = 100_000
        let v = try TestVolume(blockSize: 64 << 10, config: config)
        defer { v.close() }
        let (fh, ino) = try v.create("m")
        var model = FileModel()
        model.write(randomBytes(1 << 20, seed: 13), at: 0)
        try v.write(fh, model.bytes, at: 0)
        try v.vfs.flush(fh)
        // A read caches the slice list of chunk 0 for this inode.
        assertBytes(try v.readAll(fh), model.bytes)
        // Disjoint, descending writes: each starts its own slice, so the writer passes its limit.
        // Exactly two automatic commits, so that nothing is left buffered when the read comes.
        let count = (FileWriter.maxOpenSlices + 1) * 2
        for i in 0..<count {
            let data = randomBytes(100, seed: UInt64(100 + i))
            let offset = (count - i) * 4000
            try v.write(fh, data, at: offset)
            model.write(data, at: offset)
        }
        XCTAssertGreaterThan(try v.meta.readChunk(ino, 0).count, FileWriter.maxOpenSlices, "committed without a flush")
        assertBytes(try v.readAll(fh), model.bytes, "read after automatic commits")
        try v.vfs.release(fh)
        let r = try v.open(ino, Flags.readOnly)
        assertBytes(try v.readAll(r), model.bytes, "after reopen")
        try v.vfs.release(r)
    }
}
