import Foundation
import SluiceBase
@testable import SluiceMeta
import SluiceTestSupport
import XCTest

/// A throwaway redis-server on a free loopback port, with its files in a temporary directory.
/// Not finding redis-server is a failure, not a skip: CI installs it (scripts/install-deps).
///
/// With `tls`, the server listens only for TLS (`--port 0 --tls-port P`) with a certificate
/// from a throwaway CA (`certificates`); clients may, but need not, show a certificate unless
/// `extra` says otherwise (`--tls-auth-clients yes`).
final class RedisTestServer {
    let port: Int32
    let directory: URL
    let certificates: TestCertificates?
    private let arguments: [String]
    private var process: Process?

    /// The engine URL, `path` (e.g. `/prefix`) after the database and `query` (without `?`)
    /// appended to the TLS options.
    func url(path: String = "", query: String = "") -> String {
        guard let certificates else {
            return "redis://127.0.0.1:\(port)/0\(path)" + (query.isEmpty ? "" : "?\(query)")
        }
        let options = query.isEmpty ? "tls-ca-file=\(certificates.caFile)" : query
        return "rediss://127.0.0.1:\(port)/0\(path)?\(options)"
    }
    var url: String { url() }
    var logPath: String { directory.appendingPathComponent("redis.log").path }

    /// The endpoint a raw connection uses (TLS verified against the test CA).
    var endpoint: RedisEndpoint {
        RedisEndpoint(host: "127.0.0.1", port: port, tls: certificates.map { RedisTLSOptions(caFile: $0.caFile) })
    }

