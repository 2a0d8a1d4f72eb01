import Foundation
import SluiceBase
import SluiceObject
import SluiceTestSupport
import XCTest
@testable import SluiceCache

/// A fresh directory for one test, removed after it.
private func writebackTempDirectory(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "sluice-writeback-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Polls `condition` until it holds or `timeout` seconds pass; whether it held.
private func eventually(timeout: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(5_000)
    }
    return try condition()
}

/// Regular files under `dir` (staged objects and temporaries), relative paths.
private func filesUnder(_ dir: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
    var out: [String] = []
    while let rel = walker.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
            out.append(rel)
        }
    }
    return out.sorted()
}

/// A backend the test controls: puts can be held (to catch an upload in flight) or failed.
private final class ControlledStore: ObjectStore, @unchecked Sendable {
    // @unchecked: the vars are only touched while `cond` is locked.
    let base = MemoryStore()
    private let cond = NSCondition()
    private var holding = false
    private var failing = false
    private var held = 0

    var description: String { "controlled" }

    func hold(_ on: Bool) {
        cond.lock()
        holding = on
        cond.broadcast()
        cond.unlock()
    }

    func fail(_ on: Bool) {
        cond.lock()
        failing = on
        cond.unlock()
    }

    /// Puts waiting at the gate.
    var heldPuts: Int { cond.withLock { held } }

    private func check() throws {
        if cond.withLock({ failing }) { throw EngineError("backend is down") }
    }

    func put(_ key: String, _ data: [UInt8]) throws {
        cond.lock()
        while holding {
            held += 1
            cond.wait()
            held -= 1
        }
        cond.unlock()
        try check()
        try base.put(key, data)
    }

    func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        try check()
        return try base.get(key, offset: offset, length: length)
    }

    func head(_ key: String) throws -> ObjectInfo? {
        try check()
        return try base.head(key)
    }

    func delete(_ key: String) throws {
        try check()
        try base.delete(key)
    }

    func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try check()
        return try base.list(prefix: prefix, after: after, limit: limit)
    }

    func sync(_ keys: [String]) throws { try check() }
}

final class WritebackStoreTests: XCTestCase {
    let key = "vol/chunks/0/0/7_0_1000"

    func cacheConfig(_ root: String, roots: Int = 1) -> LocalCacheConfig {
        LocalCacheConfig(roots: (0..<roots).map { "\(root)/cache\($0)" }, volumeUUID: "uuid-1", capacity: 0,
                         writeback: true)
    }

    func makeStore(_ base: any ObjectStore, cache: LocalCacheConfig, delay: Double = 0,
                   threads: Int = 4) throws -> WritebackStore {
        let store = try WritebackStore(base, cache: cache,
                                       config: WritebackConfig(uploadThreads: threads, uploadDelay: delay,
                                                               retryDelay: 0.01, maxRetryDelay: 0.05))
        addTeardownBlock { store.shutdown(timeout: 0) }
        return store
    }

    func stagedFiles(_ cache: LocalCacheConfig) -> [String] {
        cache.roots.flatMap { filesUnder(cache.stagingDirectory($0)) }
    }

    // MARK: - Conformance

    func testConformanceWithUploadsRacingReads() throws {
        let backend = MemoryStore()
        let cache = cacheConfig(writebackTempDirectory(self), roots: 2)
        let store = try makeStore(backend, cache: cache)
        ObjectStoreConformance.runAll(on: store)
        XCTAssertTrue(store.waitUntilUploaded(timeout: 60), "every staged object is uploaded")
        XCTAssertEqual(stagedFiles(cache), [], "uploaded objects leave the staging directory")
    }

    func testConformanceWhileEverythingIsStaged() throws {
        let backend = MemoryStore()
        let store = try makeStore(backend, cache: cacheConfig(writebackTempDirectory(self)), delay: 3600)
        ObjectStoreConformance.runAll(on: store)
        XCTAssertEqual(backend.count, 0, "nothing is uploaded before the delay")
    }

    func testConformanceOverLocalBackend() throws {
        let dir = writebackTempDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/bucket", withIntermediateDirectories: true)
        let store = try makeStore(LocalStore(root: dir + "/bucket"), cache: cacheConfig(dir))
        ObjectStoreConformance.runAll(on: store)
        XCTAssertTrue(store.waitUntilUploaded(timeout: 60))
    }

    // MARK: - Staging and upload

