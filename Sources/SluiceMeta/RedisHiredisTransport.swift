import CHiredis
import SluiceBase
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain-TCP connection through hiredis (Debian's libhiredis, which has no TLS): each round
/// trip is the caller's own write and blocking read, with no thread hop.
final class HiredisTransport: RedisTransport {
    private let address: String
    private var context: UnsafeMutablePointer<redisContext>?

    /// Connects and sets the command timeout. Throws `RedisFailure.connection`.
    init(host: String, port: Int32, address: String, connectTimeout: Double, commandTimeout: Double) throws {
        self.address = address
        guard let context = redisConnectWithTimeout(host, port, Self.interval(connectTimeout)) else {
            throw RedisFailure.connection("cannot allocate a redis connection")
        }
        self.context = context
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            close()
            throw RedisFailure.connection("cannot connect to redis at \(address): \(message)")
        }
        guard redisSetTimeout(context, Self.interval(commandTimeout)) == REDIS_OK else {
            close()
            throw RedisFailure.connection("cannot set the command timeout for redis at \(address)")
        }
    }

    deinit { close() }

    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisReply] {
        guard let context else { throw RedisFailure.connection("redis connection to \(address) is closed") }
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

    /// Describes why the connection failed; the caller marks it broken.
    private func failed(_ context: UnsafeMutablePointer<redisContext>) -> RedisFailure {
        let text = Self.errorText(context)
        return .connection("redis at \(address): \(text.isEmpty ? "connection lost" : text)")
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
