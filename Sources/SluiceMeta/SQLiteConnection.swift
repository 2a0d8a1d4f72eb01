import CSQLite
import SluiceBase

/// A failed sqlite call, kept internal so the engine can tell a lock conflict (retry the
/// transaction) from anything else; it leaves the engine as `EngineError`/`UsageError`.
struct SQLiteFailure: Error {
    var code: Int32
    var message: String

    /// SQLITE_BUSY / SQLITE_LOCKED (with any extended code): another connection holds a lock
    /// we need; the whole transaction may simply be run again.
    var isConflict: Bool {
        let primary = code & 0xFF
        return primary == SQLITE_BUSY || primary == SQLITE_LOCKED
    }

    /// Problems the user can fix (wrong path, wrong file, permissions) rather than engine faults.
    var isUsageProblem: Bool {
        switch code & 0xFF {
        case SQLITE_NOTADB, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH: return true
        default: return false
        }
    }
}

/// The statements the engine runs, prepared once per connection and reused.
enum SQLiteStatement: Int, CaseIterable {
    case begin, beginImmediate, commit, rollback
    case get, set, delete, scanBounded, scanOpen, deleteAll

    var sql: String {
        switch self {
        case .begin: return "BEGIN DEFERRED"
        case .beginImmediate: return "BEGIN IMMEDIATE"
        case .commit: return "COMMIT"
        case .rollback: return "ROLLBACK"
        case .get: return "SELECT v FROM kv WHERE k = ?1"
        case .set: return "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)"
        case .delete: return "DELETE FROM kv WHERE k = ?1"
        case .scanBounded: return "SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k LIMIT ?3"
        case .scanOpen: return "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2"
        case .deleteAll: return "DELETE FROM kv"
        }
    }
}

/// One sqlite3 connection with its prepared statements. Used by one thread at a time: the
/// engine's pool hands it to exactly one transaction, which is why sqlite can be opened in
/// multi-thread (NOMUTEX) mode and the statement cache needs no lock.
final class SQLiteConnection {
    let path: String
    private var db: OpaquePointer?
    private var statements: [OpaquePointer?]

    /// Opens `path` and configures the connection. `create` allows creating a missing file.
    init(path: String, create: Bool) throws {
        self.path = path
        statements = Array(repeating: nil, count: SQLiteStatement.allCases.count)
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        if create { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            db = nil
            throw SQLiteFailure(code: rc, message: message)
        }
        do {
            // Readers and writers wait for each other's locks up to 5 s before reporting BUSY.
            sqlite3_busy_timeout(db, 5000)
            // sqlite silently falls back to read-only when the file is not writable.
            if sqlite3_db_readonly(db, "main") == 1 {
                throw SQLiteFailure(code: SQLITE_READONLY, message: "file is read-only")
            }
            // Opening is lazy: this is the first real read, and fails on a non-database file.
            try execute("SELECT count(*) FROM sqlite_master")
            // NORMAL in WAL mode: commits are atomic and ordered, but only fsynced at checkpoints;
            // `sync()` provides durability when it is required.
            try execute("PRAGMA synchronous=NORMAL")
        } catch {
            close()
            throw error
        }
    }

    /// Persistent database settings, run once by the first connection of an engine.
    func prepareDatabase() throws {
        let mode = try queryText("PRAGMA journal_mode=WAL")
        guard mode?.lowercased() == "wal" else {
            throw SQLiteFailure(code: SQLITE_ERROR, message: "cannot switch to WAL mode (journal mode is \(mode ?? "unknown"))")
        }
        try execute("CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
    }

    func close() {
        for case let statement? in statements { sqlite3_finalize(statement) }
        statements = statements.map { _ in nil }
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    deinit { close() }

    var isOpen: Bool { db != nil }

    /// True while a transaction is open (sqlite is not in autocommit mode).
    var inTransaction: Bool { db.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    // MARK: Statements

    /// The cached prepared statement for `kind`, reset and unbound, ready to bind.
    func statement(_ kind: SQLiteStatement) throws -> OpaquePointer {
        if let cached = statements[kind.rawValue] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, kind.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc) }
        statements[kind.rawValue] = statement
        return statement
    }

    /// Runs a cached statement that returns no rows.
    func run(_ kind: SQLiteStatement) throws {
        let statement = try statement(kind)
        defer { sqlite3_reset(statement) }
        try stepToEnd(statement)
    }

    /// Steps `statement` until it is done, ignoring rows.
    func stepToEnd(_ statement: OpaquePointer) throws {
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            if rc != SQLITE_ROW { throw failure(rc) }
        }
    }

