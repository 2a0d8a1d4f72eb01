import Foundation
import SluiceBase
import SluiceObject
import SluiceTestSupport
import XCTest
@testable import SluiceCache

final class DiskCacheStoreTests: XCTestCase {
    /// Disk bytes one cached object of `blockKey(i)` with 10,000 bytes takes.
    let objectDiskSize = CacheFile.diskSize(key: blockKey(0), objectLength: 10_000)

    func makeStore(roots: [String], capacity: Int, ratio: Double = 0, backend: (any ObjectStore)? = nil,
                   probe: FreeSpaceProbe? = nil) -> (DiskCacheStore, CountingStore?) {
        let counting = backend == nil ? CountingStore() : nil
        let config = LocalCacheConfig(roots: roots, volumeUUID: "uuid-1", capacity: capacity, freeSpaceRatio: ratio)
        return (DiskCacheStore(backend ?? counting!, config: config, freeSpace: probe), counting)
    }

    func testConformance() throws {
        let dir = makeTempDirectory(self)
        let (store, _) = makeStore(roots: [dir + "/a", dir + "/b"], capacity: 1 << 30)
        ObjectStoreConformance.runAll(on: store)
        // Again with every write settled, so that gets come from cache files.
        store.waitForWrites()
        ObjectStoreConformance.runAll(on: store)
        ObjectStoreConformance.runAll(on: CodecStore(store, compression: .none))
    }

