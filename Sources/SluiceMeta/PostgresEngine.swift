import Dispatch
import PostgresNIO
import SluiceBase
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The metadata engine over one PostgreSQL table
/// (`postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=…&table=…`, see `PostgresEngineURL`):
///
///     CREATE TABLE IF NOT EXISTS sluice_kv (k bytea PRIMARY KEY, v bytea NOT NULL)
///
/// bytea compares with memcmp and a shorter value first, which is exactly the KVEngine key
/// order, so scans are plain `k >= start AND k < end ORDER BY k LIMIT n` range queries.
///
/// **Bridging.** The KVEngine API is synchronous and called from FUSE worker threads. The
/// engine owns a two-thread `MultiThreadedEventLoopGroup`; each statement is sent with
/// postgres-nio's EventLoopFuture API and the calling thread waits on a semaphore, always with
/// a timeout (`PostgresBridge`). A small pool (`poolSize`) gives each transaction a connection
/// of its own.
///
/// **Isolation.** Write transactions run at SERIALIZABLE; read transactions at REPEATABLE READ
/// READ ONLY, which gives one snapshot for the whole body. Writes are buffered client-side and
/// sent in one statement just before COMMIT. This is as correct as sending each write when it
/// is made: (1) the body's reads are answered from the overlay when it wrote the key, and from
/// the server otherwise, which is exactly what the server would answer inside the transaction
/// (its snapshot plus the transaction's own writes), scans included (`PostgresTransaction.scan`
/// merges the two); (2) the writes still happen inside the same server transaction, after all
/// its reads, so serializable snapshot isolation sees the same read set and write set and
/// either commits a result equivalent to some serial order or fails it with SQLSTATE 40001.
/// Sending writes late only moves the moment a conflict is detected to the flush or the COMMIT,
/// where it is retried like any other. 40001 and 40P01 (deadlock) rerun the whole body after a
/// jittered exponential backoff, at most `maxConflictAttempts` times within
/// `conflictBudgetSeconds`, then become `EngineError`.
///
/// **Failures.** A lost connection (server restart, network, timeout) discards the connection.
/// Before COMMIT was sent nothing was committed, so the body runs again on a new connection;
/// reconnecting is retried with backoff for up to `reconnectBudgetSeconds`, then it is an
/// `EngineError`. If the connection is lost while COMMIT is in flight the outcome is unknown:
/// the engine reconnects and asks the server with `pg_xact_status` (PostgreSQL 13 or later)
/// about the transaction id it read before committing, returning the body's result when it
/// committed and rerunning the body when it aborted, so no transaction is ever applied twice
/// or silently lost.
///
/// **Durability.** A COMMIT returns once its WAL is flushed (`synchronous_commit` on, the
/// default), so `sync` has nothing to do.
public final class PostgresEngine: KVEngine {
    public var scheme: String { "postgres" }
    /// The parsed URL (holds the password: do not log it; use `description`).
    public let settings: PostgresEngineURL

    /// Connections per engine; more concurrent transactions wait for one.
    public static let poolSize = 8
    static let connectTimeoutSeconds: Int64 = 10
    static let queryTimeoutSeconds: Int64 = 30
    static let slotTimeoutSeconds: Int64 = 60
    static let maxConflictAttempts = 200
    static let conflictBudgetSeconds: UInt64 = 30
    static let reconnectBudgetSeconds: UInt64 = 30

    private let pool: PostgresPool
    private let table: String

    /// Connects to the server named by `url` and creates the table when it is missing. A
    /// server that cannot be reached is an `EngineError`; rejected credentials, a missing
    /// database or a malformed URL are `UsageError`s. Each is one line naming the server.
    public convenience init(url: String) throws {
        try self.init(settings: PostgresEngineURL(url))
    }

    public init(settings: PostgresEngineURL) throws {
        self.settings = settings
        table = settings.quotedTable
        let configuration = try settings.connectionConfiguration(connectTimeout: .seconds(Self.connectTimeoutSeconds))
        pool = PostgresPool(configuration: configuration, size: Self.poolSize,
                            connectTimeout: Self.connectTimeoutSeconds, queryTimeout: Self.queryTimeoutSeconds,
                            slotTimeout: Self.slotTimeoutSeconds)
        do {
            // One attempt, no retries: a wrong address or password should show at once.
            let first = try pool.connect()
            defer { pool.checkIn(first) }
            try createTable(on: first)
        } catch let failure as PostgresFailure {
            pool.close()
            switch failure {
            case .refused(let message):
                throw UsageError("cannot open postgres database \(settings.endpoint): \(message)")
            default:
                throw EngineError("cannot open postgres database \(settings.endpoint): \(failure)")
            }
        } catch {
            pool.close()
            throw error
        }
    }

    deinit { close() }

    public var description: String { "postgres://\(settings.endpoint) table \(settings.table)" }

