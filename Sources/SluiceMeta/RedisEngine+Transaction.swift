import SluiceBase

/// The Redis key names of one volume (see `RedisEngine` for the layout). All share the hash tag
/// `{prefix}`, so that a Redis Cluster would place them in one slot, as MULTI/EXEC requires.
struct RedisKeyNames: Sendable {
    /// The sorted set indexing every key of the volume.
    let index: [UInt8]
    /// Prepended to a volume key to name the Redis string that holds its value.
    let valuePrefix: [UInt8]
    /// Prepended to a connection's marker id to name its commit marker.
    let markerPrefix: [UInt8]
    /// SCAN MATCH pattern covering every key above.
    let pattern: String

    init(prefix: String) {
        index = Array("{\(prefix)}:i".utf8)
        valuePrefix = Array("{\(prefix)}:k:".utf8)
        markerPrefix = Array("{\(prefix)}:c:".utf8)
        pattern = "{\(prefix)}:*"
    }

    func value(_ key: [UInt8]) -> [UInt8] { valuePrefix + key }
    func marker(_ id: String) -> [UInt8] { markerPrefix + Array(id.utf8) }
}

/// A failure injected into the next commit, for tests of lost connections.
enum RedisCommitFault: Sendable {
    /// The connection breaks before the commit is sent: nothing is applied.
    case requestLost
    /// The connection breaks after the commit was applied, before its reply is read.
    case replyLost
}

/// What one attempt at committing found.
enum RedisCommitOutcome {
    case committed
    /// A watched key changed since it was read: the body must run again.
    case conflict
}

/// One attempt of a transaction on one pooled connection, valid only inside the engine call
/// that created it.
///
/// Every key the body reads with `get` is WATCHed before it is read (in the same pipeline). A
/// scan reads index and values in one script and keeps the range with their digest
/// (`RedisScanRange`); the index is not watched. Writes are buffered in `pending`. At the end,
/// MULTI/EXEC applies the writes (or, for a body that only read, applies nothing): EXEC fails
/// when any watched key changed after it was watched, and the script in it applies nothing when
/// a scanned range no longer has its digest, so a commit proves that everything the body saw
/// was still current at that instant — one consistent snapshot.
final class RedisTransaction: KVTransaction {
    private let connection: RedisConnection
    private let names: RedisKeyNames
    private let writable: Bool
    /// Buffered changes: a value to set, or nil for a deletion.
    private var pending = WriteOverlay()
    /// Values read from the server in this attempt (nil for absent); every one is watched, so
    /// reading it again needs no round trip.
    private var cache: [[UInt8]: [UInt8]?] = [:]
    /// Index ranges scanned in this attempt, validated at commit (see `RedisScanRange`).
    private var ranges: [RedisScanRange] = []
    /// Whether a WATCH was sent in this attempt (point reads watch; scans do not).
    private var watching = false
    /// Round trips that read data. One round trip is atomic on the server, so a body that read
    /// only once saw a consistent state without validating it.
    private var readRounds = 0
    /// The first Redis failure seen; the attempt is void even if the body swallowed it.
    private(set) var failure: RedisFailure?
    private var finished = false
    /// Set by the engine when a test asked for a fault in this commit.
    var fault: RedisCommitFault?

    init(connection: RedisConnection, names: RedisKeyNames, writable: Bool) {
        self.connection = connection
        self.names = names
        self.writable = writable
    }

    func finish() { finished = true }

    var hasWrites: Bool { !pending.isEmpty }

    private func checkUsable(writing: Bool) throws {
        if finished { throw EngineError("redis engine: transaction used after it ended") }
        if writing && !writable { throw EngineError("redis engine: write in a read transaction") }
    }

    /// Sends commands in one round trip, first dropping watches a previous transaction on this
    /// connection left behind, and records any failure.
    private func send(_ commands: [[[UInt8]]]) throws -> [RedisReply] {
        if let failure { throw failure }
        do {
            guard connection.leftoverWatches else { return try connection.pipeline(commands) }
            let replies = try connection.pipeline([[Array("UNWATCH".utf8)]] + commands)
            connection.leftoverWatches = false
            try replies[0].checked()
            return Array(replies.dropFirst())
        } catch let error as RedisFailure {
            failure = error
            throw error
        }
    }

    private static let watch = Array("WATCH".utf8)
    private static let get = Array("GET".utf8)
    private static let mget = Array("MGET".utf8)
    private static let eval = Array("EVAL".utf8)