    /// Advances to the next row: true on a row, false when done.
    func step(_ statement: OpaquePointer) throws -> Bool {
        let rc = sqlite3_step(statement)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw failure(rc)
    }

    /// Binds `bytes` as a BLOB without copying. The caller must keep the buffer alive until
    /// the statement is reset, which is why binding happens inside `withUnsafeBytes` scopes.
    func bind(_ statement: OpaquePointer, _ index: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        let rc: Int32
        if let base = bytes.baseAddress, bytes.count > 0 {
            // nil destructor is SQLITE_STATIC: sqlite uses the buffer in place.
            rc = sqlite3_bind_blob(statement, index, base, Int32(bytes.count), nil)
        } else {
            // A nil pointer would bind NULL; an empty key or value must stay an empty BLOB.
            rc = sqlite3_bind_zeroblob(statement, index, 0)
        }
        guard rc == SQLITE_OK else { throw failure(rc) }
    }

    func bind(_ statement: OpaquePointer, _ index: Int32, _ value: Int) throws {
        let rc = sqlite3_bind_int64(statement, index, Int64(value))
        guard rc == SQLITE_OK else { throw failure(rc) }
    }

    /// Copies BLOB column `index` of the current row out of sqlite's buffer.
    func blob(_ statement: OpaquePointer, _ index: Int32) -> [UInt8] {
        // sqlite documents calling column_blob before column_bytes.
        guard let base = sqlite3_column_blob(statement, index) else { return [] }
        let count = Int(sqlite3_column_bytes(statement, index))
        return [UInt8](UnsafeRawBufferPointer(start: base, count: count))
    }

    // MARK: One-off SQL

    /// Runs SQL that is not worth caching (pragmas, schema), ignoring any rows.
    func execute(_ sql: String) throws {
        _ = try queryText(sql)
    }

    /// Runs SQL and returns the first column of its first row as text, if any.
    func queryText(_ sql: String) throws -> String? {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc) }
        defer { sqlite3_finalize(statement) }
        var first: String?
        while try step(statement) {
            if first == nil, let text = sqlite3_column_text(statement, 0) {
                first = String(cString: text)
            }
        }
        return first
    }

    // MARK: Durability

    /// fsyncs the database file and the write-ahead log through sqlite's own file handles.
    ///
    /// Why this and not a checkpoint: with `synchronous=NORMAL` a commit is a write() to the
    /// WAL that is not fsynced. Every committed transaction is therefore either in the WAL
    /// (which is append-only until restarted) or, after a completed checkpoint, in the database
    /// file, which sqlite fsyncs before it lets the WAL restart. Syncing both files thus makes
    /// every transaction committed so far durable, whichever process committed it.
    /// `wal_checkpoint(FULL)` would not guarantee it: while a reader holds an old snapshot it
    /// may copy nothing and then skips the WAL fsync. We use sqlite's handles rather than
    /// opening the files ourselves because closing any descriptor of the database file would
    /// drop this process's POSIX locks on it.
    func syncFiles() throws {
        // A read makes sure this connection has opened the WAL (it opens it lazily).
        try execute("SELECT 1 FROM kv LIMIT 1")
        for op in [SQLITE_FCNTL_JOURNAL_POINTER, SQLITE_FCNTL_FILE_POINTER] {
            var file: UnsafeMutablePointer<sqlite3_file>?
            let rc = sqlite3_file_control(db, "main", op, &file)
            guard rc == SQLITE_OK else { throw failure(rc) }
            // No open WAL (none exists) means nothing is waiting in one.
            guard let file, let methods = file.pointee.pMethods, let xSync = methods.pointee.xSync else { continue }
            let syncRC = xSync(file, SQLITE_SYNC_NORMAL)
            guard syncRC == SQLITE_OK else {
                throw SQLiteFailure(code: syncRC, message: "fsync failed: \(String(cString: sqlite3_errstr(syncRC)))")
            }
        }
    }

    /// The failure for return code `rc`, with sqlite's message for this connection.
    func failure(_ rc: Int32) -> SQLiteFailure {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return SQLiteFailure(code: rc, message: message)
    }
}
