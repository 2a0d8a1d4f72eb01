import CSQLite
import Dispatch
import SluiceBase
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The metadata engine over one SQLite database file (`sqlite3://PATH`), in WAL mode.
///
/// Safe to call from many threads: each transaction takes a connection from a small pool
/// (created lazily, at most `maxConnections`), so readers run in parallel on their own
/// snapshots while sqlite serializes writers. Several engines (or processes) may share a
/// file; lock conflicts are retried.
public final class SQLiteEngine: KVEngine {
    /// The most connections one engine opens; more concurrent transactions wait for one.
    public static let maxConnections = 8

    public var scheme: String { "sqlite3" }
    /// The database file.
    public let path: String

    /// `SQLiteConnection` is not thread-safe: a connection taken from the pool belongs to one
    /// transaction until it is put back.
    private let pool: ConnectionPool<SQLiteConnection>
    /// Lets one write transaction of this engine at a time ask sqlite for the write lock.
    /// sqlite would serialize them anyway, but its busy handler polls with sleeps of up to
    /// 100 ms; queueing here hands the lock over at once. Other processes still meet the
    /// busy handler.
    private let writerGate = DispatchSemaphore(value: 1)

    /// Opens the database at `path`, creating the file only when `create` is true. Fails with
    /// `UsageError` when the file is missing, unreadable or not a SQLite database, or (without
    /// `create`) a SQLite database without Sluice's table.
    public init(path: String, create: Bool) throws {
        self.path = path
        if !create && access(path, F_OK) != 0 {
            throw UsageError("database \(path) does not exist")
        }
        // The first connection validates the file and sets it up, so that problems show at open.
        let first: SQLiteConnection
        do {
            first = try SQLiteConnection(path: path, create: create)
            // Without `create` the file must already hold Sluice metadata: any other SQLite
            // database is left exactly as it is (no WAL switch, no table added).
            if !create, try first.queryText("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'kv'") == nil {
                first.close()
                throw UsageError("database \(path) holds no Sluice metadata: run `sluice format` first")
            }
            try first.prepareDatabase()
        } catch let failure as SQLiteFailure {
            let message = "cannot open sqlite3 database \(path): \(failure.message)"
            if failure.isUsageProblem { throw UsageError(message) }
            throw EngineError(message)
        }
        // Opening happens outside the pool's lock: it touches the disk.
        pool = ConnectionPool(capacity: SQLiteEngine.maxConnections, first: first,
                              closedMessage: "sqlite3 \(path): engine is closed") {
            try SQLiteConnection(path: path, create: false)
        }
    }

    deinit { close() }

    /// Runs `body` in `BEGIN DEFERRED`: one snapshot from its first read on, never blocking
    /// writers. Writing inside it throws `EngineError`.
    public func read<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try transaction(writable: false, body)
    }

    /// Runs `body` in `BEGIN IMMEDIATE` and commits. Lock conflicts (SQLITE_BUSY/LOCKED) run
    /// the whole body again after a short backoff; no new attempt starts after 10 s (each may
    /// still wait out the 5 s busy timeout) or 20 attempts, and the conflict becomes an
    /// `EngineError`. Errors thrown by `body` roll back and propagate unchanged.
    public func write<T>(_ body: (any KVTransaction) throws -> T) throws -> T {
        try transaction(writable: true, body)
    }

    /// Deletes every row of the `kv` table in one write transaction.
    public func reset() throws {
        try write { tx in try (tx as! SQLiteTransaction).deleteAll() }
    }

    /// Makes every committed transaction durable; see `SQLiteConnection.syncFiles` for why
    /// fsyncing the WAL and the database file is enough.
    public func sync() throws {
        do {
            try withConnection { try $0.syncFiles() }
        } catch let failure as SQLiteFailure {
            throw EngineError("sqlite3 \(path): sync failed: \(failure.message)")
        }
    }

    /// Closes every connection; transactions still running close theirs when they end.
    public func close() { pool.close() }

    // MARK: Transactions

    /// How long, in total, conflicting transactions are retried before giving up. Each attempt
    /// already waits up to the 5 s busy timeout inside sqlite, so retries are for the cases
    /// sqlite reports at once (e.g. a snapshot that can no longer be upgraded).
    private static let retryBudgetNanoseconds: UInt64 = 10_000_000_000
    private static let maxAttempts = 20

    private func transaction<T>(writable: Bool, _ body: (any KVTransaction) throws -> T) throws -> T {
        let started = monotonicNanoseconds()
        var attempt = 0
        while true {
            attempt += 1
            do {
                // Released on leaving this block, so no one waits for us while we back off.
                if writable { writerGate.wait() }
                defer { if writable { writerGate.signal() } }
                return try withConnection { connection in
                    try attemptTransaction(on: connection, writable: writable, body)
                }
            } catch let failure as SQLiteFailure where failure.isConflict {
                let elapsed = monotonicNanoseconds() - started
                guard attempt < Self.maxAttempts, elapsed < Self.retryBudgetNanoseconds else {
                    throw EngineError("sqlite3 \(path): gave up after \(attempt) attempts: \(failure.message)")
                }
                backoff(attempt: attempt)
            } catch let failure as SQLiteFailure {
                throw EngineError("sqlite3 \(path): \(failure.message)")
            }
        }
    }

    /// One run of `body` inside BEGIN … COMMIT; rolls back on any error and rethrows it.
    private func attemptTransaction<T>(on connection: SQLiteConnection, writable: Bool,
                                       _ body: (any KVTransaction) throws -> T) throws -> T {
        // Readers take a deferred transaction: its snapshot starts at the first read and stays
        // fixed. Writers take the write lock up front, so they never fail half-way on upgrade.
        try connection.run(writable ? .beginImmediate : .begin)
        let tx = SQLiteTransaction(connection: connection, writable: writable)
        defer { tx.finish() }
        do {
            let result = try body(tx)
            try connection.run(.commit)
            return result
        } catch {
            // A failed COMMIT may already have ended the transaction; only roll back an open one.
            if connection.inTransaction {
                do { try connection.run(.rollback) } catch { connection.close() }
            }
            throw error
        }
    }

    /// Sleeps a little before retrying: exponential from 1 ms, capped at 100 ms, with jitter so
    /// that colliding writers do not collide again.
    private func backoff(attempt: Int) {
        let base = min(100_000, 1_000 << min(attempt - 1, 10))
        usleep(UInt32(base / 2 + Int.random(in: 0...(base / 2))))
    }

    private func withConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try pool.with(body)
    }
}

extension SQLiteConnection: PooledConnection {
    /// A connection left inside a transaction (its ROLLBACK failed) is closed, not reused.
    var isReusable: Bool { isOpen && !inTransaction }
}