    func testStagedPutIsVisibleAtOnceAndUploadedLater() throws {
        let backend = MemoryStore()
        let cache = cacheConfig(writebackTempDirectory(self))
        let store = try makeStore(backend, cache: cache, delay: 3600)
        let data = ObjectStoreConformance.pattern(1000, seed: 42)
        try store.put(key, data)
        XCTAssertEqual(try store.get(key, offset: 0, length: nil), data)
        XCTAssertEqual(try store.get(key, offset: 10, length: 20), Array(data[10..<30]), "ranged read of a staged file")
        XCTAssertEqual(try store.head(key)?.size, 1000)
        XCTAssertEqual(try store.list(prefix: "vol/", after: nil, limit: 10).map(\.key), [key])
        XCTAssertNil(try backend.head(key), "the put returned before any upload")
        XCTAssertEqual(stagedFiles(cache), ["vol/chunks/0/0/7_0_1000"], "staged under its key")
        XCTAssertEqual(store.stagedCount, 1)

        XCTAssertEqual(store.shutdown(timeout: 30), 0, "unmount uploads what is staged, delay or not")
        XCTAssertEqual(try backend.get(key, offset: 0, length: nil), data)
        XCTAssertEqual(stagedFiles(cache), [])
    }

    func testUploadsStartAfterTheDelay() throws {
        let backend = MemoryStore()
        let store = try makeStore(backend, cache: cacheConfig(writebackTempDirectory(self)), delay: 0.2)
        try store.put(key, [1, 2, 3])
        XCTAssertTrue(store.waitUntilUploaded(timeout: 30))
        XCTAssertEqual(try backend.get(key, offset: 0, length: nil), [1, 2, 3])
    }

    func testDeleteBeforeUpload() throws {
        let backend = MemoryStore()
        let cache = cacheConfig(writebackTempDirectory(self))
        let store = try makeStore(backend, cache: cache, delay: 3600)
        try store.put(key, [1, 2, 3])
        try store.delete(key)
        XCTAssertNil(try store.head(key))
        XCTAssertThrowsError(try store.get(key, offset: 0, length: nil)) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
        XCTAssertEqual(try store.list(prefix: "", after: nil, limit: 10), [])
        XCTAssertEqual(stagedFiles(cache), [])
        XCTAssertEqual(store.shutdown(timeout: 30), 0)
        XCTAssertEqual(backend.count, 0, "a deleted object is never uploaded")
    }

    func testDeleteDuringUploadDoesNotLeaveTheObjectBehind() throws {
        let backend = ControlledStore()
        let cache = cacheConfig(writebackTempDirectory(self))
        let store = try makeStore(backend, cache: cache)
        backend.hold(true)
        try store.put(key, [9, 9, 9])
        XCTAssertTrue(eventually { backend.heldPuts == 1 }, "the upload reached the backend")
        try store.delete(key)
        XCTAssertNil(try store.head(key), "deleted while its upload is in flight")
        XCTAssertThrowsError(try store.get(key, offset: 0, length: nil))
        XCTAssertEqual(try store.list(prefix: "", after: nil, limit: 10), [])
        backend.hold(false)  // the upload now lands in the backend, after the delete
        XCTAssertTrue(store.waitUntilUploaded(timeout: 30))
        XCTAssertNil(try backend.base.head(key), "the upload's copy was deleted too")
        XCTAssertNil(try store.head(key))
        XCTAssertEqual(stagedFiles(cache), [])
    }

    func testPutAgainDuringUploadUploadsTheNewVersion() throws {
        let backend = ControlledStore()
        let store = try makeStore(backend, cache: cacheConfig(writebackTempDirectory(self)))
        backend.hold(true)
        try store.put(key, [1])
        XCTAssertTrue(eventually { backend.heldPuts == 1 })
        try store.put(key, [2, 2])
        XCTAssertEqual(try store.get(key, offset: 0, length: nil), [2, 2])
        backend.hold(false)
        XCTAssertTrue(store.waitUntilUploaded(timeout: 30))
        XCTAssertEqual(try backend.base.get(key, offset: 0, length: nil), [2, 2])
    }

    // MARK: - Restart, failures, fallback

    func testRestartResumesUploadsFromDisk() throws {
        let backend = MemoryStore()
        let root = writebackTempDirectory(self)
        let cache = cacheConfig(root, roots: 2)
        let first = try makeStore(backend, cache: cache, delay: 3600)
        let keys = (0..<20).map { "vol/chunks/0/\($0 % 3)/\($0)_0_\(100 + $0)" }
        for (i, k) in keys.enumerated() { try first.put(k, ObjectStoreConformance.pattern(100 + i, seed: i)) }
        // What a crash leaves: staged files (the process stopped uploading), plus the temporary
        // of a put that never returned.
        XCTAssertEqual(first.shutdown(timeout: 0), 20)
        XCTAssertEqual(backend.count, 0)
        let orphanDir = cache.stagingDirectory(cache.roots[0]) + "/vol/chunks/9"
        try FileManager.default.createDirectory(atPath: orphanDir, withIntermediateDirectories: true)
        let orphan = orphanDir + "/" + StagingArea.tempPrefix + "1.2"
        XCTAssertTrue(FileManager.default.createFile(atPath: orphan, contents: Data([1, 2])))

        let second = try makeStore(backend, cache: cache)
        for (i, k) in keys.enumerated() {
            XCTAssertEqual(try second.get(k, offset: 0, length: nil), ObjectStoreConformance.pattern(100 + i, seed: i))
        }
        XCTAssertTrue(second.waitUntilUploaded(timeout: 60))
        for (i, k) in keys.enumerated() {
            XCTAssertEqual(try backend.get(k, offset: 0, length: nil), ObjectStoreConformance.pattern(100 + i, seed: i),
                           "\(k) uploaded after the restart")
        }
        XCTAssertEqual(stagedFiles(cache), [], "staging is empty, the orphaned temporary removed")
    }

