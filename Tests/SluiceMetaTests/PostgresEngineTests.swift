import Foundation
import SluiceBase
@testable import SluiceMeta
import SluiceTestSupport
import XCTest

/// PostgresEngine against a throwaway PostgreSQL 15 cluster (one per test class and process).
/// Fails, never skips, when PostgreSQL is not installed.
final class PostgresEngineTests: XCTestCase {
    nonisolated(unsafe) private static var server: PostgresTestServer?
    nonisolated(unsafe) private static var startFailure: (any Error)?

    override class func setUp() {
        super.setUp()
        do { server = try PostgresTestServer.start() } catch { startFailure = error }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    private var server: PostgresTestServer!

    override func setUpWithError() throws {
        if let failure = Self.startFailure { throw failure }
        server = try XCTUnwrap(Self.server)
    }

    // MARK: Shared suites

    func testConformance() {
        let url = server.url()
        KVEngineConformance(make: { try PostgresEngine(url: url) },
                            reopen: { try PostgresEngine(url: url) }).runAll()
    }

    func testMetaConformance() {
        // Its own table, which also exercises ?table=.
        let url = server.url(extra: "table=meta_kv")
        MetaConformance(make: { try PostgresEngine(url: url) }).runAll()
    }

    // MARK: Ordering and the write overlay

    /// bytea must order exactly as memcmp (a shorter key first), 0x00 and 0xFF included, both
    /// in what the server returns and in scans merged with a transaction's buffered writes.
    func testByteaOrderIsMemcmpAndOverlayScansMerge() throws {
        let engine = try PostgresEngine(url: server.url(extra: "table=order_kv"))
        defer { engine.close() }
        try engine.reset()
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]
        func randomKey() -> [UInt8] {
            (0..<Int.random(in: 1...5, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
        }
        var model: [[UInt8]: [UInt8]] = [:]
        try engine.write { tx in
            for _ in 0..<300 {
                let key = randomKey()
                model[key] = key + [0x42]
                try tx.set(key, key + [0x42])
            }
        }
        let sorted = model.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let all = try engine.read { try $0.scan(prefix: [], after: nil, limit: 10_000) }
        XCTAssertEqual(all.map(\.key), sorted, "server order is memcmp order")

        // Random buffered changes, then scans of every prefix inside the same transaction.
        try engine.write { tx in
            var mine = model
            for _ in 0..<80 {
                let key = Bool.random(using: &generator) ? sorted.randomElement(using: &generator)! : randomKey()
                if Bool.random(using: &generator) {
                    mine[key] = [0x99]
                    try tx.set(key, [0x99])
                } else {
                    mine[key] = nil
                    try tx.delete(key)
                }
            }
            let expectedAll = mine.keys.sorted { $0.lexicographicallyPrecedes($1) }
            for prefix in [[], [0x00], [0x01], [0x7F], [0xFF], [0xFF, 0xFF], [0x00, 0xFF]] as [[UInt8]] {
                for limit in [1, 5, 1_000] {
                    for after in [nil, [0x00], [0x7F, 0xFF], [0xFF, 0x00]] as [[UInt8]?] {
                        let expected = expectedAll.filter { key in
                            key.starts(with: prefix) && (after.map { $0.lexicographicallyPrecedes(key) } ?? true)
                        }.prefix(limit).map { KVPair(key: $0, value: mine[$0]!) }
                        let actual = try tx.scan(prefix: prefix, after: after, limit: limit)
                        XCTAssertEqual(actual, Array(expected), "prefix \(prefix) after \(String(describing: after)) limit \(limit)")
                    }
                }
            }
        }
    }

    // MARK: Failures

    func testConnectionRefusedIsQuickClearError() throws {
        let started = Date()
        XCTAssertThrowsError(try PostgresEngine(url: "postgres://postgres:secret@127.0.0.1:1/sluice")) { error in
            let message = "\(error)"
            XCTAssertTrue(error is EngineError, "\(type(of: error)): \(message)")
            XCTAssertTrue(message.contains("cannot open postgres database postgres@127.0.0.1:1/sluice"), message)
            XCTAssertTrue(message.lowercased().contains("refused"), message)
            XCTAssertFalse(message.contains("secret"), message)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "fails fast")
    }

    func testBadPasswordIsClearError() {
        XCTAssertThrowsError(try PostgresEngine(url: server.url(password: "wrong-pw"))) { error in
            let message = "\(error)"
            XCTAssertTrue(error is UsageError, "\(type(of: error)): \(message)")
            XCTAssertTrue(message.contains("password authentication failed"), message)
            XCTAssertTrue(message.contains("28P01"), message)
            XCTAssertFalse(message.contains("wrong-pw"), message)
        }
    }

    func testMissingDatabaseIsUsageError() {
        let url = "postgres://postgres:\(server.password)@127.0.0.1:\(server.port)/no_such_db"
        XCTAssertThrowsError(try PostgresEngine(url: url)) { error in
            XCTAssertTrue(error is UsageError, "\(error)")
            XCTAssertTrue("\(error)".contains("no_such_db"), "\(error)")
        }
    }

    /// The server restarts between two transactions: the pooled connections are dead, and the
    /// next transaction reconnects and succeeds with nothing lost.
    func testServerRestartBetweenTransactions() throws {
        let engine = try PostgresEngine(url: server.url(extra: "table=restart_kv"))
        defer { engine.close() }
        try engine.reset()
        try engine.write { try $0.set(bytes("before"), bytes("1")) }
        try server.restart()
        try engine.write { try $0.set(bytes("after"), bytes("2")) }
        let pairs = try engine.read { try $0.scan(prefix: [], after: nil, limit: 10) }
        XCTAssertEqual(pairs.map(\.key), [bytes("after"), bytes("before")])
    }

    /// Writers keep incrementing a counter while the server restarts under them. Every
    /// increment reported as done must be counted exactly once: none lost, none applied twice
    /// (a COMMIT cut off by the restart is resolved, not blindly rerun).
    func testServerRestartUnderLoadLosesAndDuplicatesNothing() throws {
        let engine = try PostgresEngine(url: server.url(extra: "table=load_kv"))
        defer { engine.close() }
        try engine.reset()
        let key = bytes("n")
        let done = Locked(0)
        let failures = Locked<[String]>([])
        let stop = Locked(false)
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                while !stop.withLock({ $0 }) {
                    do {
                        _ = try engine.write { try $0.increment(key, by: 1) }
                        done.withLock { $0 += 1 }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                        return
                    }
                }
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.5)
        try server.restart()
        Thread.sleep(forTimeInterval: 0.5)
        stop.withLock { $0 = true }
        group.wait()
        XCTAssertEqual(failures.withLock { $0 }, [], "transactions ride through the restart")
        XCTAssertEqual(try engine.read { try $0.counter(key) }, Int64(done.withLock { $0 }), "each increment once")
    }

    func testClosedEngineThrows() throws {
        let engine = try PostgresEngine(url: server.url())
        engine.close()
        XCTAssertThrowsError(try engine.read { try $0.get([1]) }) { XCTAssertTrue($0 is EngineError, "\($0)") }
    }

    func testOpenThroughMetaEngines() throws {
        for scheme in ["postgres", "postgresql"] {
            let url = server.url().replacingOccurrences(of: "postgres://", with: "\(scheme)://")
            let engine = try MetaEngines.open(url: url, create: true)
            defer { engine.close() }
            XCTAssertTrue(engine is PostgresEngine)
            XCTAssertEqual(engine.scheme, "postgres")
        }
    }
}

/// URL parsing needs no server.
final class PostgresEngineURLTests: XCTestCase {
    func testFullURL() throws {
        let url = try PostgresEngineURL("postgresql://alice:p%40ss@db.example:6543/meta?sslmode=require&table=vol1_kv&application_name=x")
        XCTAssertEqual(url.user, "alice")
        XCTAssertEqual(url.password, "p@ss")
        XCTAssertEqual(url.host, "db.example")
        XCTAssertEqual(url.port, 6543)
        XCTAssertEqual(url.database, "meta")
        XCTAssertEqual(url.table, "vol1_kv")
        XCTAssertEqual(url.sslMode, .require)
    }

