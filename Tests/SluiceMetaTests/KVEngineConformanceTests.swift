import Foundation
import CSQLite
import SluiceBase
@testable import SluiceMeta
import SluiceTestSupport
import XCTest

final class MemoryEngineConformanceTests: XCTestCase {
    func testConformance() {
        KVEngineConformance(make: { MemoryEngine() }).runAll()
    }
}

final class SQLiteEngineConformanceTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-sqlite-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func testConformance() {
        var count = 0
        var last = ""
        KVEngineConformance(
            make: {
                count += 1
                last = self.path("conformance-\(count).db")
                return try SQLiteEngine(path: last, create: true)
            },
            reopen: { try SQLiteEngine(path: last, create: false) }
        ).runAll()
    }

    /// Two engines on one file each run several writer threads: sqlite's file locks, not the
    /// per-engine writer gate, must keep every increment.
    func testTwoEnginesOnOneFileLoseNoUpdate() throws {
        let file = path("shared.db")
        let one = try SQLiteEngine(path: file, create: true)
        let two = try SQLiteEngine(path: file, create: false)
        defer { one.close(); two.close() }
        let key = Array("n".utf8)
        let engines = [one, two]
        let group = DispatchGroup()
        let failures = Locked<[String]>([])
        for thread in 0..<6 {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    for _ in 0..<150 { _ = try engines[thread % 2].write { try $0.increment(key, by: 1) } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }.start()
        }
        group.wait()
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(try one.read { try $0.counter(key) }, 900)
        XCTAssertEqual(try two.read { try $0.counter(key) }, 900)
    }

    func testMissingFileWithoutCreateIsUsageError() {
        let file = path("missing.db")
        XCTAssertThrowsError(try SQLiteEngine(path: file, create: false)) { error in
            XCTAssertEqual((error as? UsageError)?.message, "database \(file) does not exist")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "nothing created")
    }

    func testGarbageFileIsClearError() throws {
        let file = path("garbage.db")
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try SQLiteEngine(path: file, create: false)) { error in
            let message = "\(error)"
            XCTAssertTrue(error is UsageError, "got \(type(of: error)): \(message)")
            XCTAssertTrue(message.contains(file), message)
            XCTAssertTrue(message.contains("not a database"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testForeignDatabaseWithoutCreateIsLeftUnchanged() throws {
        let file = path("foreign.db")
        var db: OpaquePointer?
        XCTAssertEqual(sqlite3_open(file, &db), SQLITE_OK)
        XCTAssertEqual(sqlite3_exec(db, "CREATE TABLE unrelated(x)", nil, nil, nil), SQLITE_OK)
        sqlite3_close(db)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try SQLiteEngine(path: file, create: false)) { error in
            XCTAssertEqual((error as? UsageError)?.message, "database \(file) holds no Sluice metadata: run `sluice format` first")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), before, "the foreign database was changed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file + "-wal"))
    }

    func testDirectoryInsteadOfFileIsUsageError() {
        XCTAssertThrowsError(try SQLiteEngine(path: directory.path, create: true)) { error in
            XCTAssertTrue(error is UsageError, "\(error)")
            XCTAssertTrue("\(error)".contains(directory.path), "\(error)")
        }
    }

    func testUsesWALAndSyncSucceeds() throws {
        let file = path("wal.db")
        let engine = try SQLiteEngine(path: file, create: true)
        defer { engine.close() }
        try engine.write { try $0.set([1], [2]) }
        try engine.sync()
        XCTAssertTrue(FileManager.default.fileExists(atPath: file + "-wal"))
    }

    func testClosedEngineThrows() throws {
        let engine = try SQLiteEngine(path: path("closed.db"), create: true)
        engine.close()
        XCTAssertThrowsError(try engine.read { try $0.get([1]) }) { XCTAssertTrue($0 is EngineError, "\($0)") }
    }

    func testManyConcurrentReadersBeyondPoolSize() throws {
        let engine = try SQLiteEngine(path: path("readers.db"), create: true)
        defer { engine.close() }
        try engine.write { tx in for i in 0..<100 { try tx.set([UInt8(i)], [UInt8(i)]) } }
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let value = try? engine.read { tx -> [UInt8]? in
                _ = try tx.scan(prefix: [], after: nil, limit: 100)
                return try tx.get([UInt8(i)])
            }
            XCTAssertEqual(value, [UInt8(i)])
        }
    }
}