    public func read<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try transaction(writable: false, body)
    }

    public func write<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try transaction(writable: true, body)
    }

    /// Empties the table with TRUNCATE, in a write transaction.
    public func reset() throws {
        try write { tx in try (tx as! PostgresTransaction).truncate() }
    }

    /// Nothing to do: every COMMIT was durable before it returned (see the type's notes).
    public func sync() throws {}

    /// Closes the connections and stops the event loops.
    public func close() {
        pool.close()
    }

    // MARK: Transactions

    /// What one attempt produced.
    private enum Attempt<T> {
        case done(T)
        /// COMMIT's answer was lost; `result` stands if transaction `xid` committed.
        case unknown(T, xid: String, message: String)
    }

    private func transaction<T>(writable: Bool, _ body: (any KVTransaction) throws -> T) throws -> T {
        let started = monotonicNanoseconds()
        var conflicts = 0
        var reconnects = 0
        while true {
            let failure: PostgresFailure
            do {
                let attempt = try pool.withSession { session -> Attempt<T> in
                    try attemptTransaction(on: session, writable: writable, body)
                }
                switch attempt {
                case .done(let result):
                    return result
                case .unknown(let result, let xid, let message):
                    if try committed(xid: xid, since: started, message: message) { return result }
                    failure = .connection("transaction \(xid) was rolled back when the connection was lost: \(message)")
                }
            } catch let caught as PostgresFailure {
                failure = caught
            }
            let elapsed = (monotonicNanoseconds() - started) / 1_000_000_000
            switch failure {
            case .conflict:
                conflicts += 1
                guard conflicts < Self.maxConflictAttempts, elapsed < Self.conflictBudgetSeconds else {
                    throw EngineError("\(description): gave up after \(conflicts) conflicting attempts: \(failure)")
                }
                Self.sleep(attempt: conflicts, baseMicros: 500, capMicros: 50_000)
            case .connection:
                reconnects += 1
                guard elapsed < Self.reconnectBudgetSeconds else {
                    throw EngineError("\(description): server unreachable for \(elapsed) s: \(failure)")
                }
                Self.sleep(attempt: reconnects, baseMicros: 20_000, capMicros: 1_000_000)
            case .refused, .server:
                throw EngineError("\(description): \(failure)")
            }
        }
    }

    /// One run of `body`, then the flush and COMMIT. Rolls back on any error and rethrows it.
    private func attemptTransaction<T>(on session: PostgresSession, writable: Bool,
                                       _ body: (any KVTransaction) throws -> T) throws -> Attempt<T> {
        let tx = PostgresTransaction(session: session, table: table, writable: writable)
        defer { tx.finish() }
        do {
            let result = try body(tx)
            do {
                try tx.commit()
            } catch let unknown as CommitOutcomeUnknown {
                return .unknown(result, xid: unknown.xid, message: unknown.message)
            }
            return .done(result)
        } catch {
            tx.rollback()
            throw error
        }
    }

    /// Asks the server, over a new connection, whether transaction `xid` committed. Waits out
    /// an "in progress" answer (the server has not yet seen the old connection drop) and
    /// unreachability, both within the reconnect budget.
    private func committed(xid: String, since started: UInt64, message: String) throws -> Bool {
        var attempt = 0
        while true {
            attempt += 1
            let status: String?
            do {
                status = try pool.withSession { session -> String? in
                    var binds = PostgresBindings(capacity: 1)
                    binds.append(xid)
                    let rows = try session.query("SELECT pg_xact_status($1::text::xid8)", binds)
                    return try rows.first?.decode(String?.self)
                }
            } catch let failure as PostgresFailure {
                guard case .connection = failure else {
                    throw EngineError("\(description): commit outcome of transaction \(xid) unknown (\(message)): \(failure)")
                }
                status = "in progress"
            }
            switch status {
            case "committed": return true
            case "aborted": return false
            case "in progress" where (monotonicNanoseconds() - started) / 1_000_000_000 < Self.reconnectBudgetSeconds:
                Self.sleep(attempt: attempt, baseMicros: 20_000, capMicros: 1_000_000)
            default:
                throw EngineError("\(description): commit outcome of transaction \(xid) unknown (\(message)): status \(status ?? "null")")
            }
        }
    }

    /// Creates the table if missing. Two clients creating it at once may collide in the
    /// catalogs (23505/42P07); the loser finds it there on the next try.
    private func createTable(on session: PostgresSession) throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                _ = try session.query("CREATE TABLE IF NOT EXISTS \(table) (k bytea PRIMARY KEY, v bytea NOT NULL)")
                return
            } catch PostgresFailure.server(let message) where attempt < 3
                && (message.contains("23505") || message.contains("42P07")) {
                continue
            }
        }
    }

    /// Sleeps before retrying: exponential from `baseMicros`, capped, with jitter so that
    /// colliding transactions do not collide again.
    private static func sleep(attempt: Int, baseMicros: Int, capMicros: Int) {
        let base = min(capMicros, baseMicros << min(attempt - 1, 20))
        usleep(UInt32(base / 2 + Int.random(in: 0...(base / 2))))
    }
}
