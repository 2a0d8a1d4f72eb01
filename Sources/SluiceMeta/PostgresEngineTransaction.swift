import PostgresNIO
import SluiceBase

/// A transaction on one pooled session, valid only inside the `read`/`write` call that created
/// it.
///
/// The server transaction starts lazily (BEGIN goes out with the first query), so a body that
/// only writes, or reads nothing, costs no extra round trip up front. Writes are never sent
/// while the body runs: they are buffered in `pending` (a value to set, or nil for a deletion)
/// and every read consults that overlay first, so the body reads its own writes. `commit`
/// sends them all in one statement, then COMMIT. See `PostgresEngine` for why this is as
/// correct as writing through.
final class PostgresTransaction: KVTransaction {
    private let session: PostgresSession
    private let table: String
    private let writable: Bool
    private var pending = WriteOverlay()
    /// Values read from the server in this transaction (nil for absent). The snapshot does not
    /// move during the transaction and its own writes are in `pending`, so reading a key again
    /// would return the same; the server has already recorded the read for SSI.
    private var cache: [[UInt8]: [UInt8]?] = [:]
    private var begun = false
    private var finished = false
    /// The first failure: after it the server transaction is aborted, so every later call (and
    /// the commit) fails the same way even if the body swallowed the first error.
    private var failure: PostgresFailure?

    init(session: PostgresSession, table: String, writable: Bool) {
        self.session = session
        self.table = table
        self.writable = writable
    }