    func testSecondWholeGetIsServedFromDisk() throws {
        let dir = makeTempDirectory(self)
        let (store, backend) = makeStore(roots: [dir], capacity: 1 << 30)
        let data = pattern(100_000, seed: 1)
        try backend!.put(blockKey(1), data)
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), data)
        store.waitForWrites()
        XCTAssertEqual(backend!.gets, 1)
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), data)
        XCTAssertEqual(try store.get(blockKey(1), offset: 70_000, length: 100), Array(data[70_000..<70_100]))
        XCTAssertEqual(try store.get(blockKey(1), offset: 5, length: 10), Array(data[5..<15]))
        XCTAssertEqual(try store.get(blockKey(1), offset: 99_990, length: nil), Array(data[99_990...]))
        XCTAssertEqual(try store.get(blockKey(1), offset: 200_000, length: 5), [])
        XCTAssertEqual(backend!.gets, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.cacheFilePath(blockKey(1))!))
        XCTAssertTrue(store.cacheFilePath(blockKey(1))!.hasPrefix(dir + "/uuid-1/blocks/"))
    }

    func testRangedMissCachesNothingAndPutsAreCached() throws {
        let dir = makeTempDirectory(self)
        let (store, backend) = makeStore(roots: [dir], capacity: 1 << 30)
        try backend!.put(blockKey(1), pattern(1000, seed: 1))
        _ = try store.get(blockKey(1), offset: 10, length: 10)
        store.waitForWrites()
        XCTAssertEqual(store.usage.objects, 0)
        try store.put(blockKey(2), pattern(1000, seed: 2))
        store.waitForWrites()
        XCTAssertEqual(store.usage.objects, 1)
        XCTAssertEqual(try store.get(blockKey(2), offset: 0, length: nil), pattern(1000, seed: 2))
        XCTAssertEqual(backend!.gets, 1)
        try store.delete(blockKey(2))
        XCTAssertEqual(store.usage.objects, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.cacheFilePath(blockKey(2))!))
        XCTAssertThrowsError(try store.get(blockKey(2), offset: 0, length: nil))
    }

    func testEvictsLeastRecentlyUsedWhenFull() throws {
        let dir = makeTempDirectory(self)
        let (store, backend) = makeStore(roots: [dir], capacity: 5 * objectDiskSize)
        for i in 0..<5 {
            try backend!.put(blockKey(i), pattern(10_000, seed: i))
            _ = try store.get(blockKey(i), offset: 0, length: nil)
            store.waitForWrites()
        }
        XCTAssertEqual(store.usage.objects, 5)
        _ = try store.get(blockKey(0), offset: 0, length: nil)  // 1 is now the least recently used
        try backend!.put(blockKey(5), pattern(10_000, seed: 5))
        _ = try store.get(blockKey(5), offset: 0, length: nil)
        store.waitForWrites()
        XCTAssertEqual(store.usage.objects, 5)
        XCTAssertLessThanOrEqual(store.usage.bytes, 5 * objectDiskSize)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.cacheFilePath(blockKey(1))!))
        let before = backend!.gets
        for i in [0, 2, 3, 4, 5] { XCTAssertEqual(try store.get(blockKey(i), offset: 0, length: nil), pattern(10_000, seed: i)) }
        XCTAssertEqual(backend!.gets, before)
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), pattern(10_000, seed: 1))
        XCTAssertEqual(backend!.gets, before + 1)

        // Many more than fit: the usage stays within the capacity, on disk too.
        for i in 10..<60 {
            try store.put(blockKey(i), pattern(10_000, seed: i))
            store.waitForWrites()
        }
        XCTAssertLessThanOrEqual(store.usage.bytes, 5 * objectDiskSize)
        XCTAssertLessThanOrEqual(try cacheFiles(dir).count, 5)
    }

    func testKeepsTheFreeShareOfTheDisk() throws {
        let dir = makeTempDirectory(self)
        // A simulated 100-object disk with 12 objects' worth free besides the cache's own files:
        // keeping 10% free leaves room for 2 cached objects.
        let size = objectDiskSize
        let holder = Locked<DiskCacheStore?>(nil)
        let probe: FreeSpaceProbe = { _ in
            let used = holder.withLock { $0 }?.usage.bytes ?? 0
            return (available: 12 * size - used, total: 100 * size)
        }
        let (store, backend) = makeStore(roots: [dir], capacity: 1 << 30, ratio: 0.1, probe: probe)
        holder.withLock { $0 = store }
        for i in 0..<6 {
            try backend!.put(blockKey(i), pattern(10_000, seed: i))
            _ = try store.get(blockKey(i), offset: 0, length: nil)
            store.waitForWrites()
            XCTAssertLessThanOrEqual(store.usage.objects, 2)
        }
        XCTAssertEqual(store.usage.objects, 2)
        XCTAssertEqual(try cacheFiles(dir).count, 2)
        // The two newest stayed.
        let before = backend!.gets
        _ = try store.get(blockKey(5), offset: 0, length: nil)
        _ = try store.get(blockKey(4), offset: 0, length: nil)
        XCTAssertEqual(backend!.gets, before)
        holder.withLock { $0 = nil }
    }

    func testNoInsertWhenTheDiskIsFullOfOtherData() throws {
        let dir = makeTempDirectory(self)
        let (store, backend) = makeStore(roots: [dir], capacity: 1 << 30, ratio: 0.1,
                                         probe: { _ in (available: 5 << 20, total: 100 << 20) })
        try backend!.put(blockKey(1), pattern(10_000, seed: 1))
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), pattern(10_000, seed: 1))
        store.waitForWrites()
        XCTAssertEqual(store.usage.objects, 0)
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), pattern(10_000, seed: 1))
        XCTAssertEqual(backend!.gets, 2)
    }

    func testIndexIsRebuiltFromDiskByANewInstance() throws {
        let dir = makeTempDirectory(self)
        let roots = [dir + "/a", dir + "/b"]
        let backend = CountingStore()
        do {
            let (first, _) = makeStore(roots: roots, capacity: 1 << 30, backend: backend)
            for i in 0..<20 { try first.put(blockKey(i), pattern(10_000, seed: i)) }
            first.waitForWrites()
            XCTAssertEqual(first.usage.objects, 20)
        }
        // A new instance finds the blocks before its scan ends, and indexes them all.
        let (second, _) = makeStore(roots: roots, capacity: 1 << 30, backend: backend)
        XCTAssertEqual(try second.get(blockKey(7), offset: 0, length: nil), pattern(10_000, seed: 7))
        second.waitForScan()
        XCTAssertEqual(second.usage.objects, 20)
        XCTAssertEqual(second.usage.bytes, 20 * objectDiskSize)
        for i in 0..<20 { XCTAssertEqual(try second.get(blockKey(i), offset: 0, length: nil), pattern(10_000, seed: i)) }
        XCTAssertEqual(backend.gets, 0)

        // A smaller capacity at the next start evicts down to it.
        let (third, _) = makeStore(roots: roots, capacity: 2 * 4 * objectDiskSize, backend: backend)
        third.waitForScan()
        XCTAssertLessThanOrEqual(third.usage.bytes, 8 * objectDiskSize)
        XCTAssertLessThanOrEqual(try cacheFiles(dir + "/a").count + cacheFiles(dir + "/b").count, 8)
    }

    func testDamagedCacheFileIsDroppedAndRefetched() throws {
        let dir = makeTempDirectory(self)
        let (store, backend) = makeStore(roots: [dir], capacity: 1 << 30)
        let data = pattern(50_000, seed: 3)
        try store.put(blockKey(1), data)
        store.waitForWrites()
        let file = store.cacheFilePath(blockKey(1))!
        try damage(file, at: -100)
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), data)
        XCTAssertEqual(backend!.gets, 1)
        store.waitForWrites()
        // Cached again, good this time.
        XCTAssertEqual(try store.get(blockKey(1), offset: 0, length: nil), data)
        XCTAssertEqual(backend!.gets, 1)

        // Truncated: a ranged get notices the length and goes to the backend.
        let fd = open(file, O_WRONLY)
        XCTAssertEqual(ftruncate(fd, 1000), 0)
        close(fd)
        XCTAssertEqual(try store.get(blockKey(1), offset: 40_000, length: 10), Array(data[40_000..<40_010]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
    }

    /// Damage the cache's own checks cannot see in a ranged read is caught by the codec's
    /// segment checksums; the codec drops the copy and reads from the backend.
    func testCodecDropsADamagedCopyAndRetriesFromTheBackend() throws {
        let dir = makeTempDirectory(self)
        let (disk, backend) = makeStore(roots: [dir], capacity: 1 << 30)
        let codec = CodecStore(disk, compression: .none)
        let data = pattern(300_000, seed: 4)
        try codec.put(blockKey(1, length: 300_000), data)
        disk.waitForWrites()
        let file = disk.cacheFilePath(blockKey(1, length: 300_000))!
        try damage(file, at: -1000)  // in the last segment
        XCTAssertEqual(try codec.get(blockKey(1, length: 300_000), offset: 299_000, length: 100),
                       Array(data[299_000..<299_100]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
        XCTAssertEqual(backend!.gets, 2)  // prefix and segment, from the backend this time
        XCTAssertEqual(try codec.get(blockKey(1, length: 300_000), offset: 0, length: nil), data)

        // Whole reads: the cache's own CRC catches it before the codec sees it.
        disk.waitForWrites()
        try damage(file, at: 100)
        XCTAssertEqual(try codec.get(blockKey(1, length: 300_000), offset: 0, length: nil), data)
    }

    func testAFailingRootDegradesToTheBackend() throws {
        let dir = makeTempDirectory(self)
        let roots = [dir + "/a", dir + "/b"]
        let (store, backend) = makeStore(roots: roots, capacity: 1 << 30)
        for i in 0..<20 { try store.put(blockKey(i), pattern(1000, seed: i)) }
        store.waitForWrites()
        // Root a's directory disappears and cannot be recreated.
        try FileManager.default.removeItem(atPath: dir + "/a/uuid-1")
        FileManager.default.createFile(atPath: dir + "/a/uuid-1", contents: Data([1]))
        for i in 20..<40 { try store.put(blockKey(i), pattern(1000, seed: i)) }
        store.waitForWrites()
        XCTAssertEqual(store.rootsInService, [dir + "/b"])
        for i in 0..<40 { XCTAssertEqual(try store.get(blockKey(i), offset: 0, length: nil), pattern(1000, seed: i)) }
        XCTAssertGreaterThan(backend!.gets, 0)

        // A root unusable from the start is left out; the other still caches.
        let (late, lateBackend) = makeStore(roots: [dir + "/a/uuid-1/x", dir + "/c"], capacity: 1 << 30)
        XCTAssertEqual(late.rootsInService, [dir + "/c"])
        for i in 0..<10 {
            try late.put(blockKey(i), pattern(1000, seed: i))
            XCTAssertEqual(try late.get(blockKey(i), offset: 0, length: nil), pattern(1000, seed: i))
        }
        _ = lateBackend
    }

    func testBlocksAreSpreadOverTheRoots() throws {
        let dir = makeTempDirectory(self)
        let roots = [dir + "/a", dir + "/b", dir + "/c"]
        let (store, _) = makeStore(roots: roots, capacity: 1 << 30)
        for i in 0..<60 { try store.put(blockKey(i), pattern(100, seed: i)) }
        store.waitForWrites()
        let counts = try roots.map { try cacheFiles($0).count }
        XCTAssertEqual(counts.reduce(0, +), 60)
        XCTAssertTrue(counts.allSatisfy { $0 > 5 })
        for i in 0..<60 {
            let expected = store.config.blocksDirectory(store.config.root(for: blockKey(i)))
            XCTAssertTrue(store.cacheFilePath(blockKey(i))!.hasPrefix(expected + "/"))
        }
    }

    func testWarmWritesBeforeReturning() throws {
        let dir = makeTempDirectory(self)
        let (store, backend) = makeStore(roots: [dir], capacity: 1 << 30)
        try backend!.put(blockKey(1), pattern(5000, seed: 1))
        XCTAssertTrue(try store.warm(blockKey(1)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.cacheFilePath(blockKey(1))!))
        XCTAssertTrue(try store.warm(blockKey(1)))
        XCTAssertEqual(backend!.gets, 1)
        XCTAssertThrowsError(try store.warm(blockKey(2)))
    }

    func testIndexEntriesStaySmall() {
        XCTAssertEqual(MemoryLayout<CacheIndex.Entry>.stride, 24)
        XCTAssertEqual(MemoryLayout<CacheName>.stride, 16)
    }

    /// The cache files below a root.
    func cacheFiles(_ root: String) throws -> [String] {
        let blocks = root + "/uuid-1/blocks"
        var out: [String] = []
        for bucket in (try? FileManager.default.contentsOfDirectory(atPath: blocks)) ?? [] {
            for f in try FileManager.default.contentsOfDirectory(atPath: blocks + "/" + bucket) where !f.hasPrefix(".") {
                out.append(blocks + "/" + bucket + "/" + f)
            }
        }
        return out
    }
}
