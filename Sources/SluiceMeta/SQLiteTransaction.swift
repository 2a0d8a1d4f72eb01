import CSQLite
import SluiceBase

/// A transaction on one pooled connection, valid only inside the `read`/`write` call that
/// created it. Keys and values are bound in place (SQLITE_STATIC) inside `withUnsafeBytes`
/// scopes and the statement is reset before the scope ends, so nothing is copied on the way in.
final class SQLiteTransaction: KVTransaction {
    private let connection: SQLiteConnection
    private let writable: Bool
    private var finished = false

    init(connection: SQLiteConnection, writable: Bool) {
        self.connection = connection
        self.writable = writable
    }

    func finish() { finished = true }

    private func checkUsable(writing: Bool) throws {
        // An escaped transaction would run on a connection another transaction now owns.
        if finished { throw EngineError("sqlite3 \(connection.path): transaction used after it ended") }
        if writing && !writable { throw EngineError("sqlite3 \(connection.path): write in a read transaction") }
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try checkUsable(writing: false)
        let statement = try connection.statement(.get)
        defer { sqlite3_reset(statement) }
        return try key.withUnsafeBytes { key in
            try connection.bind(statement, 1, key)
            return try connection.step(statement) ? connection.blob(statement, 0) : nil
        }
    }

    func get(many keys: [[UInt8]]) throws -> [[UInt8]?] {
        // One cached statement per key is as fast as an IN list here (no network round trips)
        // and keeps the result order trivially aligned with `keys`.
        var values: [[UInt8]?] = []
        values.reserveCapacity(keys.count)
        for key in keys { values.append(try get(key)) }
        return values
    }

    func set(_ key: [UInt8], _ value: [UInt8]) throws {
        try checkUsable(writing: true)
        let statement = try connection.statement(.set)
        defer { sqlite3_reset(statement) }
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in
                try connection.bind(statement, 1, key)
                try connection.bind(statement, 2, value)
                try connection.stepToEnd(statement)
            }
        }
    }

    func delete(_ key: [UInt8]) throws {
        try checkUsable(writing: true)
        let statement = try connection.statement(.delete)
        defer { sqlite3_reset(statement) }
        try key.withUnsafeBytes { key in
            try connection.bind(statement, 1, key)
            try connection.stepToEnd(statement)
        }
    }

    func scan(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> [KVPair] {
        try checkUsable(writing: false)
        guard limit > 0 else { return [] }
        let start = KeyBytes.scanStart(prefix: prefix, after: after)
        let end = KeyBytes.prefixEnd(prefix)
        let statement = try connection.statement(end == nil ? .scanOpen : .scanBounded)
        defer { sqlite3_reset(statement) }
        return try start.withUnsafeBytes { start in
            try connection.bind(statement, 1, start)
            let collect = { () throws -> [KVPair] in
                var pairs: [KVPair] = []
                while try self.connection.step(statement) {
                    pairs.append(KVPair(key: self.connection.blob(statement, 0),
                                        value: self.connection.blob(statement, 1)))
                }
                return pairs
            }
            guard let end else {
                try connection.bind(statement, 2, limit)
                return try collect()
            }
            return try end.withUnsafeBytes { end in
                try connection.bind(statement, 2, end)
                try connection.bind(statement, 3, limit)
                return try collect()
            }
        }
    }

    /// Removes every key (for `SQLiteEngine.reset`).
    func deleteAll() throws {
        try checkUsable(writing: true)
        try connection.run(.deleteAll)
    }
}
