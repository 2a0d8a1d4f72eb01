import NIOCore
@testable import SluiceMeta
import XCTest

/// The RESP2 codec of the TLS Redis client, byte by byte: every reply must parse whole or
/// not at all, whatever the split of the stream.
final class RESPTests: XCTestCase {
    private let stream = Array(("+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nab\r\nc\r\n$0\r\n\r\n$-1\r\n*-1\r\n"
        + "*3\r\n$1\r\nx\r\n*2\r\n:1\r\n*0\r\n$-1\r\n").utf8)
    private let expected: [RedisReply] = [
        .status("OK"), .error("ERR wrong"), .integer(-42), .string(Array("ab\r\nc".utf8)), .string([]), .null, .null,
        .array([.string([0x78]), .array([.integer(1), .array([])]), .null]),
    ]

    func testEveryReplyTypeInOneBuffer() throws {
        var buffer = ByteBuffer(bytes: stream)
        var replies: [RedisReply] = []
        while let reply = try RESP.parse(&buffer) { replies.append(reply) }
        XCTAssertEqual(replies, expected)
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testAnySplitParsesTheSame() throws {
        // Feed the stream in chunks of every size: incomplete replies leave the buffer intact.
        for chunk in 1...7 {
            var buffer = ByteBuffer()
            var replies: [RedisReply] = []
            var offset = 0
            while offset < stream.count {
                buffer.writeBytes(stream[offset..<min(offset + chunk, stream.count)])
                offset += chunk
                while let reply = try RESP.parse(&buffer) { replies.append(reply) }
            }
            XCTAssertEqual(replies, expected, "chunk \(chunk)")
        }
    }

    func testEncodingIsBinarySafe() {
        var buffer = ByteBuffer()
        RESP.encode([Array("SET".utf8), [0x00, 0x0D, 0x0A, 0xFF], []], into: &buffer)
        XCTAssertEqual(buffer.readBytes(length: buffer.readableBytes),
                       Array("*3\r\n$3\r\nSET\r\n$4\r\n".utf8) + [0x00, 0x0D, 0x0A, 0xFF] + Array("\r\n$0\r\n\r\n".utf8))
    }

    func testMalformedRepliesAreProtocolErrors() {
        for bad in ["?x\r\n", ":12a\r\n", "$3\r\nabcd\r\n", "+a\rb\r\n", String(repeating: "*1\r\n", count: 70) + ":1\r\n"] {
            var buffer = ByteBuffer(bytes: Array(bad.utf8))
            XCTAssertThrowsError(try RESP.parse(&buffer), bad) { XCTAssertTrue($0 is RESP.ProtocolError, bad) }
        }
    }
}