    func testDefaults() throws {
        let url = try PostgresEngineURL("postgres://bob@[::1]")
        XCTAssertEqual(url.user, "bob")
        XCTAssertNil(url.password)
        XCTAssertEqual(url.host, "::1")
        XCTAssertEqual(url.port, 5432)
        XCTAssertEqual(url.database, "bob")
        XCTAssertEqual(url.table, "sluice_kv")
        XCTAssertEqual(url.sslMode, .disable)
        XCTAssertEqual(url.endpoint, "bob@[::1]:5432/bob")
    }

    func testPasswordWithAtSign() throws {
        let url = try PostgresEngineURL("postgres://u:p@ss@h:1/d")
        XCTAssertEqual(url.password, "p@ss")
        XCTAssertEqual(url.host, "h")
    }

    func testBadURLsAreUsageErrorsWithoutThePassword() {
        for url in ["postgres://u:pw@h:99999/d", "postgres://u:pw@/d", "postgres://u:pw@h/d?sslmode=sometimes",
                    "postgres://u:pw@h/d?table=x;drop", "postgres://u:pw@h/d?table=1abc", "postgres://u:pw@[::1/d"] {
            XCTAssertThrowsError(try PostgresEngineURL(url), url) { error in
                XCTAssertTrue(error is UsageError, "\(url): \(error)")
                XCTAssertFalse("\(error)".contains(":pw@"), "\(error)")
                XCTAssertTrue("\(error)".contains(":****@"), "\(error)")
            }
        }
    }