final class MetaEnginesTests: XCTestCase {
    func testSchemesAndPaths() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-url-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("m.db").path
        let engine = try MetaEngines.open(url: "sqlite3://\(file)?cache=shared", create: true)
        defer { engine.close() }
        XCTAssertEqual(engine.scheme, "sqlite3")
        XCTAssertEqual((engine as? SQLiteEngine)?.path, file)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
    }

    func testRelativeSQLitePath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-rel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        let engine = try MetaEngines.open(url: "sqlite3://rel.db", create: true)
        defer { engine.close() }
        XCTAssertEqual((engine as? SQLiteEngine)?.path, "rel.db")
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("rel.db").path))
    }

    func testNamedMemoryEnginesAreShared() throws {
        let name = "memory://shared-\(UUID().uuidString)"
        let one = try MetaEngines.open(url: name, create: true)
        let two = try MetaEngines.open(url: name + "?ignored=1", create: false)
        XCTAssertTrue(one === two)
        let fresh1 = try MetaEngines.open(url: "memory://", create: true)
        let fresh2 = try MetaEngines.open(url: "memory://", create: true)
        XCTAssertFalse(fresh1 === fresh2)
        XCTAssertEqual(fresh1.scheme, "memory")
    }

    func testBadURLsAreUsageErrors() {
        let cases: [(String, String)] = [
            ("foo://x", #"unsupported metadata engine "foo" in "foo://x" (supported: sqlite3://, redis://, rediss://, postgres://, memory://)"#),
            ("rediss://u:pw@h/1?tls-cert-file=/c.pem",
             #"metadata engine URL "rediss://u:****@h/1?tls-cert-file=/c.pem": tls-cert-file and tls-key-file go together"#),
            ("redis://u:pw@h/x", #"metadata engine URL "redis://u:****@h/x": database "x" is not a number"#),
            ("/var/lib/meta.db", #"metadata engine URL "/var/lib/meta.db" has no scheme (supported: sqlite3://, redis://, rediss://, postgres://, memory://)"#),
            ("sqlite3://", #"metadata engine URL "sqlite3://" names no database file"#),
            ("sqlite3://?x=y", #"metadata engine URL "sqlite3://?x=y" names no database file"#),
        ]
        for (url, message) in cases {
            XCTAssertThrowsError(try MetaEngines.open(url: url, create: true), url) { error in
                XCTAssertEqual((error as? UsageError)?.message, message, url)
            }
        }
    }

    func testRedactedURL() {
        XCTAssertEqual(MetaEngines.redactedURL("redis://user:secret@host:6379/1"), "redis://user:****@host:6379/1")
        XCTAssertEqual(MetaEngines.redactedURL("redis://:secret@host/1"), "redis://:****@host/1")
        XCTAssertEqual(MetaEngines.redactedURL("postgres://u:p@ss@db/x?sslmode=off"), "postgres://u:****@db/x?sslmode=off")
        XCTAssertEqual(MetaEngines.redactedURL("redis://user@host/1"), "redis://user@host/1")
        XCTAssertEqual(MetaEngines.redactedURL("sqlite3:///var/lib/a:b@c.db"), "sqlite3:///var/lib/a:b@c.db")
        XCTAssertEqual(MetaEngines.redactedURL("not a url"), "not a url")
    }
}

final class KeyBytesTests: XCTestCase {
    func testPrefixEnd() {
        XCTAssertEqual(KeyBytes.prefixEnd([]), nil)
        XCTAssertEqual(KeyBytes.prefixEnd([0xFF, 0xFF]), nil)
        XCTAssertEqual(KeyBytes.prefixEnd([0x01, 0xFF]), [0x02])
        XCTAssertEqual(KeyBytes.prefixEnd([0x01, 0x00]), [0x01, 0x01])
    }

    func testScanStart() {
        XCTAssertEqual(KeyBytes.scanStart(prefix: [1], after: nil), [1])
        XCTAssertEqual(KeyBytes.scanStart(prefix: [1], after: [0, 9]), [1])
        XCTAssertEqual(KeyBytes.scanStart(prefix: [1], after: [1]), [1, 0])
        XCTAssertEqual(KeyBytes.scanStart(prefix: [1], after: [1, 5]), [1, 5, 0])
    }
}
