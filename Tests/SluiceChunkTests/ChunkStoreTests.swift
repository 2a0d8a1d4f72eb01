import Foundation
import SluiceBase
@testable import SluiceChunk
import SluiceObject
import SluiceTestSupport
import XCTest

final class ChunkStoreTests: XCTestCase {
    let mib = 1 << 20

    func config(blockSize: Int = 1 << 20, bufferBytes: Int = 300 << 20) -> ChunkConfig {
        ChunkConfig(volume: "vol", blockSize: blockSize, maxUploads: 4, memoryCacheBytes: 64 << 20,
                    bufferBytes: bufferBytes, retryDelay: 0.001)
    }

    /// Writes `data` as slice `id` in random-sized sequential pieces, sometimes rewriting bytes
    /// still buffered, and returns the keys `finish` reports.
    func writeSlice(_ chunks: ChunkStore, id: SliceID, data: [UInt8], seed: UInt64) throws -> [String] {
        var rng = SeededRNG(seed: seed)
        let writer = chunks.makeWriter(id: id)
        var offset = 0
        while offset < data.count {
            let n = min(data.count - offset, Int.random(in: 1...300_000, using: &rng))
            try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n]), at: offset) }
            offset += n
            XCTAssertEqual(writer.length, offset)
            // Rewrite a recent range when still allowed: the same bytes, so the result is known.
            let back = max(0, offset - Int.random(in: 1...5000, using: &rng))
            if writer.canWrite(at: back) {
                try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[back..<offset]), at: back) }
            }
        }
        XCTAssertFalse(writer.canWrite(at: 0) && data.count > chunks.layout.blockSize)
        return try writer.finish()
    }

    func readBack(_ chunks: ChunkStore, id: SliceID, data: [UInt8], seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        let ref = SliceRef(position: 0, id: id, size: UInt32(data.count), offset: 0, length: UInt32(data.count))
        for _ in 0..<40 {
            let start = Int.random(in: 0..<data.count, using: &rng)
            let length = Int.random(in: 1...min(3 * mib, data.count - start + 1000), using: &rng)
            var out = [UInt8](repeating: 0xAA, count: length)
            try out.withUnsafeMutableBytes {
                try chunks.readChunk([ref], position: UInt32(start), into: $0)
            }
            let have = max(0, min(length, data.count - start))
            XCTAssertEqual(Array(out[0..<have]), Array(data[start..<start + have]), "range \(start)+\(length)")
            XCTAssertTrue(out[have...].allSatisfy { $0 == 0 }, "past the slice reads zeros")
        }
    }

    func roundTrip(_ store: any ObjectStore) throws {
        let data = randomBytes(10 * mib + 12345, seed: 1)
        let id = SliceID(1_234_567)
        let keys = try writeSlice(ChunkStore(store: store, config: config()), id: id, data: data, seed: 2)
        let layout = BlockLayout(volume: "vol", blockSize: mib)
        XCTAssertEqual(keys, layout.keys(slice: id, size: data.count))
        XCTAssertEqual(keys.first, "vol/chunks/1/1234/1234567_0_1048576")
        XCTAssertEqual(keys.last, "vol/chunks/1/1234/1234567_10_12345")
        let listed = try store.list(prefix: "vol/", after: nil, limit: 100)
        XCTAssertEqual(Set(listed.map(\.key)), Set(keys))
        XCTAssertTrue(listed.allSatisfy { $0.size <= mib })
        XCTAssertEqual(try store.head(keys.last!)?.size, 12345)
        try store.sync(keys)
        // A fresh store has a cold cache, so this reads from the objects.
        let cold = ChunkStore(store: store, config: config())
        try readBack(cold, id: id, data: data, seed: 3)
        XCTAssertGreaterThan(cold.cache.count, 0)
    }

    func testRoundTripMemory() throws {
        try roundTrip(MemoryStore())
    }

    func testRoundTripLocal() throws {
        let root = NSTemporaryDirectory() + "sluice-chunk-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try roundTrip(ObjectStores.open(storage: "file", bucket: root))
    }

    func testOverlappingSlicesAndHoles() throws {
        let chunks = ChunkStore(store: MemoryStore(), config: config(blockSize: 1000))
        let a = randomBytes(5000, seed: 10), b = randomBytes(1500, seed: 11)
        _ = try writeSlice(chunks, id: SliceID(1), data: a, seed: 12)
        _ = try writeSlice(chunks, id: SliceID(2), data: b, seed: 13)
        let slices = [
            SliceRef(position: 100, id: SliceID(1), size: 5000, offset: 0, length: 5000),
            SliceRef(position: 2000, id: SliceID(2), size: 1500, offset: 200, length: 1300),
            SliceRef(position: 3000, id: .hole, size: 0, offset: 0, length: 100),
            SliceRef(position: 4900, id: SliceID(1), size: 5000, offset: 4000, length: 500),
        ]
        var expected = [UInt8](repeating: 0, count: 6000)
        expected.replaceSubrange(100..<5100, with: a)
        expected.replaceSubrange(2000..<3300, with: b[200..<1500])
        expected.replaceSubrange(3000..<3100, with: repeatElement(0, count: 100))
        expected.replaceSubrange(4900..<5400, with: a[4000..<4500])
        for (start, end) in [(0, 6000), (0, 1), (99, 101), (2999, 3101), (4899, 5500), (5399, 5401)] {
            var out = [UInt8](repeating: 0xEE, count: end - start)
            try out.withUnsafeMutableBytes { try chunks.readChunk(slices, position: UInt32(start), into: $0) }
            XCTAssertEqual(out, Array(expected[start..<end]), "\(start)..<\(end)")
        }
    }

    func testDamagedOrMissingBlockIsIOError() throws {
        let store = MemoryStore()
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        let keys = try writeSlice(chunks, id: SliceID(9), data: randomBytes(2500, seed: 20), seed: 21)
        let fresh = { ChunkStore(store: store, config: self.config(blockSize: 1000)) }
        func expectIOError(_ what: String) {
            var out = [UInt8](repeating: 0, count: 2500)
            XCTAssertThrowsError(try out.withUnsafeMutableBytes {
                try fresh().read(slice: SliceID(9), size: 2500, sliceOffset: 0, length: 2500, into: $0)
            }, what) { XCTAssertEqual($0 as? Errno, .ioError, what) }
        }
        try store.put(keys[1], Array(randomBytes(1000, seed: 20)[0..<999]))
        expectIOError("truncated block")
        try store.put(keys[1], randomBytes(1001, seed: 20))
        expectIOError("overlong block")
        try store.delete(keys[1])
        expectIOError("missing block")
        // The blocks that are intact still read.
        var first = [UInt8](repeating: 0, count: 1000)
        try first.withUnsafeMutableBytes { try fresh().read(slice: SliceID(9), size: 2500, sliceOffset: 0, length: 1000, into: $0) }
        XCTAssertEqual(first, Array(randomBytes(2500, seed: 20)[0..<1000]))
    }

    func testCanWriteAndHandOff() throws {
        let store = InstrumentedStore()
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        let writer = chunks.makeWriter(id: SliceID(3))
        XCTAssertTrue(writer.canWrite(at: 0))
        XCTAssertFalse(writer.canWrite(at: 1), "no gaps")
        let data = randomBytes(2500, seed: 30)
        try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<999]), at: 0) }
        XCTAssertTrue(writer.canWrite(at: 0))
        try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[999..<1000]), at: 999) }
        XCTAssertFalse(writer.canWrite(at: 0), "a full block goes to upload at once")
        XCTAssertFalse(writer.canWrite(at: 999))
        XCTAssertTrue(writer.canWrite(at: 1000))
        try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[1000..<2500]), at: 1000) }
        XCTAssertFalse(writer.canWrite(at: 1999))
        XCTAssertTrue(writer.canWrite(at: 2000))
        XCTAssertTrue(writer.canWrite(at: 2500))
        XCTAssertFalse(writer.canWrite(at: Layout.chunkSize))
        XCTAssertEqual(try writer.finish().count, 3)
        XCTAssertFalse(writer.canWrite(at: 2500), "finished")
        XCTAssertEqual(store.puts, 3, "each block uploaded exactly once")
        XCTAssertEqual(try writer.finish().count, 3, "finish again returns the same keys")
        XCTAssertEqual(store.puts, 3)
    }

    func testAbortDeletesBlocks() throws {
        let store = MemoryStore()
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        let writer = chunks.makeWriter(id: SliceID(4))
        let data = randomBytes(2500, seed: 40)
        try data.withUnsafeBytes { try writer.write($0, at: 0) }
        writer.abort()
        XCTAssertEqual(store.count, 0)
        XCTAssertEqual(chunks.bufferedBytes, 0)
        XCTAssertEqual(chunks.cache.count, 0)
        XCTAssertFalse(writer.canWrite(at: 2500))
        XCTAssertThrowsError(try writer.finish())

        let finished = chunks.makeWriter(id: SliceID(5))
        try data.withUnsafeBytes { try finished.write($0, at: 0) }
        _ = try finished.finish()
        XCTAssertEqual(store.count, 3)
        finished.abort()
        XCTAssertEqual(store.count, 0, "abort after finish deletes the uploaded blocks")
    }

    func testBufferAccountingAndCacheAfterWrite() throws {
        let store = InstrumentedStore()
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        let writer = chunks.makeWriter(id: SliceID(6))
        let data = randomBytes(2500, seed: 50)
        try data.withUnsafeBytes { try writer.write($0, at: 0) }
        XCTAssertGreaterThanOrEqual(chunks.bufferedBytes, 500, "the partial last block is buffered")
        XCTAssertLessThanOrEqual(chunks.bufferedBytes, 2500)
        let keys = try writer.finish()
        XCTAssertEqual(chunks.bufferedBytes, 0)
        // Blocks of a quarter block or more were written into whole-block buffers, which go
        // back to the pool after their upload instead of into the cache.
        XCTAssertTrue(keys.allSatisfy { !chunks.cache.contains($0) }, "pooled blocks are not cached")
        XCTAssertEqual(chunks.pool.keptCount, 3, "their buffers are kept for reuse")
        var out = [UInt8](repeating: 0, count: 2500)
        try out.withUnsafeMutableBytes { try chunks.read(slice: SliceID(6), size: 2500, sliceOffset: 0, length: 2500, into: $0) }
        XCTAssertEqual(out, data)

        // A reused buffer starts empty and its old bytes never reach a new block.
        let reused = chunks.makeWriter(id: SliceID(60))
        let other = randomBytes(1700, seed: 51)
        try other.withUnsafeBytes { try reused.write($0, at: 0) }
        _ = try reused.finish()
        XCTAssertEqual(chunks.pool.keptCount, 3, "buffers taken from the pool and returned")
        var back = [UInt8](repeating: 0, count: 1700)
        try back.withUnsafeMutableBytes { try chunks.read(slice: SliceID(60), size: 1700, sliceOffset: 0, length: 1700, into: $0) }
        XCTAssertEqual(back, other)
        try out.withUnsafeMutableBytes { try chunks.read(slice: SliceID(6), size: 2500, sliceOffset: 0, length: 2500, into: $0) }
        XCTAssertEqual(out, data, "blocks uploaded earlier keep their bytes")

        // Small blocks are cached: reads right after the write hit memory.
        let small = chunks.makeWriter(id: SliceID(61))
        try data.withUnsafeBytes { try small.write(UnsafeRawBufferPointer(rebasing: $0[0..<200]), at: 0) }
        let smallKeys = try small.finish()
        XCTAssertTrue(smallKeys.allSatisfy { chunks.cache.contains($0) }, "small blocks are cached")
        let gets = store.gets
        var head = [UInt8](repeating: 0, count: 200)
        try head.withUnsafeMutableBytes { try chunks.read(slice: SliceID(61), size: 200, sliceOffset: 0, length: 200, into: $0) }
        XCTAssertEqual(head, Array(data[0..<200]))
        XCTAssertEqual(store.gets, gets, "reads right after a small write hit the cache")

        // A writer dropped without finishing gives its buffers back.
        do {
            let dropped = chunks.makeWriter(id: SliceID(7))
            try data.withUnsafeBytes { try dropped.write(UnsafeRawBufferPointer(rebasing: $0[0..<500]), at: 0) }
            XCTAssertEqual(chunks.bufferedBytes, 500)
        }
        XCTAssertEqual(chunks.bufferedBytes, 0)
    }

    func testRemoveDeletesAllBlocks() throws {
        let store = MemoryStore()
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        _ = try writeSlice(chunks, id: SliceID(8), data: randomBytes(3500, seed: 60), seed: 61)
        _ = try writeSlice(chunks, id: SliceID(80), data: randomBytes(10, seed: 62), seed: 63)
        try store.delete(BlockLayout(volume: "vol", blockSize: 1000).key(slice: SliceID(8), index: 1, length: 1000))
        try chunks.remove(slice: SliceID(8), size: 3500)
        XCTAssertEqual(try store.list(prefix: "", after: nil, limit: 100).map(\.key), ["vol/chunks/0/0/80_0_10"])
        XCTAssertEqual(chunks.cache.count, 1)
    }

    func testUploadRetriesThenFails() throws {
        let store = InstrumentedStore()
        store.settings.withLock { $0.failPuts = 2 }
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        let data = randomBytes(1500, seed: 70)
        XCTAssertEqual(try writeSlice(chunks, id: SliceID(10), data: data, seed: 71).count, 2, "retried puts succeed")

        store.settings.withLock { $0.failAllPuts = true }
        let writer = chunks.makeWriter(id: SliceID(11))
        try data.withUnsafeBytes { try writer.write($0, at: 0) }
        XCTAssertThrowsError(try writer.finish()) { XCTAssertEqual($0 as? Errno, .ioError) }
        XCTAssertEqual(chunks.bufferedBytes, 0)
        XCTAssertFalse(chunks.cache.contains(chunks.layout.key(slice: SliceID(11), index: 0, length: 1000)))
    }

    func testConcurrentReadersShareOneFetch() throws {
        let store = InstrumentedStore()
        let writerSide = ChunkStore(store: store, config: config(blockSize: 1000))
        let data = randomBytes(1000, seed: 80)
        _ = try writeSlice(writerSide, id: SliceID(12), data: data, seed: 81)
        store.settings.withLock { $0.getDelay = 0.2 }
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            var out = [UInt8](repeating: 0, count: 1000)
            do {
                try out.withUnsafeMutableBytes {
                    try chunks.read(slice: SliceID(12), size: 1000, sliceOffset: 0, length: 1000, into: $0)
                }
            } catch {
                XCTFail("read threw \(error)")
            }
            XCTAssertEqual(out, data)
        }
        XCTAssertEqual(store.gets, 1)
    }

    func testPrefetch() throws {
        let store = InstrumentedStore()
        _ = try writeSlice(ChunkStore(store: store, config: config(blockSize: 1000)), id: SliceID(13),
                           data: randomBytes(3000, seed: 90), seed: 91)
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000))
        chunks.prefetch(slice: SliceID(13), size: 3000, blockIndex: 1)
        chunks.prefetch(slice: SliceID(13), size: 3000, blockIndex: 1)
        chunks.prefetch(slice: SliceID(13), size: 3000, blockIndex: 7)  // past the end: ignored
        let key = chunks.layout.key(slice: SliceID(13), index: 1, length: 1000)
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while !chunks.cache.contains(key), monotonicNanoseconds() < deadline { usleep(1000) }
        XCTAssertTrue(chunks.cache.contains(key))
        XCTAssertEqual(store.gets, 1)
        chunks.prefetch(slice: SliceID(13), size: 3000, blockIndex: 1)
        XCTAssertEqual(store.gets, 1, "cached blocks are not fetched again")
    }

    func testRandomReadPrefetchesWholeBlock() throws {
        let store = InstrumentedStore()
        let data = randomBytes(3000, seed: 92)
        _ = try writeSlice(ChunkStore(store: store, config: config(blockSize: 1000)), id: SliceID(15), data: data, seed: 93)
        let key = BlockLayout(volume: "vol", blockSize: 1000).key(slice: SliceID(15), index: 1, length: 1000)
        for prefetch in [0, 1] {
            var cfg = config(blockSize: 1000)
            cfg.randomPrefetches = prefetch
            let chunks = ChunkStore(store: store, config: cfg)
            let before = store.gets
            var out = [UInt8](repeating: 0, count: 10)
            try out.withUnsafeMutableBytes {
                try chunks.read(slice: SliceID(15), size: 3000, sliceOffset: 1500, length: 10, into: $0, random: true)
            }
            XCTAssertEqual(out, Array(data[1500..<1510]))
            if prefetch == 0 {
                XCTAssertFalse(chunks.cache.contains(key), "no prefetch: the ranged read caches nothing")
                continue
            }
            // The ranged read plus one background fetch of the whole block, which lands in the cache.
            let deadline = monotonicNanoseconds() + 5_000_000_000
            while !chunks.cache.contains(key), monotonicNanoseconds() < deadline { usleep(1000) }
            XCTAssertTrue(chunks.cache.contains(key), "the whole block was fetched in the background")
            let afterPrefetch = store.gets
            XCTAssertGreaterThan(afterPrefetch, before + 1)
            try out.withUnsafeMutableBytes {
                try chunks.read(slice: SliceID(15), size: 3000, sliceOffset: 1900, length: 10, into: $0, random: true)
            }
            XCTAssertEqual(out, Array(data[1900..<1910]))
            XCTAssertEqual(store.gets, afterPrefetch, "a later random read of the block hits the cache")
        }
    }

    func testReadAheadStaysWithinHalfTheCache() throws {
        let store = InstrumentedStore()
        let data = randomBytes(8000, seed: 94)
        _ = try writeSlice(ChunkStore(store: store, config: config(blockSize: 1000)), id: SliceID(16), data: data, seed: 95)
        var cfg = config(blockSize: 1000)
        cfg.memoryCacheBytes = 4000  // read-ahead may hold 2 unread blocks
        let chunks = ChunkStore(store: store, config: cfg)
        let before = store.gets
        for b in 0..<8 { chunks.prefetch(slice: SliceID(16), size: 8000, blockIndex: b) }
        let layout = chunks.layout
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while chunks.cache.count < 2, monotonicNanoseconds() < deadline { usleep(1000) }
        XCTAssertEqual(store.gets - before, 2, "only two blocks fetched ahead")
        XCTAssertTrue(chunks.cache.contains(layout.key(slice: SliceID(16), index: 0, length: 1000)))
        // Reading a block fetched ahead frees its room: the next prefetch is admitted.
        var out = [UInt8](repeating: 0, count: 1000)
        try out.withUnsafeMutableBytes { try chunks.read(slice: SliceID(16), size: 8000, sliceOffset: 0, length: 1000, into: $0) }
        XCTAssertEqual(out, Array(data[0..<1000]))
        chunks.prefetch(slice: SliceID(16), size: 8000, blockIndex: 2)
        let key2 = layout.key(slice: SliceID(16), index: 2, length: 1000)
        while !chunks.cache.contains(key2), monotonicNanoseconds() < deadline { usleep(1000) }
        XCTAssertTrue(chunks.cache.contains(key2))
    }

    func testBackPressure() throws {
        let store = InstrumentedStore()
        store.settings.withLock { $0.putDelay = 0.05 }
        let chunks = ChunkStore(store: store, config: config(blockSize: 1000, bufferBytes: 1500))
        XCTAssertTrue(chunks.waitForBufferSpace(timeout: .milliseconds(1)))
        let writer = chunks.makeWriter(id: SliceID(14))
        let data = randomBytes(6000, seed: 100)
        try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<5500]), at: 0) }
        XCTAssertGreaterThan(chunks.bufferedBytes, 1500)
        XCTAssertTrue(chunks.waitForBufferSpace(timeout: .seconds(10)), "uploads drain the buffers")
        XCTAssertLessThanOrEqual(chunks.bufferedBytes, 1500)

        // Partial blocks only leave with finish: the wait gives up after its timeout.
        let others = (0..<4).map { chunks.makeWriter(id: SliceID(UInt64(20 + $0))) }
        for w in others { try data.withUnsafeBytes { try w.write(UnsafeRawBufferPointer(rebasing: $0[0..<900]), at: 0) } }
        let t0 = monotonicNanoseconds()
        XCTAssertFalse(chunks.waitForBufferSpace(timeout: .milliseconds(100)))
        XCTAssertLessThan(monotonicNanoseconds() - t0, 2_000_000_000)
        for w in others { _ = try w.finish() }
        _ = try writer.finish()
        XCTAssertEqual(chunks.bufferedBytes, 0)
    }
}
