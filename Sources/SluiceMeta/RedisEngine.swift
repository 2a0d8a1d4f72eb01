import Dispatch
import SluiceBase
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The metadata engine over a Redis server (`redis://[user:password@]host:port/db[/prefix]`,
/// or `rediss://` for TLS), through blocking connections: hiredis for plain TCP, a small
/// RESP2 client over swift-nio and NIOSSL for TLS (see `RedisTransport`).
///
/// Layout. A volume owns the keys starting with `{prefix}:` in its database (`prefix` defaults
/// to `sluice`; the braces are a cluster hash tag, so all of them would share one slot):
///
///     {prefix}:k:<key>    a Redis string per volume key, holding its value, byte-exact
///     {prefix}:i          a sorted set of every volume key, all with score 0
///     {prefix}:c:<id>     one commit marker per connection (expires after a day)
///
/// With equal scores a sorted set orders its members by memcmp, which is the engine's key
/// order, so a prefix scan is one `ZRANGEBYLEX {prefix}:i [start (end LIMIT 0 n` (O(log N + n),
/// never a walk of the keyspace) plus an `MGET` of the values, both in one Lua script (one round
/// trip, one atomic state; see `RedisScripts`): memory is bounded by the page. Values live in
/// separate strings rather than in one hash so that WATCH, which works on whole Redis keys,
/// detects conflicts per volume key; the index changes only when a key is created or deleted.
///
/// Transactions are optimistic (see `RedisTransaction`): point reads WATCH what they read,
/// scans record the range they read with a digest of its members and values, writes are
/// buffered, and MULTI/EXEC applies them only if nothing watched has changed and (checked by a
/// script inside the same EXEC) every scanned range still has its digest. A scan therefore
/// conflicts only with changes inside the range it read, not with creates elsewhere in the
/// volume. A nil EXEC or a changed range reruns the body after a jittered backoff, at most
/// `maxConflictRetries` times. A read-only transaction validates its reads the same way (an empty MULTI/EXEC) unless
/// it read in a single round trip, so it always returns what one instant of the server held.
/// A body that throws is also validated first: an error that came from a torn read reruns the
/// body instead of escaping.
///
/// Failures. Each transaction uses one pooled connection (at most `maxConnections`). When a
/// connection breaks (server restarted, timeout), the pool is emptied and the transaction is
/// retried on new connections for up to `retrySeconds`, then fails with `EngineError`. A commit
/// whose EXEC reply was lost is resolved before retrying, so it is never applied twice: from a
/// new connection the engine kills the old one (CLIENT KILL ID, so that a request still queued
/// on the server can no longer run) and reads the old connection's marker, which every commit
/// sets to its own sequence number inside the same MULTI/EXEC.
///
/// Durability is the server's: with `appendonly yes` and `appendfsync always`, an acknowledged
/// EXEC is on disk; with the defaults up to a second (or everything since the last RDB save) can
/// be lost on a crash. `sync()` therefore has nothing to add and does nothing.
public final class RedisEngine: KVEngine {
    /// The most connections one engine opens; more concurrent transactions wait for one.
    public static let maxConnections = 8
    /// How many times a transaction whose reads went stale is run again before giving up.
    public static let maxConflictRetries = 200
    /// How long a commit marker outlives its connection's last commit.
    static let markerLifetimeSeconds = 86_400

    public var scheme: String { endpoint.tls == nil ? "redis" : "rediss" }
    public let endpoint: RedisEndpoint
    /// For messages: the URL with its password redacted.
    public let displayURL: String
    let names: RedisKeyNames
    /// Opens connections: the TLS context, read once, lives here.
    private let connector: RedisConnector
    private let retrySeconds: Double

    /// A fault for the next commit that writes (tests only).
    let injectedFault = Locked<RedisCommitFault?>(nil)

    /// A connection taken from the pool belongs to one transaction until it is put back.
    private let pool: ConnectionPool<RedisConnection>

    /// Opens the engine named by a `redis://` URL (see `RedisEndpoint`). `commandTimeout`
    /// bounds one round trip; a connection that times out is treated as lost.
    public convenience init(url: String, connectTimeout: Double = 3, commandTimeout: Double = 10,
                            retrySeconds: Double = 15) throws {
        try self.init(endpoint: RedisEndpoint(url: url), displayURL: MetaEngines.redactedURL(url),
                      connectTimeout: connectTimeout, commandTimeout: commandTimeout, retrySeconds: retrySeconds)
    }

    /// Connects once, so that an unreachable server, a failed TLS handshake or bad credentials
    /// show at open: an unreachable server or a refused handshake is an `EngineError`, a refused
    /// AUTH or SELECT or an unreadable TLS file a `UsageError`. `retrySeconds` bounds how long
    /// a transaction waits for a lost server to come back. `client` overrides the client
    /// library of plain connections (benchmarks and tests; TLS always uses swift-nio).
    init(endpoint: RedisEndpoint, displayURL: String? = nil, connectTimeout: Double = 3,
         commandTimeout: Double = 10, retrySeconds: Double = 15, client: RedisClient?) throws {
        _ = Self.ignoreBrokenPipes
        self.endpoint = endpoint
        self.displayURL = displayURL ?? "\(endpoint.tls == nil ? "redis" : "rediss")://\(endpoint.address)/\(endpoint.db)"
        names = RedisKeyNames(prefix: endpoint.prefix)
        self.retrySeconds = retrySeconds
        let connector: RedisConnector
        do {
            connector = try RedisConnector(endpoint: endpoint, connectTimeout: connectTimeout,
                                           commandTimeout: commandTimeout, client: client)
        } catch let error as UsageError {
            throw UsageError("\(self.displayURL): \(error.message)")
        }
        self.connector = connector
        let first: RedisConnection
        do {
            first = try RedisConnection(connector: connector)
        } catch let failure as RedisFailure {
            if case .server(let message) = failure, !failure.isTransient {
                throw UsageError("\(self.displayURL): \(message)")
            }
            throw EngineError("\(self.displayURL): \(failure)")
        }
        // Connecting happens outside the pool's lock.
        pool = ConnectionPool(capacity: RedisEngine.maxConnections, first: first,
                              closedMessage: "\(self.displayURL): engine is closed") {
            try RedisConnection(connector: connector)
        }
    }

    /// Connects once, so that an unreachable server, a failed TLS handshake or bad credentials
    /// show at open (see above); plain connections use hiredis, TLS swift-nio.
    public convenience init(endpoint: RedisEndpoint, displayURL: String? = nil, connectTimeout: Double = 3,
                            commandTimeout: Double = 10, retrySeconds: Double = 15) throws {
        try self.init(endpoint: endpoint, displayURL: displayURL, connectTimeout: connectTimeout,
                      commandTimeout: commandTimeout, retrySeconds: retrySeconds, client: nil)
    }

    /// hiredis writes with write(2): a server that went away would kill the process with
    /// SIGPIPE instead of failing the call with EPIPE. Only the default action is replaced.
    private static let ignoreBrokenPipes: Void = {
        let previous = signal(SIGPIPE, SIG_IGN)
        // SIG_DFL is the null handler; put back any handler someone else installed.
        if previous != nil { signal(SIGPIPE, previous) }
    }()

    deinit { close() }

    public func read<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try transaction(writable: false, body)
    }

    public func write<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try transaction(writable: true, body)
    }

    /// Deletes every key of this volume's prefix (never other keys of the database): first the
    /// index, so that scans see nothing at once, then the rest, found by SCAN MATCH in pages.
    public func reset() throws {
        try withRetries { connection in
            try connection.command([Array("UNLINK".utf8), names.index]).checked()
            var cursor = "0"
            repeat {
                let reply = try connection.command("SCAN", cursor, "MATCH", names.pattern, "COUNT", "1000").checked().elements()
                guard reply.count == 2, let next = try reply[0].bulk() else {
                    throw RedisFailure.unexpected("SCAN reply of \(reply.count) elements")
                }
                cursor = String(decoding: next, as: UTF8.self)
                let keys = try reply[1].elements().compactMap { try $0.bulk() }
                if !keys.isEmpty { try connection.command([Array("UNLINK".utf8)] + keys).checked() }
            } while cursor != "0"
        }
    }

    /// Nothing to do: an acknowledged EXEC is as durable as the server's appendfsync makes it
    /// (see the type's documentation).
    public func sync() throws {}

    /// Closes every idle connection; connections in use are closed when they come back.
    public func close() { pool.close() }

    // MARK: Transactions

    private enum Attempt<T> {
        case done(T)
        case conflict
    }

    private func transaction<T>(writable: Bool, _ body: (any KVTransaction) throws -> T) throws -> T {
        var conflicts = 0
        return try withRetries { connection in
            while true {
                switch try attempt(on: connection, writable: writable, body) {
                case .done(let value):
                    return value
                case .conflict:
                    conflicts += 1
                    guard conflicts <= Self.maxConflictRetries else {
                        throw EngineError("\(displayURL): transaction still conflicting after \(conflicts) attempts")
                    }
                    Self.pause(attempt: conflicts, baseMicroseconds: 200, capMicroseconds: 20_000)
                }
            }
        }
    }

    /// One run of `body` and its commit on `connection`.
    private func attempt<T>(on connection: RedisConnection, writable: Bool,
                            _ body: (any KVTransaction) throws -> T) throws -> Attempt<T> {
        let tx = RedisTransaction(connection: connection, names: names, writable: writable)
        defer { tx.finish() }
        let value: T
        do {
            value = try body(tx)
        } catch {
            if let failure = tx.failure { throw failure }
            // Only an error drawn from a consistent view may escape.
            guard try tx.validate() else { return .conflict }
            throw error
        }
        if let failure = tx.failure { throw failure }
        if tx.hasWrites { tx.fault = injectedFault.withLock { fault in defer { fault = nil }; return fault } }
        let sequence = connection.commitSequence + 1
        do {
            return try tx.commit() == .committed ? .done(value) : .conflict
        } catch RedisFailure.connection(let message) where tx.hasWrites {
            // The EXEC may or may not have run: find out before running the body again.
            if try commitHappened(on: connection, sequence: sequence, after: message) { return .done(value) }
            throw RedisFailure.connection(message)
        }
    }

    /// Whether the commit numbered `sequence` on the broken `old` connection was applied. From a
    /// new connection, first kills `old` on the server (its queued commands can then no longer
    /// run), then reads its marker. Retries for up to `retrySeconds`; after that the outcome is
    /// unknown and the transaction fails rather than risk applying it twice.
    private func commitHappened(on old: RedisConnection, sequence: UInt64, after message: String) throws -> Bool {
        let deadline = Self.now() + retrySeconds
        var attempt = 0
        while true {
            attempt += 1
            do {
                let connection = try RedisConnection(connector: connector)
                defer { connection.close() }
                var commands: [[[UInt8]]] = []
                // Client ids restart with the server: kill only within the same run. A server
                // that restarted took the old connection and its queued commands with it.
                if let id = old.clientID, let run = old.serverRunID, run == connection.serverRunID {
                    commands.append([Array("CLIENT".utf8), Array("KILL".utf8), Array("ID".utf8), Array(String(id).utf8)])
                }
                commands.append([Array("GET".utf8), names.marker(old.markerID)])
                // CLIENT KILL answers an error when the client is already gone, or NOPERM when
                // the user may not kill clients; either way the marker is what tells.
                let marker = try connection.pipeline(commands).last!.checked().bulk()
                return marker.map { String(decoding: $0, as: UTF8.self) } == String(sequence)
            } catch let failure as RedisFailure where failure.isTransient && Self.now() < deadline {
                Self.pause(attempt: attempt, baseMicroseconds: 50_000, capMicroseconds: 500_000)
            } catch let failure as RedisFailure {
                throw EngineError("\(displayURL): connection lost during commit (\(message)) and its outcome is unknown: \(failure)")
            }
        }
    }

    /// Runs `body` with a pooled connection. When it fails transiently (connection lost, server
    /// loading), the idle connections are dropped too (they most likely point at the same dead
    /// server) and `body` runs again on a new connection, until `retrySeconds` have passed.
    /// Errors that are not `RedisFailure` propagate unchanged.
    private func withRetries<T>(_ body: (RedisConnection) throws -> T) throws -> T {
        let deadline = Self.now() + retrySeconds
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try withConnection(body)
            } catch let failure as RedisFailure where failure.isTransient {
                dropIdleConnections()
                guard Self.now() < deadline else {
                    throw EngineError("\(displayURL): \(failure) (gave up after retrying for \(Int(retrySeconds)) s)")
                }
                Self.pause(attempt: attempt, baseMicroseconds: 20_000, capMicroseconds: 500_000)
            } catch let failure as RedisFailure {
                throw EngineError("\(displayURL): \(failure)")
            }
        }
    }

    private func withConnection<T>(_ body: (RedisConnection) throws -> T) throws -> T {
        try pool.with(body)
    }

    private func dropIdleConnections() { pool.dropIdle() }

    /// Sleeps before a retry: exponential from `base`, capped, with jitter so that colliding
    /// transactions do not collide again.
    private static func pause(attempt: Int, baseMicroseconds: Int, capMicroseconds: Int) {
        let ceiling = min(capMicroseconds, baseMicroseconds << min(attempt - 1, 16))
        usleep(UInt32(ceiling / 2 + Int.random(in: 0...(ceiling / 2))))
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

extension RedisConnection: PooledConnection {
    var isReusable: Bool { isOpen }
}