    func testCertificateFileOptions() throws {
        let url = try PostgresEngineURL("postgres://u@h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&sslcert=/c&sslkey=/k")
        XCTAssertEqual(url.sslMode, .verifyFull)
        XCTAssertEqual([url.sslRootCert, url.sslCert, url.sslKey], ["/etc/ca.pem", "/c", "/k"])
        XCTAssertNil(try PostgresEngineURL("postgres://u@h/d?sslmode=verify-ca&sslrootcert=system").sslRootCert,
                     "system: the system trust store, as libpq")
        for bad in ["postgres://u@h/d?sslcert=/c", "postgres://u@h/d?sslkey=/k", "postgres://u@h/d?sslrootcert="] {
            XCTAssertThrowsError(try PostgresEngineURL(bad), bad) { XCTAssertTrue($0 is UsageError, "\($0)") }
        }
        // Files are read when the configuration is built (at engine open).
        XCTAssertThrowsError(try PostgresEngineURL("postgres://u@h/d?sslmode=require&sslrootcert=/nonexistent.pem")
            .connectionConfiguration(connectTimeout: .seconds(1))) { error in
            XCTAssertEqual((error as? UsageError)?.message, "sslrootcert /nonexistent.pem cannot be read")
        }
    }

    func testTLSConfigurationBuilds() throws {
        for mode in PostgresEngineURL.SSLMode.allCases {
            let url = try PostgresEngineURL("postgres://u@h/d?sslmode=\(mode.rawValue)")
            let configuration = try url.connectionConfiguration(connectTimeout: .seconds(1))
            XCTAssertEqual(configuration.tls.isAllowed, mode != .disable, mode.rawValue)
            XCTAssertEqual(configuration.tls.isEnforced, [.require, .verifyCA, .verifyFull].contains(mode), mode.rawValue)
        }
    }

    func testRedactedURL() {
        XCTAssertEqual(MetaEngines.redactedURL("postgres://u:secret@h:5432/d?sslmode=disable"),
                       "postgres://u:****@h:5432/d?sslmode=disable")
        XCTAssertEqual(MetaEngines.redactedURL("postgresql://u:se@cret@h/d"), "postgresql://u:****@h/d")
    }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
