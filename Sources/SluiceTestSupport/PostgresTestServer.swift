import Foundation
import SluiceBase
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for tests: `initdb` in a temporary directory, a server on a
/// free loopback port (fsync off), one database, and everything removed by `stop()`.
///
///     let server = try PostgresTestServer.start()
///     defer { server.stop() }
///     let engine = try PostgresEngine(url: server.url())
///
/// initdb refuses to run as root, so when the tests run as root the cluster belongs to the
/// `postgres` OS user (created by Debian's postgresql package) and every server command runs
/// through `runuser -u postgres --`. The superuser `postgres` logs in with `password` over
/// TCP (scram-sha-256, so that a wrong password is really refused) and without one over the
/// Unix socket in the cluster directory.
///
/// When the binaries are missing `start` throws an error that says to install `postgresql`:
/// tests must fail, not skip, on a machine without it.
public final class PostgresTestServer: @unchecked Sendable {
    /// Where Debian's postgresql-15 puts its programs.
    public static let binDirectory = "/usr/lib/postgresql/15/bin"

    public let directory: String
    public let port: Int
    public let database: String
    public let user = "postgres"
    public let password = "sluice-test-pw"
    /// With `start(tls: true)`: the CA and server certificate the server uses (`ssl=on`).
    public let certificates: TestCertificates?
    private let runAsPostgres: Bool
    private let stopped = Locked(false)

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private init(directory: String, port: Int, database: String, runAsPostgres: Bool, certificates: TestCertificates?) {
        self.certificates = certificates
        self.directory = directory
        self.port = port
        self.database = database
        self.runAsPostgres = runAsPostgres
    }

    /// The engine URL for this server (`extra` is appended as query parameters).
    public func url(password: String? = nil, extra: String = "") -> String {
        let query = extra.isEmpty ? "?sslmode=disable" : "?sslmode=disable&\(extra)"
        return "postgres://\(user):\(password ?? self.password)@127.0.0.1:\(port)/\(database)\(query)"
    }

    /// The engine URL with `query` (e.g. `sslmode=verify-full&sslrootcert=…`) as its query.
    public func url(query: String) -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)?\(query)"
    }

    /// Creates, starts and prepares a cluster; the caller must `stop()` it. With `tls`, the
    /// server also accepts TLS (`ssl=on`) with a certificate for 127.0.0.1 and localhost from
    /// a throwaway CA (`certificates`); plain connections still work.
    public static func start(database: String = "sluice", tls: Bool = false) throws -> PostgresTestServer {
        let initdb = "\(binDirectory)/initdb"
        guard FileManager.default.isExecutableFile(atPath: initdb) else {
            throw Failure(description: "PostgreSQL 15 is not installed (\(initdb) is missing): "
                + "install the `postgresql` package (scripts/install-deps does)")
        }
        let asRoot = geteuid() == 0
        // In /tmp itself: the server's Unix socket goes there, and socket paths are short.
        let directory = "/tmp/sluice-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = tls ? try TestCertificates(directory: directory + "/tls") : nil
        let server = PostgresTestServer(directory: directory, port: try freePort(), database: database,
                                        runAsPostgres: asRoot, certificates: certificates)
        do {
            // The server refuses a key file that is not its own (or root's, group-readable only).
            if asRoot { try run("/bin/chown", ["-R", "postgres:postgres", directory]) }
            let passwordFile = directory + "/pwfile"
            try (server.password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
            if asRoot { try run("/bin/chown", ["postgres:postgres", passwordFile]) }
            try server.postgres("initdb", ["-D", server.dataDirectory, "-U", "postgres", "--pwfile=\(passwordFile)",
                                           "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                                           "--no-sync"])
            try server.pgctl(["start", "-w", "-t", "60", "-o", server.serverOptions, "-l", directory + "/log"])
            try server.postgres("createdb", ["-h", directory, "-p", "\(server.port)", "-U", "postgres", database])
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Restarts the server (fast shutdown: open connections are cut), as an operator would.
    public func restart() throws {
        try pgctl(["restart", "-w", "-t", "60", "-m", "fast", "-o", serverOptions, "-l", directory + "/log"])
    }

    /// Stops the server (immediate mode, it is thrown away) and removes the cluster. Safe to
    /// call more than once.
    public func stop() {
        if stopped.withLock({ s in defer { s = true }; return s }) { return }
        if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid") {
            _ = try? pgctl(["stop", "-w", "-t", "30", "-m", "immediate"])
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs an SQL command through psql over the Unix socket (as the superuser).
    public func psql(_ sql: String) throws {
        try postgres("psql", ["-h", directory, "-p", "\(port)", "-U", "postgres", "-d", database,
                              "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
    }

    private var dataDirectory: String { directory + "/data" }

    private var serverOptions: String {
        let tls = certificates.map {
            " -c ssl=on -c ssl_cert_file=\($0.serverCertFile) -c ssl_key_file=\($0.serverKeyFile)"
        } ?? ""
        return "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" + tls
    }

    private func pgctl(_ arguments: [String]) throws {
        try postgres("pg_ctl", ["-D", dataDirectory] + arguments)
    }

    /// Runs a PostgreSQL program, as the `postgres` user when we are root.
    private func postgres(_ program: String, _ arguments: [String]) throws {
        let path = "\(Self.binDirectory)/\(program)"
        if runAsPostgres {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try Self.run(path, arguments)
        }
    }

    /// Runs a program to completion (at most 120 s); a non-zero exit throws with its output.
    ///
    /// Spawned directly rather than with Foundation's `Process`: `pg_ctl start` leaves the
    /// server running with the descriptors it inherited, and `Process` notices the exit of its
    /// child through a socket that would then never close. Here the child gets only stdin
    /// (/dev/null) and stdout/stderr (a temporary file), every other descriptor is closed.
    private static func run(_ path: String, _ arguments: [String]) throws {
        let outputPath = "/tmp/sluice-pg-out-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // glibc ignores closing a descriptor that is not open (closefrom_np is not imported).
        for fd in 3..<Int32(min(sysconf(Int32(_SC_OPEN_MAX)), 4096)) {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw Failure(description: "cannot run \(path): \(String(cString: strerror(spawned)))")
        }
        let deadline = Date().addingTimeInterval(120)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw Failure(description: "\(path) \(arguments.joined(separator: " ")) did not finish within 120 s")
            }
            usleep(10_000)
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            let name = URL(fileURLWithPath: path).lastPathComponent
            throw Failure(description: "\(name) \(arguments.joined(separator: " ")) failed "
                + "(\(exited ? "status \(code)" : "signal \(status & 0x7F)")): "
                + text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