    // MARK: KVTransaction

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try checkUsable(writing: false)
        if let change = pending[key] { return change }
        if let known = cache[key] { return known }
        var binds = PostgresBindings(capacity: 1)
        binds.append(ByteBuffer(bytes: key))
        let rows = try run("SELECT v FROM \(table) WHERE k = $1", binds)
        let value = try rows.first.map { try decodeBytes($0.decode(ByteBuffer.self)) }
        cache[key] = .some(value)
        return value
    }

    func get(many keys: [[UInt8]]) throws -> [[UInt8]?] {
        try prefetch(keys)
        return keys.map { key in pending[key] ?? cache[key]! }
    }

    /// Reads, in one statement, the keys neither written nor read yet in this transaction.
    func prefetch(_ keys: [[UInt8]]) throws {
        try checkUsable(writing: false)
        let missing = Array(Set(keys.filter { pending[$0] == nil && cache[$0] == nil }))
        guard !missing.isEmpty else { return }
        var binds = PostgresBindings(capacity: 1)
        binds.append(missing.map { ByteBuffer(bytes: $0) })
        var found: [[UInt8]: [UInt8]] = [:]
        for row in try run("SELECT k, v FROM \(table) WHERE k = ANY($1::bytea[])", binds) {
            let (k, v) = try row.decode((ByteBuffer, ByteBuffer).self)
            found[decodeBytes(k)] = decodeBytes(v)
        }
        for key in missing { cache[key] = .some(found[key]) }
    }

    func set(_ key: [UInt8], _ value: [UInt8]) throws {
        try checkUsable(writing: true)
        pending.set(key, value)
    }

    func delete(_ key: [UInt8]) throws {
        try checkUsable(writing: true)
        pending.delete(key)
    }

    func scan(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> [KVPair] {
        try checkUsable(writing: false)
        guard limit > 0 else { return [] }
        let start = KeyBytes.scanStart(prefix: prefix, after: after)
        let end = KeyBytes.prefixEnd(prefix)
        let overlay = pending.keys(from: start, to: end)
        // Every buffered key in range may hide (deletion) or duplicate (set) one stored row, so
        // fetching that many more rows than asked for still leaves `limit` visible ones when
        // the range has them.
        let (fetch, overflow) = limit.addingReportingOverflow(overlay.count)
        var binds = PostgresBindings(capacity: 3)
        binds.append(ByteBuffer(bytes: start))
        let sql: String
        if let end {
            binds.append(ByteBuffer(bytes: end))
            sql = "SELECT k, v FROM \(table) WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"
        } else {
            sql = "SELECT k, v FROM \(table) WHERE k >= $1 ORDER BY k LIMIT $2"
        }
        binds.append(Int64(overflow ? Int.max : fetch))
        var stored: [KVPair] = []
        for row in try run(sql, binds) {
            let (k, v) = try row.decode((ByteBuffer, ByteBuffer).self)
            stored.append(KVPair(key: decodeBytes(k), value: decodeBytes(v)))
        }
        guard !overlay.isEmpty else { return Array(stored.prefix(limit)) }
        // Merge the stored rows (already in order) with the buffered changes, which win.
        let values = Dictionary(stored.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        return pending.merge(base: stored.lazy.map(\.key), mine: overlay, limit: limit) { values[$0] }
    }

    // MARK: Engine side

    func finish() { finished = true }

    /// Sends the buffered writes and commits. Throws `PostgresFailure`, except that losing the
    /// connection during the COMMIT of a transaction that wrote something throws
    /// `CommitOutcomeUnknown`, with the transaction's id, since the server may have committed.
    func commit() throws {
        if let failure { throw failure }
        if !pending.isEmpty {
            var deleted: [ByteBuffer] = []
            var keys: [ByteBuffer] = []
            var values: [ByteBuffer] = []
            for (key, value) in pending.changes {
                if let value {
                    keys.append(ByteBuffer(bytes: key))
                    values.append(ByteBuffer(bytes: value))
                } else {
                    deleted.append(ByteBuffer(bytes: key))
                }
            }
            // One statement for every change. Data-modifying WITH clauses always run to
            // completion, whether or not the outer SELECT reads them, and see the same
            // snapshot; the key sets are disjoint (`pending` holds one change per key), so no
            // row is touched twice. The outer SELECT names the transaction for `CommitOutcomeUnknown`.
            var binds = PostgresBindings(capacity: 3)
            var clauses: [String] = []
            if !deleted.isEmpty {
                binds.append(deleted)
                clauses.append("gone AS (DELETE FROM \(table) WHERE k = ANY($\(binds.count)::bytea[]))")
            }
            if !keys.isEmpty {
                binds.append(keys)
                binds.append(values)
                clauses.append("""
                    put AS (INSERT INTO \(table) (k, v) SELECT * FROM unnest($\(binds.count - 1)::bytea[], $\(binds.count)::bytea[]) \
                    ON CONFLICT (k) DO UPDATE SET v = excluded.v)
                    """)
            }
            // BEGIN (if the body read nothing), the changes and the COMMIT are queued together:
            // one wait, and COMMIT is sent only once the changes have answered (see
            // `PostgresSession.send`). The changes' answer names the transaction, so that a
            // connection lost during the COMMIT still knows which transaction to ask about.
            var statements: [(sql: String, binds: PostgresBindings)] = []
            if !begun { statements.append((beginStatement, PostgresBindings())) }
            statements.append(("WITH \(clauses.joined(separator: ", ")) SELECT pg_current_xact_id()::text", binds))
            statements.append(("COMMIT", PostgresBindings()))
            begun = false
            let outcomes: [Result<PostgresQueryResult, PostgresFailure>]
            do {
                outcomes = try session.run(statements)
            } catch let failure as PostgresFailure {
                // Timed out: whether the COMMIT ran is not known, nor the transaction's id.
                self.failure = failure
                throw failure
            }
            for outcome in outcomes.dropLast(2) { _ = try outcome.get() }
            let xid = try outcomes[outcomes.count - 2].get().first?.decode(String.self)
            if case .failure(let failure) = outcomes[outcomes.count - 1] {
                if case .connection(let message) = failure, let xid {
                    throw CommitOutcomeUnknown(xid: xid, message: message)
                }
                throw failure
            }
            return
        }
        guard begun else { return }
        begun = false
        guard writable else {
            // A READ ONLY transaction has nothing to make durable and cannot fail to
            // serialize, so its COMMIT is queued without waiting: it runs before anything the
            // next user of this connection sends, and a connection it breaks fails that user.
            _ = try session.send("COMMIT")
            return
        }
        _ = try session.query("COMMIT")
    }

    /// Removes every key (for `PostgresEngine.reset`), dropping this transaction's own
    /// buffered changes too.
    func truncate() throws {
        try checkUsable(writing: true)
        pending = WriteOverlay()
        cache.removeAll()
        _ = try run("TRUNCATE \(table)", PostgresBindings())
    }

    /// Rolls back an open server transaction after the body or the commit failed. A session
    /// whose ROLLBACK fails is broken (it would otherwise be pooled inside a transaction).
    func rollback() {
        guard begun, !session.broken else { return }
        begun = false
        do { _ = try session.query("ROLLBACK") } catch { session.broken = true }
    }

    // MARK: Helpers

    private func checkUsable(writing: Bool) throws {
        // An escaped transaction would run on a session another transaction now owns.
        if finished { throw EngineError("postgres: transaction used after it ended") }
        if writing && !writable { throw EngineError("postgres: write in a read transaction") }
        if let failure { throw failure }
    }

    private var beginStatement: String {
        // Writers run SERIALIZABLE, readers REPEATABLE READ READ ONLY: both take their snapshot
        // at the first statement after BEGIN and keep it to the end.
        writable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    }

    /// Runs one statement inside the server transaction, with BEGIN queued ahead of it (one
    /// wait for both) when the transaction has not begun.
    private func run(_ sql: String, _ binds: PostgresBindings) throws -> PostgresQueryResult {
        do {
            var statements: [(sql: String, binds: PostgresBindings)] = []
            if !begun { statements.append((beginStatement, PostgresBindings())) }
            statements.append((sql, binds))
            begun = true
            let outcomes = try session.run(statements)
            for outcome in outcomes.dropLast() { _ = try outcome.get() }
            return try outcomes[outcomes.count - 1].get()
        } catch let failure as PostgresFailure {
            self.failure = failure
            throw failure
        }
    }

    private func decodeBytes(_ buffer: ByteBuffer) -> [UInt8] {
        Array(buffer.readableBytesView)
    }
}

/// The connection was lost while COMMIT was in flight: the server may or may not have
/// committed transaction `xid`.
struct CommitOutcomeUnknown: Error {
    var xid: String
    var message: String
}
