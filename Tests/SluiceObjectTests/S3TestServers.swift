import Foundation
import SluiceBase
@testable import SluiceObject
import XCTest

/// A throwaway server process on loopback (moto's S3, or a small scripted HTTP server),
/// stopped by `stop()` or when released.
final class TestServer: @unchecked Sendable {
    let port: Int
    private let process: Process

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Whether moto's server and boto3 can be imported.
    static var motoInstalled: Bool {
        run(["-c", "import moto.server, boto3"]).status == 0
    }

    static let installHint = "moto is not installed: run scripts/install-deps "
        + "(or python3 -m pip install 'moto[server]' boto3)"

    /// Starts `python3 -m moto.server` on a free loopback port with `environment` added, and
    /// waits (bounded) until it answers.
    static func moto(environment: [String: String] = [:]) throws -> TestServer {
        let port = try freePort()
        let server = try TestServer(port: port, arguments: ["-m", "moto.server", "-p", String(port), "-H", "127.0.0.1"],
                                    environment: environment)
        try server.waitUntilListening()
        return server
    }

    /// Starts `python3 -c script PORT`.
    static func script(_ script: String) throws -> TestServer {
        let port = try freePort()
        let server = try TestServer(port: port, arguments: ["-c", script, String(port)], environment: [:])
        try server.waitUntilListening()
        return server
    }

    private init(port: Int, arguments: [String], environment: [String: String]) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Connects until the port accepts, for at most 30 s.
    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning { throw EngineError("test server on port \(port) exited at start") }
            if Self.canConnect(port) { return }
            usleep(100_000)
        }
        stop()
        throw EngineError("test server on port \(port) did not start within 30 s")
    }

    private static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func freePort() throws -> Int {
        let r = run(["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        guard r.status == 0, let port = Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw EngineError("cannot find a free port: \(r.output)")
        }
        return port
    }

    /// Runs `python3 arguments…` to completion (bounded by the script itself), returning its exit
    /// status and standard output + error.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A scripted S3 stand-in: the first `FAILS` requests get `503 SlowDown`, later GETs get
/// `hello`; GET /count answers how many requests came before it.
let slowDownServerScript = """
import http.server, sys
FAILS = 2
count = 0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        global count
        if self.path == "/count":
            body = str(count).encode()
            self.send_response(200)
        else:
            count += 1
            if count <= FAILS or self.path.startswith("/bucket/always-busy"):
                body = b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                self.send_response(503)
            else:
                body = b"hello"
                self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""
