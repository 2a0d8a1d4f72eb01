import Foundation
import SluiceBase
@testable import SluiceObject
import SluiceTestSupport
import XCTest

/// A fresh temporary directory, removed when the test ends.
func makeTempDirectory(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "sluice-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

final class LocalStoreTests: XCTestCase {
    func testConformance() throws {
        ObjectStoreConformance.runAll(on: LocalStore(root: makeTempDirectory(self)))
    }

    func testPartialTemporaryIsInvisible() throws {
        let root = makeTempDirectory(self)
        let store = LocalStore(root: root)
        try store.put("v/chunks/0/0/1_0_4", [1, 2, 3, 4])
        // What a put that died half way leaves behind: a temporary beside the object.
        let temp = root + "/v/chunks/0/0/" + LocalStore.tempPrefix + "123.456"
        _ = FileManager.default.createFile(atPath: temp, contents: Data([9, 9]))
        let alone = root + "/v/chunks/0/1/" + LocalStore.tempPrefix + "1.2"
        try FileManager.default.createDirectory(atPath: root + "/v/chunks/0/1", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: alone, contents: Data([7]))

        XCTAssertEqual(try store.list(prefix: "", after: nil, limit: 100).map(\.key), ["v/chunks/0/0/1_0_4"])
        XCTAssertEqual(try store.list(prefix: "v/chunks/0/1/", after: nil, limit: 100).count, 0)
        XCTAssertThrowsError(try store.get("v/chunks/0/1/\(LocalStore.tempPrefix)1.2", offset: 0, length: nil))
        XCTAssertThrowsError(try store.put("x/\(LocalStore.tempPrefix)y", [1]))
        XCTAssertEqual(try store.get("v/chunks/0/0/1_0_4", offset: 0, length: nil), [1, 2, 3, 4])
    }

    func testPutLeavesNoTemporaries() throws {
        let root = makeTempDirectory(self)
        let store = LocalStore(root: root)
        for i in 0..<20 { try store.put("d/k\(i)", [UInt8(i)]) }
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/d")
        XCTAssertEqual(names.filter { $0.hasPrefix(".") }, [])
        XCTAssertEqual(names.count, 20)
    }

    func testDeleteRemovesEmptyDirectoriesAndSync() throws {
        let root = makeTempDirectory(self)
        let store = LocalStore(root: root)
        try store.put("v/chunks/0/0/1_0_1", [1])
        try store.put("v/chunks/0/0/2_0_1", [2])
        try store.sync(["v/chunks/0/0/1_0_1", "v/chunks/0/0/2_0_1"])
        try store.delete("v/chunks/0/0/1_0_1")
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/v/chunks/0/0"))
        try store.delete("v/chunks/0/0/2_0_1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/v"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: root))
        XCTAssertThrowsError(try store.sync(["v/missing"])) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
    }

    func testInvalidKeys() {
        let store = LocalStore(root: makeTempDirectory(self))
        for key in ["", "/abs", "a/../b", "a//b", "a/", "./a"] {
            XCTAssertThrowsError(try store.put(key, [1]), "key \(key)")
        }
    }
}

final class MemoryStoreTests: XCTestCase {
    func testConformance() {
        ObjectStoreConformance.runAll(on: MemoryStore())
    }
}

final class ObjectStoresTests: XCTestCase {
    func testUnknownStorage() {
        XCTAssertThrowsError(try ObjectStores.open(storage: "ftp", bucket: "x")) { error in
            XCTAssertEqual((error as? UsageError)?.message, "unsupported storage \"ftp\" (supported: file, mem, s3)")
        }
    }

    func testUnwritableDirectory() throws {
        let root = makeTempDirectory(self)
        let file = root + "/plain"
        _ = FileManager.default.createFile(atPath: file, contents: Data([1]))
        for bucket in [file + "/sub", file] {
            XCTAssertThrowsError(try ObjectStores.open(storage: "file", bucket: bucket)) { error in
                let message = (error as? UsageError)?.message ?? "\(error)"
                XCTAssertTrue(message.hasPrefix("bucket directory \(bucket) is not writable: "), message)
                XCTAssertTrue(message.contains("Not a directory"), message)
            }
        }
    }

    func testFileCreatesDirectoryAndAcceptsURL() throws {
        let root = makeTempDirectory(self)
        let store = try ObjectStores.open(storage: "file", bucket: "file://\(root)/new/vol")
        try store.put("k", [1, 2])
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/new/vol/k"))
        XCTAssertEqual(store.description, "file://\(root)/new/vol/")
        XCTAssertEqual(try store.list(prefix: "", after: nil, limit: 10).map(\.key), ["k"], "probe left nothing")
    }

    func testMemorySharedByBucket() throws {
        let a = try ObjectStores.open(storage: "mem", bucket: "shared-\(#line)")
        let b = try ObjectStores.open(storage: "mem", bucket: "shared-\(#line - 1)")
        let c = try ObjectStores.open(storage: "mem", bucket: "other-\(#line)")
        try a.put("k", [5])
        XCTAssertEqual(try b.get("k", offset: 0, length: nil), [5])
        XCTAssertNil(try c.head("k"))
    }

    func testDefaultBucketRoot() {
        XCTAssertTrue(ObjectStores.defaultBucketRoot.hasSuffix("/local"))
    }
}
