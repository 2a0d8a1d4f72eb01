import Foundation
import SluiceBase
@testable import SluiceMeta
import SluiceTestSupport
import XCTest

/// `rediss://`: verification against a given CA (by IP SAN and by DNS name), failures that
/// must be one clear error at open rather than a hang, client certificates, and a server
/// restart under the TLS client.
final class RedisTLSTests: XCTestCase {
    private var server: RedisTestServer!
    private var certificates: TestCertificates { server.certificates! }
    private var base: String { "rediss://127.0.0.1:\(server.port)/0" }

    override func setUpWithError() throws {
        server = try RedisTestServer(tls: true)
    }

    override func tearDown() {
        server = nil
    }

    func testRoundTripAndSchemeAndHostName() throws {
        let engine = try RedisEngine(url: server.url)
        defer { engine.close() }
        XCTAssertEqual(engine.scheme, "rediss")
        try engine.write { try $0.set([1, 0, 0xFF], Array(repeating: 7, count: 300_000)) }
        XCTAssertEqual(try engine.read { try $0.get([1, 0, 0xFF]) }, Array(repeating: 7, count: 300_000))
        // The certificate also names localhost: verification by DNS name works as by IP.
        let byName = try RedisEngine(url: "rediss://localhost:\(server.port)/0?tls-ca-file=\(certificates.caFile)")
        defer { byName.close() }
        XCTAssertEqual(try byName.read { try $0.get([1, 0, 0xFF]) }?.count, 300_000)
    }

    func testWrongCAIsAClearErrorNotAHang() throws {
        for url in ["\(base)?tls-ca-file=\(certificates.otherCAFile)",
                    base] {  // the system trust store does not know the test CA either
            let started = Date()
            XCTAssertThrowsError(try MetaEngines.open(url: url, create: true), url) { error in
                XCTAssertTrue(error is EngineError, "\(type(of: error)): \(error)")
                let text = "\(error)"
                XCTAssertTrue(text.contains("TLS with redis at 127.0.0.1:\(server.port) failed"), text)
                XCTAssertTrue(text.contains("CERTIFICATE_VERIFY_FAILED"), text)
                XCTAssertFalse(text.contains("\n"), "one line: \(text)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "fails at open, without retrying")
        }
    }

    func testHostNameMustMatch() throws {
        // A certificate from a trusted CA, but for another name than the one connected to.
        let elsewhere = try TestCertificates(directory: server.directory.appendingPathComponent("elsewhere").path,
                                             serverNames: "DNS:elsewhere.example")
        let other = try RedisTestServer(["--tls-cert-file", elsewhere.serverCertFile,
                                         "--tls-key-file", elsewhere.serverKeyFile], tls: true)
        for host in ["127.0.0.1", "localhost"] {
            XCTAssertThrowsError(try RedisEngine(url: "rediss://\(host):\(other.port)/0?tls-ca-file=\(elsewhere.caFile)")) {
                XCTAssertTrue("\($0)".contains("TLS with redis at \(host):\(other.port) failed"), "\($0)")
            }
        }
    }

    func testInsecureSkipVerifyIsAnExplicitOptOut() throws {
        let engine = try RedisEngine(url: "\(base)?tls-insecure-skip-verify=true")
        defer { engine.close() }
        try engine.write { try $0.set([1], [2]) }
        XCTAssertEqual(try engine.read { try $0.get([1]) }, [2])
    }

    func testBadFilesAreUsageErrors() throws {
        let notPEM = server.directory.appendingPathComponent("not-a-cert.pem").path
        try "hello".write(toFile: notPEM, atomically: true, encoding: .utf8)
        let cases = [
            ("tls-ca-file=/nonexistent/ca.pem", "tls-ca-file /nonexistent/ca.pem cannot be read"),
            ("tls-ca-file=\(notPEM)", "tls-ca-file \(notPEM) holds no PEM certificate"),
            ("tls-cert-file=\(certificates.clientCertFile)&tls-key-file=\(notPEM)", "is not an unencrypted PEM private key"),
        ]
        for (query, message) in cases {
            XCTAssertThrowsError(try RedisEngine(url: "\(base)?\(query)"), query) { error in
                XCTAssertTrue(error is UsageError, "\(type(of: error)): \(error)")
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
    }

    func testClientCertificate() throws {
        let strict = try RedisTestServer(["--tls-auth-clients", "yes"], tls: true)
        let strictCA = strict.certificates!
        let url = "rediss://127.0.0.1:\(strict.port)/0?tls-ca-file=\(strictCA.caFile)"
        XCTAssertThrowsError(try RedisEngine(url: url, connectTimeout: 2, commandTimeout: 3)) { error in
            XCTAssertTrue(error is EngineError, "\(error)")
        }
        let engine = try RedisEngine(url: url + "&tls-cert-file=\(strictCA.clientCertFile)&tls-key-file=\(strictCA.clientKeyFile)")
        defer { engine.close() }
        try engine.write { try $0.set([1], [1]) }
        XCTAssertEqual(try engine.read { try $0.get([1]) }, [1])
    }

    /// As over plain TCP: the server killed and restarted, the engine reconnects (new TLS
    /// sessions) and the commit made before the crash survived.
    func testServerRestart() throws {
        let durable = try RedisTestServer(["--appendonly", "yes", "--appendfsync", "always"], tls: true)
        let engine = try RedisEngine(url: durable.url)
        defer { engine.close() }
        let key = Array("n".utf8)
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try engine.write { try $0.increment(key, by: 1) } } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        durable.kill()
        try durable.start()
        XCTAssertEqual(try engine.write { try $0.increment(key, by: 1) }, 5)
        XCTAssertEqual(try engine.read { try $0.counter(key) }, 5)
    }

    /// A commit whose reply is lost over TLS is resolved through the marker, as over TCP.
    func testLostCommitIsAppliedExactlyOnce() throws {
        let engine = try RedisEngine(url: server.url)
        defer { engine.close() }
        let key = Array("n".utf8)
        XCTAssertEqual(try engine.write { try $0.increment(key, by: 1) }, 1)
        engine.injectedFault.withLock { $0 = .replyLost }
        var runs = 0
        XCTAssertEqual(try engine.write { tx -> Int64 in runs += 1; return try tx.increment(key, by: 1) }, 2)
        XCTAssertEqual(runs, 1)
    }

    /// A server that stops answering (SIGSTOP) over TLS: the command timeout ends the wait.
    func testUnresponsiveServerTimesOut() throws {
        let engine = try RedisEngine(url: server.url, commandTimeout: 0.5, retrySeconds: 1)
        defer { engine.close() }
        try engine.write { try $0.set([1], [1]) }
        server.pause()
        defer { server.resume() }
        let started = Date()
        XCTAssertThrowsError(try engine.read { try $0.get([1]) }) { error in
            XCTAssertTrue(error is EngineError, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }
}
