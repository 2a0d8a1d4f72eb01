import SluiceBase
@testable import SluiceChunk
import XCTest

final class BlockLayoutTests: XCTestCase {
    func testKeys() {
        let layout = BlockLayout(volume: "vol", blockSize: 4 << 20)
        XCTAssertEqual(layout.key(slice: SliceID(1_234_567), index: 2, length: 100), "vol/chunks/1/1234/1234567_2_100")
        XCTAssertEqual(layout.key(slice: SliceID(5), index: 0, length: 9), "vol/chunks/0/0/5_0_9")
        XCTAssertEqual(layout.blocks(ofSliceSize: 0).count, 0)
        XCTAssertEqual(layout.blocks(ofSliceSize: 4 << 20).map(\.length), [4 << 20])
        XCTAssertEqual(layout.blocks(ofSliceSize: (8 << 20) + 3).map(\.length), [4 << 20, 4 << 20, 3])
        XCTAssertEqual(layout.blocks(ofSliceSize: (8 << 20) + 3).map(\.index), [0, 1, 2])
        XCTAssertEqual(layout.keys(slice: SliceID(7), size: 10),
                       ["vol/chunks/0/0/7_0_10"])
        XCTAssertEqual(BlockLayout(volume: "v", blockSize: 4).keys(slice: SliceID(3), size: 10),
                       ["v/chunks/0/0/3_0_4", "v/chunks/0/0/3_1_4", "v/chunks/0/0/3_2_2"])
    }
}

final class BlockCacheTests: XCTestCase {
    func testLRUWithinBudget() {
        let cache = BlockCache(capacity: 100)
        cache.insert("a", [UInt8](repeating: 1, count: 40))
        cache.insert("b", [UInt8](repeating: 2, count: 40))
        XCTAssertEqual(cache.usedBytes, 80)
        XCTAssertNotNil(cache.get("a"))  // a is now newer than b
        cache.insert("c", [UInt8](repeating: 3, count: 40))
        XCTAssertNil(cache.get("b"), "least recently used evicted")
        XCTAssertEqual(cache.get("a"), [UInt8](repeating: 1, count: 40))
        XCTAssertEqual(cache.count, 2)
        XCTAssertEqual(cache.usedBytes, 80)
        cache.insert("a", [9])
        XCTAssertEqual(cache.usedBytes, 41)
        cache.insert("huge", [UInt8](repeating: 0, count: 101))
        XCTAssertFalse(cache.contains("huge"))
        cache.remove("a")
        cache.remove("missing")
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(cache.usedBytes, 40)
    }

    func testManyEntriesAndReuse() {
        let cache = BlockCache(capacity: 1000)
        for i in 0..<10_000 { cache.insert("k\(i)", [UInt8(i & 0xFF)]) }
        XCTAssertEqual(cache.count, 1000)
        XCTAssertEqual(cache.usedBytes, 1000)
        XCTAssertNil(cache.get("k8999"))
        XCTAssertEqual(cache.get("k9000"), [UInt8(9000 & 0xFF)])
        XCTAssertEqual(cache.get("k9999"), [UInt8(9999 & 0xFF)])
    }

    func testConcurrentUse() {
        let cache = BlockCache(capacity: 5000)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<2000 {
                let key = "k\((t * 7 + i) % 300)"
                if let v = cache.get(key) { XCTAssertEqual(v.count, 10) }
                cache.insert(key, [UInt8](repeating: UInt8(t), count: 10))
                if i % 10 == 0 { cache.remove(key) }
            }
        }
        XCTAssertLessThanOrEqual(cache.usedBytes, 5000)
        XCTAssertEqual(cache.usedBytes, cache.count * 10)
    }
}
