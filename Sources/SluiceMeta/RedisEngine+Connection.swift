import SluiceBase

/// One reply from the server (RESP2).
enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case null
    case array([RedisReply])
    case error(String)

    /// The bytes of a bulk string, or nil for a nil reply (an absent key).
    func bulk() throws -> [UInt8]? {
        switch self {
        case .string(let bytes): return bytes
        case .null: return nil
        default: throw RedisFailure.unexpected("expected a bulk string, got \(self.summary)")
        }
    }

    /// The elements of an array reply.
    func elements() throws -> [RedisReply] {
        guard case .array(let items) = self else { throw RedisFailure.unexpected("expected an array, got \(summary)") }
        return items
    }

    /// Throws the server's error when the reply is one.
    @discardableResult
    func checked() throws -> RedisReply {
        if case .error(let message) = self { throw RedisFailure.server(message) }
        return self
    }

    /// A short description for error messages (never a whole value).
    var summary: String {
        switch self {
        case .string(let bytes): return "a \(bytes.count)-byte string"
        case .status(let text): return "status \(text)"
        case .integer(let value): return "integer \(value)"
        case .null: return "nil"
        case .array(let items): return "an array of \(items.count)"
        case .error(let message): return "error \(message)"
        }
    }
}

/// Why a Redis call failed, before the engine turns it into an `EngineError`.
enum RedisFailure: Error, CustomStringConvertible, Sendable {
    /// The connection is unusable (refused, reset, timed out, closed): the state of any command
    /// in flight is unknown. Retried on a new connection.
    case connection(String)
    /// The server answered with an error reply.
    case server(String)
    /// The server answered something this client did not expect.
    case unexpected(String)

    var description: String {
        switch self {
        case .connection(let message): return message
        case .server(let message): return message
        case .unexpected(let message): return "unexpected reply: \(message)"
        }
    }

    /// Worth retrying after a pause: a lost connection, or a server that is still starting
    /// (LOADING), failing over (MASTERDOWN) or resharding (TRYAGAIN).
    var isTransient: Bool {
        switch self {
        case .connection: return true
        case .server(let message):
            return ["LOADING", "MASTERDOWN", "TRYAGAIN"].contains { message.hasPrefix($0) }
        case .unexpected: return false
        }
    }
}

/// One blocking connection to the server, over a `RedisTransport` (hiredis for `redis://`,
/// swift-nio + NIOSSL for `rediss://`). Not thread-safe: the pool hands it to one transaction
/// at a time. Once any call fails with `RedisFailure.connection` it stays `broken` and is dropped.
final class RedisConnection {
    let endpoint: RedisEndpoint
    private var transport: (any RedisTransport)?
    private(set) var broken = false

    /// A random name for this connection's commit marker key (see `RedisEngine`), and the
    /// number of the last commit sent on it.
    let markerID: String
    var commitSequence: UInt64 = 0
    /// The server's id for this connection (CLIENT ID), used to fence it off after its EXEC
    /// reply was lost; nil when the server does not allow CLIENT ID.
    private(set) var clientID: Int64?
    /// The server process's run_id (INFO server): client ids are only unique within one run.
    private(set) var serverRunID: String?
    /// A transaction ended with keys still WATCHed (it had nothing to validate); the next
    /// transaction's first round trip starts with UNWATCH.
    var leftoverWatches = false

    /// Connects with a connector made for this one connection (tests and tools).
    convenience init(endpoint: RedisEndpoint, connectTimeout: Double, commandTimeout: Double) throws {
        let connector = try RedisConnector(endpoint: endpoint, connectTimeout: connectTimeout,
                                           commandTimeout: commandTimeout)
        try self.init(connector: connector)
    }

    /// Connects (TLS included), AUTHs when the endpoint has a password and SELECTs its
    /// database. Throws `RedisFailure`: `.connection` when the server cannot be reached or the
    /// TLS handshake fails, `.server` when it refuses AUTH or SELECT.
    init(connector: RedisConnector) throws {
        endpoint = connector.endpoint
        markerID = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined(separator: "-")
        transport = try connector.connect()
        do {
            // One round trip: AUTH (when there is a password), SELECT, CLIENT ID, INFO server.
            var commands: [[[UInt8]]] = []
            if let password = endpoint.password {
                var auth: [[UInt8]] = [Array("AUTH".utf8)]
                if let user = endpoint.user { auth.append(Array(user.utf8)) }
                auth.append(Array(password.utf8))
                commands.append(auth)
            }
            commands.append([Array("SELECT".utf8), Array(String(endpoint.db).utf8)])
            commands.append([Array("CLIENT".utf8), Array("ID".utf8)])
            commands.append([Array("INFO".utf8), Array("server".utf8)])
            let replies = try pipeline(commands)
            let (select, id, info) = (replies[replies.count - 3], replies[replies.count - 2], replies[replies.count - 1])
            if endpoint.password != nil, case .error(let message) = replies[0] {
                throw RedisFailure.server("authentication failed: \(message)")
            }
            switch select {
            case .error(let message) where RedisFailure.server(message).isTransient:
                throw RedisFailure.server(message)
            case .error(let message) where message.hasPrefix("NOAUTH"):
                throw RedisFailure.server("authentication required (give user:password in the URL): \(message)")
            case .error(let message):
                throw RedisFailure.server("cannot select database \(endpoint.db): \(message)")
            default:
                break
            }
            // Both are optional: an ACL may forbid them; the engine then skips the fencing.
            if case .integer(let value) = id { clientID = value }
            if case .string(let text) = info {
                serverRunID = String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline)
                    .first { $0.hasPrefix("run_id:") }.map { String($0.dropFirst("run_id:".count)) }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    var isOpen: Bool { transport != nil && !broken }

    /// Makes the connection unusable, as a lost connection would (for fault injection).
    func markBroken() { broken = true }

    func close() {
        transport?.close()
        transport = nil
    }

    /// Sends one command and reads its reply (an error reply is returned, not thrown).
    func command(_ arguments: [[UInt8]]) throws -> RedisReply {
        try pipeline([arguments])[0]
    }

    func command(_ arguments: String...) throws -> RedisReply {
        try command(arguments.map { Array($0.utf8) })
    }

    /// Sends every command in one write and reads their replies in order: one round trip.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisReply] {
        guard let transport, !broken else {
            throw RedisFailure.connection("redis connection to \(endpoint.address) is closed")
        }
        do {
            return try transport.pipeline(commands)
        } catch let failure as RedisFailure {
            if case .connection = failure { broken = true }
            throw failure
        }
    }
}