    /// Starts a server without persistence; `extra` arguments override the defaults.
    init(_ extra: [String] = [], tls: Bool = false) throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-redis-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var listen = ["--port", String(port)]
        if tls {
            let certificates = try TestCertificates(directory: directory.appendingPathComponent("tls").path)
            self.certificates = certificates
            listen = ["--port", "0", "--tls-port", String(port), "--tls-cert-file", certificates.serverCertFile,
                      "--tls-key-file", certificates.serverKeyFile, "--tls-ca-cert-file", certificates.caFile,
                      "--tls-auth-clients", "optional"]
        } else {
            certificates = nil
        }
        arguments = listen + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path] + extra
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static func executable() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
            let candidate = directory + "/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestSetupError(message: "redis-server is not installed: the Redis engine tests need it "
            + "(run scripts/install-deps, or apt-get install -y redis-server libhiredis-dev)")
    }

    /// (Re)starts the server on the same port and directory and waits until it answers PING.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitUntilReady(process)
    }

    /// Connection readiness: retries PING until it answers, for at most 10 s.
    private func waitUntilReady(_ process: Process) throws {
        let deadline = Date().addingTimeInterval(10)
        var last = "no attempt"
        while Date() < deadline {
            guard process.isRunning else {
                throw TestSetupError(message: "redis-server exited with status \(process.terminationStatus): \(logTail())")
            }
            do {
                let connection = try RedisConnection(endpoint: endpoint, connectTimeout: 1, commandTimeout: 1)
                defer { connection.close() }
                if try connection.command("PING") == .status("PONG") { return }
            } catch RedisFailure.server {
                return  // it answered (e.g. NOAUTH on a server that wants a password)
            } catch RedisFailure.connection(let message) where message.hasPrefix("TLS with redis") {
                return  // it answered the handshake (refusing our certificate or lack of one)
            } catch {
                last = "\(error)"
            }
            usleep(20_000)
        }
        throw TestSetupError(message: "redis-server on port \(port) not ready after 10 s (\(last)): \(logTail())")
    }

    /// SIGKILL, as a crash would: nothing is flushed beyond what the server already wrote.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGSTOP / SIGCONT: a server that accepts nothing and answers nothing for a while.
    func pause() {
        if let process, process.isRunning { Glibc.kill(process.processIdentifier, SIGSTOP) }
    }

    func resume() {
        if let process, process.isRunning { Glibc.kill(process.processIdentifier, SIGCONT) }
    }

    func stop() {
        resume()
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// A raw connection for inspecting the server behind the engine's back.
    func connection(password: String? = nil) throws -> RedisConnection {
        var endpoint = self.endpoint
        endpoint.password = password
        return try RedisConnection(endpoint: endpoint, connectTimeout: 2, commandTimeout: 5)
    }

    private func logTail() -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log)"
        return text.split(separator: "\n").suffix(5).joined(separator: " | ")
    }

    /// A loopback port nobody listens on right now (the kernel picks it).
    static func freePort() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError(message: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else { throw TestSetupError(message: "cannot bind a loopback port: errno \(errno)") }
        return Int32(UInt16(bigEndian: address.sin_port))
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

final class RedisEngineConformanceTests: XCTestCase {
    private var server: RedisTestServer!

    override func setUpWithError() throws {
        server = try RedisTestServer()
    }

    override func tearDown() {
        server = nil
    }

    func testConformance() {
        let url = server.url
        KVEngineConformance(make: { try RedisEngine(url: url) }, reopen: { try RedisEngine(url: url) }).runAll()
    }

    func testMetaConformance() {
        let url = server.url(path: "/meta")
        MetaConformance(make: { try RedisEngine(url: url) }).runAll()
    }

    /// The swift-nio client that `rediss://` uses, here over plain TCP: the same suite without
    /// TLS in the way.
    func testConformanceOverTheNIOClient() {
        let endpoint = RedisEndpoint(host: "127.0.0.1", port: server.port, prefix: "nio")
        let make = { try RedisEngine(endpoint: endpoint, client: .nio) }
        KVEngineConformance(make: make, reopen: make).runAll()
    }
}

/// The same suites over TLS (`rediss://`, swift-nio + NIOSSL), verified against a throwaway CA.
final class RedisTLSEngineConformanceTests: XCTestCase {
    private var server: RedisTestServer!

    override func setUpWithError() throws {
        server = try RedisTestServer(tls: true)
    }

    override func tearDown() {
        server = nil
    }

    func testConformance() {
        let url = server.url
        KVEngineConformance(make: { try RedisEngine(url: url) }, reopen: { try RedisEngine(url: url) }).runAll()
    }

    func testMetaConformance() {
        let url = server.url(path: "/meta")
        MetaConformance(make: { try RedisEngine(url: url) }).runAll()
    }
}

final class RedisEngineTests: XCTestCase {
    private var server: RedisTestServer!

    override func setUpWithError() throws {
        server = try RedisTestServer()
    }

    override func tearDown() {
        server = nil
    }

    func testKeysAreByteExactStringsIndexedByASortedSet() throws {
        let engine = try RedisEngine(url: server.url + "/vol")
        defer { engine.close() }
        try engine.reset()
        try engine.write { try $0.set([0x00, 0xFF, 0x0A], [1, 2, 3]) }
        let raw = try server.connection()
        defer { raw.close() }
        XCTAssertEqual(try raw.command([Array("GET".utf8), Array("{vol}:k:".utf8) + [0x00, 0xFF, 0x0A]]), .string([1, 2, 3]))
        XCTAssertEqual(try raw.command("ZRANGEBYLEX", "{vol}:i", "-", "+"), .array([.string([0x00, 0xFF, 0x0A])]))
        XCTAssertEqual(try raw.command([Array("ZSCORE".utf8), Array("{vol}:i".utf8), [0x00, 0xFF, 0x0A]]), .string(Array("0".utf8)))
    }

    func testResetLeavesOtherPrefixesAndForeignKeys() throws {
        let one = try RedisEngine(url: server.url + "/one")
        let two = try RedisEngine(url: server.url + "/two")
        defer { one.close(); two.close() }
        let raw = try server.connection()
        defer { raw.close() }
        try raw.command("SET", "someone-elses-key", "x").checked()
        try one.write { try $0.set(Array("a".utf8), Array("1".utf8)) }
        try two.write { try $0.set(Array("a".utf8), Array("2".utf8)) }
        XCTAssertEqual(try one.read { try $0.get(Array("a".utf8)) }, Array("1".utf8), "prefixes are separate volumes")
        try one.reset()
        XCTAssertEqual(try one.read { try $0.scan(prefix: [], after: nil, limit: 10) }, [])
        XCTAssertEqual(try two.read { try $0.get(Array("a".utf8)) }, Array("2".utf8))
        XCTAssertEqual(try raw.command("GET", "someone-elses-key"), .string(Array("x".utf8)))
        XCTAssertEqual(try raw.command("KEYS", "{one}:*"), .array([]), "nothing of the reset volume is left")
    }

    func testConnectionRefusedIsQuickEngineError() throws {
        let port = try RedisTestServer.freePort()
        let started = Date()
        XCTAssertThrowsError(try RedisEngine(url: "redis://127.0.0.1:\(port)/0")) { error in
            XCTAssertTrue(error is EngineError, "\(type(of: error)): \(error)")
            XCTAssertTrue("\(error)".contains("127.0.0.1:\(port)"), "\(error)")
            XCTAssertTrue("\(error)".lowercased().contains("refused"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "fails at once, not after retries")
        XCTAssertThrowsError(try MetaEngines.open(url: "redis://127.0.0.1:\(port)/0", create: true)) {
            XCTAssertTrue($0 is EngineError, "\($0)")
        }
    }

    func testAuthentication() throws {
        let secured = try RedisTestServer(["--requirepass", "s3cret", "--user", "alice", "on", ">wonder", "~*", "&*", "+@all"])
        let base = "127.0.0.1:\(secured.port)/0"
        for url in ["redis://:wrong@\(base)", "redis://alice:wrong@\(base)", "redis://bob:wonder@\(base)"] {
            XCTAssertThrowsError(try RedisEngine(url: url), url) { error in
                XCTAssertTrue(error is UsageError, "\(type(of: error)): \(error)")
                XCTAssertTrue("\(error)".contains("authentication failed"), "\(error)")
                XCTAssertTrue("\(error)".contains("WRONGPASS"), "\(error)")
                XCTAssertFalse("\(error)".contains("wrong@") || "\(error)".contains("wonder"), "password redacted: \(error)")
            }
        }
        XCTAssertThrowsError(try RedisEngine(url: "redis://\(base)")) { error in
            XCTAssertTrue(error is UsageError, "\(error)")
            XCTAssertTrue("\(error)".contains("authentication required"), "\(error)")
        }
        for url in ["redis://:s3cret@\(base)", "redis://alice:wonder@\(base)", "redis://alice:w%6Fnder@\(base)"] {
            let engine = try RedisEngine(url: url)
            try engine.write { try $0.increment(Array("n".utf8), by: 1) }
            engine.close()
        }
        XCTAssertEqual(try RedisEngine(url: "redis://:s3cret@\(base)").read { try $0.counter(Array("n".utf8)) }, 3)
    }

    func testBadDatabaseIsUsageError() {
        XCTAssertThrowsError(try RedisEngine(url: "redis://127.0.0.1:\(server.port)/999")) { error in
            XCTAssertTrue(error is UsageError, "\(error)")
            XCTAssertTrue("\(error)".contains("cannot select database 999"), "\(error)")
        }
    }

    func testDatabasesAreSeparate() throws {
        let zero = try RedisEngine(url: "redis://127.0.0.1:\(server.port)/0")
        let three = try RedisEngine(url: "redis://127.0.0.1:\(server.port)/3")
        defer { zero.close(); three.close() }
        try zero.write { try $0.set([1], [0]) }
        try three.write { try $0.set([1], [3]) }
        XCTAssertEqual(try zero.read { try $0.get([1]) }, [0])
        XCTAssertEqual(try three.read { try $0.get([1]) }, [3])
    }

    /// A server killed (SIGKILL) and restarted between two transactions: the engine's pooled
    /// connections are all dead, and the next transaction reconnects and succeeds. With
    /// appendfsync always, the commit made before the crash is still there.
    func testServerRestartBetweenTransactions() throws {
        let durable = try RedisTestServer(["--appendonly", "yes", "--appendfsync", "always"])
        let engine = try RedisEngine(url: durable.url)
        defer { engine.close() }
        let key = Array("n".utf8)
        // Several threads at once, so that the pool holds several connections.
        func incrementOnFourThreads() {
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do { _ = try engine.write { try $0.increment(key, by: 1) } } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            XCTAssertEqual(failures.withLock { $0 }, [])
        }
        incrementOnFourThreads()
        durable.kill()
        try durable.start()
        XCTAssertEqual(try engine.write { try $0.increment(key, by: 1) }, 5)
        XCTAssertEqual(try engine.read { try $0.counter(key) }, 5)
        durable.kill()
        try durable.start()
        incrementOnFourThreads()
        XCTAssertEqual(try engine.read { try $0.counter(key) }, 9)
    }

    /// A commit whose EXEC reply is lost was applied: the engine finds that out from the
    /// connection's marker and returns the result instead of applying the body twice. A commit
    /// lost before it was sent is run again.
    func testLostCommitIsAppliedExactlyOnce() throws {
        let engine = try RedisEngine(url: server.url)
        defer { engine.close() }
        try engine.reset()
        let key = Array("n".utf8)
        XCTAssertEqual(try engine.write { try $0.increment(key, by: 1) }, 1)

        engine.injectedFault.withLock { $0 = .replyLost }
        var runs = 0
        XCTAssertEqual(try engine.write { tx -> Int64 in runs += 1; return try tx.increment(key, by: 1) }, 2)
        XCTAssertEqual(runs, 1, "an applied commit is not run again")
        XCTAssertEqual(try engine.read { try $0.counter(key) }, 2)

        engine.injectedFault.withLock { $0 = .requestLost }
        runs = 0
        XCTAssertEqual(try engine.write { tx -> Int64 in runs += 1; return try tx.increment(key, by: 1) }, 3)
        XCTAssertEqual(runs, 2, "a commit that never reached the server is run again")
        XCTAssertEqual(try engine.read { try $0.counter(key) }, 3)
    }

    /// A server that stays away: transactions fail with EngineError once the retry window has
    /// passed, rather than hang.
    func testServerGoneFailsAfterRetryWindow() throws {
        let engine = try RedisEngine(url: server.url, retrySeconds: 1)
        defer { engine.close() }
        try engine.write { try $0.set([1], [1]) }
        server.kill()
        let started = Date()
        XCTAssertThrowsError(try engine.read { try $0.get([1]) }) { error in
            XCTAssertTrue(error is EngineError, "\(error)")
            XCTAssertTrue("\(error)".contains("gave up"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    /// A body that throws after writing leaves nothing behind, and its error is not replaced.
    func testThrowingBodyWritesNothing() throws {
        let engine = try RedisEngine(url: server.url)
        defer { engine.close() }
        try engine.reset()
        XCTAssertThrowsError(try engine.write { tx in
            try tx.set([1], [1])
            throw Errno.noSpace
        }) { XCTAssertEqual($0 as? Errno, .noSpace) }
        let raw = try server.connection()
        defer { raw.close() }
        XCTAssertEqual(try raw.command("KEYS", "{sluice}:*"), .array([]))
    }

    func testURLs() throws {
        let full = try RedisEndpoint(url: "redis://alice:p%40ss@db.example:6380/2/vol-1?x=y")
        XCTAssertEqual(full, RedisEndpoint(host: "db.example", port: 6380, user: "alice", password: "p@ss", db: 2, prefix: "vol-1"))
        XCTAssertEqual(try RedisEndpoint(url: "redis://h"), RedisEndpoint(host: "h"))
        XCTAssertEqual(try RedisEndpoint(url: "redis://:pw@h/"), RedisEndpoint(host: "h", password: "pw"))
        XCTAssertEqual(try RedisEndpoint(url: "redis://[::1]:7000/1"), RedisEndpoint(host: "::1", port: 7000, db: 1))
        XCTAssertEqual(RedisEndpoint(host: "::1", port: 7000).address, "[::1]:7000")
        let bad = ["redis://", "redis://h:0", "redis://h:x", "redis://h/x", "redis://h/1/a{b}", "redis://h/1/a/b",
                   "redis://[::1/0", "redis://u:%zz@h"]
        for url in bad {
            XCTAssertThrowsError(try RedisEndpoint(url: url), url) { XCTAssertTrue($0 is UsageError, "\(url): \($0)") }
        }
        let tls = try RedisEndpoint(url: "rediss://u:pw@h:6380/1?tls-ca-file=%2Ftmp%2Fca.pem&other=1")
        XCTAssertEqual(tls, RedisEndpoint(host: "h", port: 6380, user: "u", password: "pw", db: 1,
                                          tls: RedisTLSOptions(caFile: "/tmp/ca.pem")))
        XCTAssertEqual(try RedisEndpoint(url: "rediss://h").tls, RedisTLSOptions())
        XCTAssertEqual(try RedisEndpoint(url: "redis://h?x=1").tls, nil)
        XCTAssertEqual(try RedisEndpoint(url: "rediss://h/0?tls-cert-file=/c&tls-key-file=/k&tls-insecure-skip-verify=true").tls,
                       RedisTLSOptions(certFile: "/c", keyFile: "/k", insecureSkipVerify: true))
        let badTLS = ["redis://h?tls-ca-file=/ca.pem", "rediss://h?tls-key-file=/k", "rediss://h?tls-ca-file=",
                      "rediss://h?tls-insecure-skip-verify=maybe", "rediss://h?tls-ca-file=/c&tls-insecure-skip-verify=true"]
        for url in badTLS {
            XCTAssertThrowsError(try RedisEndpoint(url: url), url) { XCTAssertTrue($0 is UsageError, "\(url): \($0)") }
        }
        // Files are read at open: a missing CA file is one clear error, with no password in it.
        XCTAssertThrowsError(try MetaEngines.open(url: "rediss://u:pw@h:6380/1?tls-ca-file=/nonexistent/ca.pem",
                                                  create: true)) { error in
            XCTAssertTrue(error is UsageError, "\(error)")
            XCTAssertTrue("\(error)".contains("tls-ca-file /nonexistent/ca.pem cannot be read"), "\(error)")
            XCTAssertFalse("\(error)".contains("pw"), "\(error)")
        }
    }

    func testOpenByURL() throws {
        let engine = try MetaEngines.open(url: server.url, create: true)
        defer { engine.close() }
        XCTAssertEqual(engine.scheme, "redis")
        XCTAssertEqual((engine as? RedisEngine)?.endpoint.port, server.port)
    }

    /// A scan inside a write transaction that deleted many of the keys it pages over still
    /// returns full pages (the server's page is widened by the pending deletions).
    func testScanOverOwnDeletions() throws {
        let engine = try RedisEngine(url: server.url)
        defer { engine.close() }
        try engine.reset()
        try engine.write { tx in for i in 0..<100 { try tx.set([1, UInt8(i)], [UInt8(i)]) } }
        let page = try engine.write { tx -> [KVPair] in
            for i in 0..<50 { try tx.delete([1, UInt8(i)]) }
            try tx.set([1, 200], [200])
            return try tx.scan(prefix: [1], after: nil, limit: 10)
        }
        XCTAssertEqual(page.map(\.key), (50..<60).map { [1, UInt8($0)] })
        let rest = try engine.read { try $0.scan(prefix: [1], after: [1, 95], limit: 10) }
        XCTAssertEqual(rest.map(\.key), [[1, 96], [1, 97], [1, 98], [1, 99], [1, 200]])
    }
}
