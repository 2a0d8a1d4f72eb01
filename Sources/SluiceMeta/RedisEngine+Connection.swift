import CHiredis
import SluiceBase
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One reply from the server, copied out of hiredis' reply tree.
enum RedisReply: Equatable {
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
enum RedisFailure: Error, CustomStringConvertible {
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

/// One blocking hiredis connection. Not thread-safe: the pool hands it to one transaction at a
/// time. Once any call fails with `RedisFailure.connection` it stays `broken` and is dropped.
final class RedisConnection {
    let endpoint: RedisEndpoint
    private var context: UnsafeMutablePointer<redisContext>?
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

    /// Connects, sets the command timeout, AUTHs when the endpoint has a password and SELECTs
    /// its database. Throws `RedisFailure`: `.connection` when the server cannot be reached,
    /// `.server` when it refuses AUTH or SELECT.
    init(endpoint: RedisEndpoint, connectTimeout: Double, commandTimeout: Double) throws {
        self.endpoint = endpoint
        markerID = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined(separator: "-")
        guard let context = redisConnectWithTimeout(endpoint.host, endpoint.port, Self.interval(connectTimeout)) else {
            throw RedisFailure.connection("cannot allocate a redis connection")
        }
        self.context = context
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            close()
            throw RedisFailure.connection("cannot connect to redis at \(endpoint.address): \(message)")
        }
        guard redisSetTimeout(context, Self.interval(commandTimeout)) == REDIS_OK else {
            close()
            throw RedisFailure.connection("cannot set the command timeout for redis at \(endpoint.address)")
        }
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

    var isOpen: Bool { context != nil && !broken }

    /// Makes the connection unusable, as a lost connection would (for fault injection).
    func markBroken() { broken = true }

    func close() {
        if let context { redisFree(context) }
        context = nil
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
        guard let context, !broken else {
            throw RedisFailure.connection("redis connection to \(endpoint.address) is closed")
        }
        for arguments in commands { try append(arguments, to: context) }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failed(context) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.copy(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Formats one command into hiredis' output buffer (hiredis copies the arguments, so they
    /// need to live only for this call).
    private func append(_ arguments: [[UInt8]], to context: UnsafeMutablePointer<redisContext>) throws {
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(0) { $0 + $1.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(flat.count)
            flat.append(contentsOf: argument)
        }
        let lengths = arguments.map { $0.count }
        let status = flat.withUnsafeBufferPointer { buffer -> Int32 in
            // An empty buffer may have no base address; any valid pointer does for zero lengths.
            let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            var pointers: [UnsafePointer<CChar>?] = offsets.map { (base + $0).assumingMemoryBound(to: CChar.self) }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAppendCommandArgv(context, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
        guard status == REDIS_OK else { throw failed(context) }
    }

    /// Marks the connection broken and describes why.
    private func failed(_ context: UnsafeMutablePointer<redisContext>) -> RedisFailure {
        broken = true
        let text = Self.errorText(context)
        return .connection("redis at \(endpoint.address): \(text.isEmpty ? "connection lost" : text)")
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: &context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        func text() -> [UInt8] {
            guard let str = r.str, r.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: r.len))
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element[index] { items.append(copy(element)) }
            }
            return .array(items)
        default:
            return .error("unknown reply type \(r.type)")
        }
    }

    private static func interval(_ seconds: Double) -> timeval {
        let whole = seconds.rounded(.down)
        return timeval(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
    }
}
