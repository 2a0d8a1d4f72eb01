import NIOCore
import NIOSSL

/// RESP2, the Redis wire protocol, for `RedisNIOTransport`: commands are arrays of bulk
/// strings (`*N\r\n` then `$len\r\n<bytes>\r\n` per argument); replies are one of `+status`,
/// `-error`, `:integer`, `$len` bulk string (`$-1` nil), `*N` array (`*-1` nil) of replies.
enum RESP {
    /// Appends `arguments` as one command to `buffer`.
    static func encode(_ arguments: [[UInt8]], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            buffer.writeString(String(argument.count))
            buffer.writeStaticString("\r\n")
            buffer.writeBytes(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// A reply the server cannot have meant: the connection's framing is lost.
    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    /// Parses one whole reply from the readable bytes of `buffer`, moving its reader index past
    /// it; returns nil (leaving the buffer as it was) when the reply is not complete yet.
    static func parse(_ buffer: inout ByteBuffer) throws -> RedisReply? {
        var cursor = buffer
        guard let reply = try parseValue(&cursor, depth: 0) else { return nil }
        buffer = cursor
        return reply
    }

    /// Nested arrays deeper than this are refused rather than risking the stack.
    private static let maxDepth = 64

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws -> RedisReply? {
        guard depth < maxDepth else { throw ProtocolError(description: "reply nested deeper than \(maxDepth)") }
        guard let kind = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        var cursor = buffer
        cursor.moveReaderIndex(forwardBy: 1)
        guard let line = try readLine(&cursor) else { return nil }
        let reply: RedisReply
        switch kind {
        case UInt8(ascii: "+"):
            reply = .status(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            reply = .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            reply = .integer(try number(line))
        case UInt8(ascii: "$"):
            let length = try number(line)
            if length < 0 {
                reply = .null
            } else {
                guard length <= 512 * 1024 * 1024 else { throw ProtocolError(description: "bulk string of \(length) bytes") }
                guard cursor.readableBytes >= Int(length) + 2 else { return nil }
                let bytes = cursor.readBytes(length: Int(length))!
                guard cursor.readInteger(as: UInt16.self) == 0x0D0A else {
                    throw ProtocolError(description: "bulk string not followed by CRLF")
                }
                reply = .string(bytes)
            }
        case UInt8(ascii: "*"):
            let count = try number(line)
            if count < 0 {
                reply = .null
            } else {
                // Every element takes at least 3 bytes: a count beyond what is buffered cannot be
                // complete yet, and reserving for it would trust the peer too much.
                var items: [RedisReply] = []
                items.reserveCapacity(min(Int(count), cursor.readableBytes / 3))
                for _ in 0..<count {
                    guard let item = try parseValue(&cursor, depth: depth + 1) else { return nil }
                    items.append(item)
                }
                reply = .array(items)
            }
        default:
            throw ProtocolError(description: "unknown reply type byte \(kind)")
        }
        buffer = cursor
        return reply
    }

    /// The bytes up to the next CRLF, consuming both; nil when no CRLF is buffered yet.
    /// Header lines never hold a CR of their own: one without its LF is a framing error.
    private static func readLine(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 0x0D), cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == 0x0A else { throw ProtocolError(description: "CR without LF in a reply header") }
        let line = buffer.readBytes(length: cr - view.startIndex)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private static func number(_ line: [UInt8]) throws -> Int64 {
        guard let value = Int64(String(decoding: line, as: UTF8.self)) else {
            throw ProtocolError(description: "not a number: \(String(decoding: line.prefix(32), as: UTF8.self))")
        }
        return value
    }
}

/// Splits the byte stream into replies.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RedisReply

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let reply = try RESP.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(reply))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                             seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Commands sent together, answered by `count` replies in order within `timeout`.
struct RESPRequest: Sendable {
    var bytes: ByteBuffer
    var count: Int
    var timeout: TimeAmount
    var promise: EventLoopPromise<[RedisReply]>
}

/// Matches replies to the requests waiting for them (Redis answers in order). When the
/// connection ends or fails, every waiting request fails with why, as a
/// `RedisFailure.connection`: a TLS handshake failure is named as one.
final class RESPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisReply
    typealias OutboundIn = RESPRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var remaining: Int
        var replies: [RedisReply]
        var promise: EventLoopPromise<[RedisReply]>
        var deadline: Scheduled<Void>
    }

    private let address: String
    private var waiting = CircularBuffer<Waiting>()
    private var failure: String?

    init(address: String) {
        self.address = address
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(RedisFailure.connection(failure))
            promise?.fail(RedisFailure.connection(failure))
            return
        }
        // The timer is set and cancelled here, on the event loop: from the waiting thread each
        // would cost another wake-up of the loop per round trip.
        let (channel, address, replies) = (context.channel, address, request.promise)
        let seconds = Double(request.timeout.nanoseconds) / 1e9
        let deadline = context.eventLoop.scheduleTask(in: request.timeout) {
            replies.fail(RedisFailure.connection("redis at \(address): no reply within \(seconds) s"))
            channel.close(promise: nil)
        }
        waiting.append(Waiting(remaining: request.count, replies: [], promise: request.promise, deadline: deadline))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            fail(context: context, "redis at \(address) sent a reply nobody asked for")
            return
        }
        waiting[waiting.startIndex].replies.append(reply)
        waiting[waiting.startIndex].remaining -= 1
        if waiting[waiting.startIndex].remaining == 0 {
            let done = waiting.removeFirst()
            done.deadline.cancel()
            done.promise.succeed(done.replies)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let reason = TLSFailure.describe(error) {
            fail(context: context, "TLS with redis at \(address) failed: \(reason)")
            return
        }
        switch error {
        case let error as RESP.ProtocolError:
            fail(context: context, "redis at \(address): protocol error: \(error)")
        default:
            fail(context: context, "redis at \(address): \(error)")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, "redis at \(address): connection lost")
        context.fireChannelInactive()
    }

    /// Records the first reason, fails everything waiting and closes.
    private func fail(context: ChannelHandlerContext, _ reason: String) {
        if failure == nil { failure = reason }
        let error = RedisFailure.connection(failure!)
        while let next = waiting.popFirst() {
            next.deadline.cancel()
            next.promise.fail(error)
        }
        context.close(promise: nil)
    }
}