    // MARK: Reads

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try checkUsable(writing: false)
        if let change = pending[key] { return change }
        if let known = cache[key] { return known }
        let name = names.value(key)
        let replies = try send([[Self.watch, name], [Self.get, name]])
        readRounds += 1
        watching = true
        let value = try recorded { try replies[0].checked(); return try replies[1].checked().bulk() }
        cache[key] = .some(value)
        return value
    }

    func get(many keys: [[UInt8]]) throws -> [[UInt8]?] {
        try checkUsable(writing: false)
        try fetch(keys.filter { pending[$0] == nil })
        return keys.map { key in pending[key] ?? cache[key]! }
    }

    func prefetch(_ keys: [[UInt8]]) throws {
        try checkUsable(writing: false)
        try fetch(keys.filter { pending[$0] == nil })
    }

    /// Watches and reads, in one round trip, the keys of `keys` not yet in the cache.
    private func fetch(_ keys: [[UInt8]]) throws {
        var missing: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        for key in keys where cache[key] == nil && seen.insert(key).inserted { missing.append(key) }
        guard !missing.isEmpty else { return }
        let redisNames = missing.map(names.value)
        let replies = try send([[Self.watch] + redisNames, [Self.mget] + redisNames])
        readRounds += 1
        watching = true
        let values = try recorded { () -> [RedisReply] in
            try replies[0].checked()
            let values = try replies[1].checked().elements()
            guard values.count == missing.count else {
                throw RedisFailure.unexpected("MGET of \(missing.count) keys returned \(values.count) values")
            }
            return values
        }
        for (key, value) in zip(missing, values) { cache[key] = .some(try recorded { try value.bulk() }) }
    }

    func scan(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> [KVPair] {
        try checkUsable(writing: false)
        guard limit > 0 else { return [] }
        let start = KeyBytes.scanStart(prefix: prefix, after: after)
        let end = KeyBytes.prefixEnd(prefix)
        // This transaction's own changes in range, which win over the server's keys.
        let overlay = pending.keys(from: start, to: end)
        // Each of our deletions in range may hide one server key: fetch that many more, so
        // that `limit` survivors are among what is fetched (the page stays bounded).
        let deletions = overlay.count(where: { pending[$0]! == nil })
        let (wanted, overflow) = limit.addingReportingOverflow(deletions)
        let fetchCount = overflow ? Int.max : wanted

        // Index and values in one script: one round trip, one atomic state, and no WATCH on the
        // index (the range is validated by its digest at commit instead).
        let min = start.isEmpty ? Array("-".utf8) : Array("[".utf8) + start
        let max = end.map { Array("(".utf8) + $0 } ?? Array("+".utf8)
        let requested = fetchCount < Int.max ? fetchCount : -1
        let replies = try send([[Self.eval, RedisScripts.scan, Array("1".utf8), names.index, names.valuePrefix,
                                 min, max, Array(String(requested).utf8)]])
        readRounds += 1
        let (digest, members, values) = try recorded { () -> ([UInt8], [[UInt8]], [RedisReply]) in
            let parts = try replies[0].checked().elements()
            guard parts.count == 3, let digest = try parts[0].bulk() else {
                throw RedisFailure.unexpected("scan script returned \(parts.count) parts")
            }
            let members = try parts[1].elements().map { try $0.bulk() ?? [] }
            let values = try parts[2].elements()
            guard values.count == members.count else {
                throw RedisFailure.unexpected("scan script returned \(members.count) keys and \(values.count) values")
            }
            return (digest, members, values)
        }
        // A full page was cut at its last member: only up to there was read.
        let full = requested >= 0 && members.count == requested
        ranges.append(RedisScanRange(min: min, max: full ? Array("[".utf8) + members.last! : max,
                                     limit: members.count + 1, digest: digest))
        for (key, value) in zip(members, values) where pending[key] == nil {
            cache[key] = .some(try recorded { try value.bulk() })
        }

        // The script reads index and values atomically, so a member without a value means a
        // torn store: the merge skips it as a deleted key would be.
        return pending.merge(base: members, mine: overlay, limit: limit) { cache[$0]! }
    }

    // MARK: Writes

    func set(_ key: [UInt8], _ value: [UInt8]) throws {
        try checkUsable(writing: true)
        pending.set(key, value)
    }

    func delete(_ key: [UInt8]) throws {
        try checkUsable(writing: true)
        pending.delete(key)
    }

    // MARK: Ending

    /// True when everything the body read is still current: EXEC of a MULTI that holds nothing
    /// (or only the check of the scanned ranges) succeeds and the ranges are unchanged.
    /// A body that read in at most one round trip saw one state and needs no check.
    func validate() throws -> Bool {
        guard readRounds > 1 else {
            // Watches of this attempt stay set until the next command that clears them (a
            // previous attempt's were cleared by this one's first send, if it sent anything).
            if watching { connection.leftoverWatches = true }
            return true
        }
        var commands: [[[UInt8]]] = [[Array("MULTI".utf8)]]
        if !ranges.isEmpty {
            commands.append([Self.eval, RedisScripts.validate, Array("1".utf8), names.index, names.valuePrefix]
                            + RedisScripts.arguments(for: ranges))
        }
        commands.append([Array("EXEC".utf8)])
        let replies = try send(commands)
        return try recorded { () -> Bool in
            for reply in replies.dropLast() { try reply.checked() }
            let result = try replies.last!.checked()
            if result == .null { return false }
            guard !ranges.isEmpty else { return true }
            let items = try result.elements()
            return try items.first?.checked() == .integer(1)
        }
    }

    /// Applies the buffered writes atomically, provided nothing read has changed. The commit
    /// also sets this connection's marker to a new sequence number, so that a commit whose
    /// reply was lost can be told apart from one that never happened (see `RedisEngine`).
    /// A `RedisFailure.connection` thrown here leaves the outcome unknown.
    func commit() throws -> RedisCommitOutcome {
        guard writable, !pending.isEmpty else { return try validate() ? .committed : .conflict }
        connection.commitSequence += 1
        let marker = [names.marker(connection.markerID), Array(String(connection.commitSequence).utf8),
                      Array(String(RedisEngine.markerLifetimeSeconds).utf8)]
        var commands: [[[UInt8]]] = [[Array("MULTI".utf8)]]
        if ranges.isEmpty {
            var sets: [[UInt8]] = [Array("MSET".utf8)]
            var added: [[UInt8]] = [Array("ZADD".utf8), names.index]
            var deleted: [[UInt8]] = [Array("DEL".utf8)]
            var removed: [[UInt8]] = [Array("ZREM".utf8), names.index]
            for (key, change) in pending.changes {
                if let value = change {
                    sets += [names.value(key), value]
                    added += [Array("0".utf8), key]
                } else {
                    deleted.append(names.value(key))
                    removed.append(key)
                }
            }
            if sets.count > 1 { commands += [sets, added] }
            if deleted.count > 1 { commands += [deleted, removed] }
            commands.append([Array("SET".utf8), marker[0], marker[1], Array("EX".utf8), marker[2]])
        } else {
            // The ranges must be checked and the writes applied with nothing in between: one
            // script, inside the MULTI so that the point reads' WATCHes still apply.
            var sets: [[UInt8]] = []
            var deletes: [[UInt8]] = []
            for (key, change) in pending.changes {
                if let value = change { sets += [key, value] } else { deletes.append(key) }
            }
            commands.append([Self.eval, RedisScripts.commit, Array("1".utf8), names.index, names.valuePrefix]
                            + RedisScripts.arguments(for: ranges)
                            + [Array(String(sets.count / 2).utf8)] + sets
                            + [Array(String(deletes.count).utf8)] + deletes + marker)
        }
        commands.append([Array("EXEC".utf8)])
        if fault == .requestLost { try simulateLostConnection("connection lost before EXEC") }
        let replies = try send(commands)
        if fault == .replyLost { try simulateLostConnection("EXEC reply lost") }
        let scripted = !ranges.isEmpty
        return try recorded { () -> RedisCommitOutcome in
            // Queueing errors (e.g. OOM) make EXEC fail with EXECABORT: nothing was applied.
            for reply in replies.dropLast() { try reply.checked() }
            let result = try replies.last!.checked()
            if result == .null { return .conflict }
            let items = try result.elements()
            for reply in items { try reply.checked() }
            if scripted, items.first != .integer(1) { return .conflict }
            return .committed
        }
    }

    private func simulateLostConnection(_ what: String) throws {
        connection.markBroken()
        try recorded { throw RedisFailure.connection("simulated: \(what)") }
    }

    /// Runs `body`, recording a `RedisFailure` it throws so that the attempt is retried or
    /// failed even if the transaction's body catches it.
    @discardableResult
    private func recorded<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as RedisFailure {
            if failure == nil { failure = error }
            throw error
        }
    }
}
