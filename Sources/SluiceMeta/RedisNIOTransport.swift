import NIOCore
import NIOPosix
import NIOSSL
import SluiceBase

/// A Redis connection over swift-nio, TLS through NIOSSL when given a context, behind the
/// same blocking API as hiredis: the calling thread (a pool thread of the engine, never the
/// cooperative pool) encodes the commands, hands them to the channel's event loop and waits
/// on the future of their replies. Every wait is bounded by the command timeout, after which
/// the connection is closed and counts as lost.
///
/// Channels run on NIO's shared singleton event loop group, as the S3 store's do.
final class NIORedisTransport: RedisTransport {
    private let channel: any Channel
    private let address: String
    private let commandTimeout: Double

    /// Connects (TCP within `connectTimeout`); the TLS handshake then runs before the first
    /// command goes out, so its failure is that command's failure.
    init(host: String, port: Int32, address: String, tls: NIOSSLContext?,
         connectTimeout: Double, commandTimeout: Double) throws {
        self.address = address
        self.commandTimeout = commandTimeout
        // SNI and hostname checks take a name; for an IP address, NIOSSL checks the
        // certificate's IP SANs against the peer address instead.
        let serverName: String? = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(connectTimeout * 1e9)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    if let tls {
                        try handlers.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try handlers.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try handlers.addHandler(RESPClientHandler(address: address))
                }
            }
        do {
            channel = try bootstrap.connect(host: host, port: Int(port)).wait()
        } catch {
            throw RedisFailure.connection("cannot connect to redis at \(address): \(error)")
        }
    }

    deinit { close() }

    func close() {
        channel.close(promise: nil)
    }

    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisReply] {
        var bytes = channel.allocator.buffer(capacity: commands.reduce(16) { total, command in
            command.reduce(total + 16) { $0 + $1.count + 16 }
        })
        for command in commands { RESP.encode(command, into: &bytes) }
        let eventLoop = channel.eventLoop
        let replies = eventLoop.makePromise(of: [RedisReply].self)
        let address = self.address
        // A write that never reaches the handler (channel already closed) must fail the
        // replies too; when the handler failed them first, its reason stands.
        let written = eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            replies.fail(RedisFailure.connection("redis at \(address): \(error)"))
        }
        let request = RESPRequest(bytes: bytes, count: commands.count,
                                  timeout: .nanoseconds(Int64(commandTimeout * 1e9)), promise: replies)
        channel.writeAndFlush(request, promise: written)
        return try replies.futureResult.wait()
    }
}
