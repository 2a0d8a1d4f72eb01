import Foundation
import SluiceBase
@testable import SluiceMeta
import SluiceTestSupport
import XCTest

/// PostgreSQL over TLS (`ssl=on`, a throwaway CA): every verifying sslmode with the right
/// `sslrootcert` works (and the same modes with a wrong CA fail, which shows the handshake
/// really happens); a wrong CA or a missing file is one clear error at open.
final class PostgresTLSTests: XCTestCase {
    nonisolated(unsafe) private static var server: PostgresTestServer?
    nonisolated(unsafe) private static var startFailure: (any Error)?

    override class func setUp() {
        super.setUp()
        do { server = try PostgresTestServer.start(tls: true) } catch { startFailure = error }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    private var server: PostgresTestServer!
    private var certificates: TestCertificates { server.certificates! }

    override func setUpWithError() throws {
        if let failure = Self.startFailure { throw failure }
        server = try XCTUnwrap(Self.server)
    }

    func testVerifyingModesWithTheRightCA() throws {
        for mode in ["verify-full", "verify-ca", "require"] {
            let engine = try PostgresEngine(url: server.url(query: "sslmode=\(mode)&sslrootcert=\(certificates.caFile)"))
            defer { engine.close() }
            try engine.write { try $0.set([1], Array(mode.utf8)) }
            XCTAssertEqual(try engine.read { try $0.get([1]) }, Array(mode.utf8), mode)
        }
    }

    func testConformanceOverVerifiedTLS() {
        let url = server.url(query: "sslmode=verify-full&sslrootcert=\(certificates.caFile)&table=tls_kv")
        KVEngineConformance(make: { try PostgresEngine(url: url) }, reopen: { try PostgresEngine(url: url) }).runAll()
    }

    func testWrongCAIsAClearError() throws {
        // verify-full and verify-ca check the chain; so does require once a root file is given.
        for mode in ["verify-full", "verify-ca", "require"] {
            let url = server.url(query: "sslmode=\(mode)&sslrootcert=\(certificates.otherCAFile)")
            let started = Date()
            XCTAssertThrowsError(try PostgresEngine(url: url), mode) { error in
                XCTAssertTrue(error is EngineError, "\(type(of: error)): \(error)")
                let text = "\(error)"
                XCTAssertTrue(text.contains("cannot open postgres database postgres@127.0.0.1:\(server.port)"), text)
                XCTAssertTrue(text.contains("TLS handshake failed: CERTIFICATE_VERIFY_FAILED"), text)
                XCTAssertFalse(text.contains(server.password), text)
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 10, "fails at open, without retrying")
        }
        // Without sslrootcert, verification uses the system store, which knows no test CA.
        XCTAssertThrowsError(try PostgresEngine(url: server.url(query: "sslmode=verify-full"))) { error in
            XCTAssertTrue("\(error)".contains("CERTIFICATE_VERIFY_FAILED"), "\(error)")
        }
    }

    func testVerifyFullByHostName() throws {
        // 127.0.0.1 is checked against the certificate's IP SAN above; localhost by DNS name.
        let byName = server.url(query: "sslmode=verify-full&sslrootcert=\(certificates.caFile)")
            .replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")
        let engine = try PostgresEngine(url: byName)
        defer { engine.close() }
        try engine.write { try $0.set([2], [2]) }
    }

    func testMissingOrBadFilesAreUsageErrors() throws {
        let cases = [
            ("sslmode=verify-full&sslrootcert=/nonexistent/root.crt", "sslrootcert /nonexistent/root.crt cannot be read"),
            ("sslmode=verify-full&sslrootcert=\(certificates.serverKeyFile)", "holds no PEM certificate"),
            ("sslmode=verify-full&sslcert=\(certificates.clientCertFile)", "sslcert and sslkey go together"),
        ]
        for (query, message) in cases {
            XCTAssertThrowsError(try PostgresEngine(url: server.url(query: query)), query) { error in
                XCTAssertTrue(error is UsageError, "\(type(of: error)): \(error)")
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
    }
}