    func testRestartKeepsTheDelayFromWhenTheObjectWasStaged() throws {
        let backend = MemoryStore()
        let cache = cacheConfig(writebackTempDirectory(self))
        let first = try makeStore(backend, cache: cache, delay: 3600)
        try first.put(key, [5])
        first.shutdown(timeout: 0)
        let second = try makeStore(backend, cache: cache, delay: 3600)
        XCTAssertFalse(second.waitUntilUploaded(timeout: 0.3), "still delayed after the restart")
        XCTAssertEqual(backend.count, 0)
        XCTAssertEqual(try second.get(key, offset: 0, length: nil), [5])
    }

    func testRestartWithOtherRootsFindsAndReplacesStagedObjects() throws {
        let backend = MemoryStore()
        let dir = writebackTempDirectory(self)
        let one = LocalCacheConfig(roots: [dir + "/a"], volumeUUID: "u", capacity: 0, writeback: true)
        let two = LocalCacheConfig(roots: [dir + "/b", dir + "/a"], volumeUUID: "u", capacity: 0, writeback: true)
        // A key that the two-root configuration stages in the new root.
        let moved = try XCTUnwrap((0..<100).map { "vol/chunks/0/0/\($0)_0_1" }.first { two.root(for: $0) == dir + "/b" })
        let first = try makeStore(backend, cache: one, delay: 3600)
        try first.put(moved, [1])
        first.shutdown(timeout: 0)

        let second = try makeStore(backend, cache: two, delay: 3600)
        XCTAssertEqual(try second.get(moved, offset: 0, length: nil), [1], "found in the root it was staged in")
        try second.put(moved, [2])
        XCTAssertEqual(stagedFiles(two), [moved], "the old version in the other root is gone")
        XCTAssertEqual(second.shutdown(timeout: 30), 0)
        XCTAssertEqual(try backend.get(moved, offset: 0, length: nil), [2])
        XCTAssertEqual(stagedFiles(two), [])
    }

    func testBackendFailuresAreRetriedWithoutLoss() throws {
        let memory = MemoryStore()
        let faulty = FaultStore(memory, failureRate: 0.5, seed: 7)
        let store = try makeStore(faulty, cache: cacheConfig(writebackTempDirectory(self)), threads: 3)
        let keys = (0..<40).map { "vol/chunks/0/0/\($0)_0_\($0 * 10)" }
        for (i, k) in keys.enumerated() { try store.put(k, ObjectStoreConformance.pattern(i * 10, seed: i)) }
        XCTAssertTrue(store.waitUntilUploaded(timeout: 60))
        XCTAssertGreaterThan(faulty.injectedFailures, 10, "the backend did fail")
        for (i, k) in keys.enumerated() {
            XCTAssertEqual(try memory.get(k, offset: 0, length: nil), ObjectStoreConformance.pattern(i * 10, seed: i))
        }
    }

    func testBackendOutageKeepsDataStagedAndReadable() throws {
        let backend = ControlledStore()
        let cache = cacheConfig(writebackTempDirectory(self))
        let store = try makeStore(backend, cache: cache)
        backend.fail(true)
        try store.put(key, [4, 5, 6])
        try store.sync([key])  // durable on the staging disk; the backend is not asked
        XCTAssertEqual(try store.get(key, offset: 0, length: nil), [4, 5, 6])
        XCTAssertFalse(store.waitUntilUploaded(timeout: 0.3), "nothing uploads while the backend is down")
        XCTAssertEqual(stagedFiles(cache), [key])
        backend.fail(false)
        XCTAssertTrue(store.waitUntilUploaded(timeout: 30), "uploaded once the backend is back")
        XCTAssertEqual(try backend.base.get(key, offset: 0, length: nil), [4, 5, 6])
    }

    func testStagingFailureFallsBackToADirectPut() throws {
        let backend = MemoryStore()
        let root = writebackTempDirectory(self)
        let cache = cacheConfig(root)
        // The volume's cache directory is a file: no staging file can be created under it.
        try FileManager.default.createDirectory(atPath: cache.roots[0], withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: cache.volumeDirectory(cache.roots[0]), contents: Data()))
        let store = try makeStore(backend, cache: cache, delay: 3600)
        try store.put(key, [7, 7])
        XCTAssertEqual(try backend.get(key, offset: 0, length: nil), [7, 7], "written straight to the backend")
        XCTAssertEqual(try store.get(key, offset: 0, length: nil), [7, 7])
        XCTAssertEqual(store.stagedCount, 0)
    }
}
