import NIOCore
import NIOSSL
import SluiceBase

/// How a `RedisConnection` exchanges commands with the server: one blocking round trip per
/// `pipeline` call. Two implementations: `HiredisTransport` (plain TCP) and
/// `NIORedisTransport` (swift-nio, with TLS through NIOSSL).
protocol RedisTransport: AnyObject {
    /// Sends every command in one write and returns their replies in order (error replies
    /// included). Throws `RedisFailure.connection` when the connection is lost, times out or
    /// fails its TLS handshake; the transport is unusable after that.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisReply]
    func close()
}

/// Which client library a connection uses.
enum RedisClient: Sendable {
    /// hiredis: the fastest for blocking round trips, but Debian's 0.14 has no TLS.
    case hiredis
    /// swift-nio (+ NIOSSL): plain or TLS.
    case nio
}

/// Opens transports to one endpoint: everything shared by an engine's connections (the TLS
/// context, with its trust roots and client certificate read once, at engine open).
struct RedisConnector: Sendable {
    let endpoint: RedisEndpoint
    let connectTimeout: Double
    let commandTimeout: Double
    let client: RedisClient
    private let tls: NIOSSLContext?

    /// Reads the TLS files of a `rediss://` endpoint; a bad file is a `UsageError` naming it.
    /// `client` defaults to hiredis for plain connections and swift-nio for TLS, which
    /// hiredis here cannot do (see docs/architecture.md for the measurements behind this).
    init(endpoint: RedisEndpoint, connectTimeout: Double, commandTimeout: Double, client: RedisClient? = nil) throws {
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        if let options = endpoint.tls {
            tls = try options.makeContext()
            self.client = .nio
        } else {
            tls = nil
            self.client = client ?? .hiredis
        }
    }

    /// A new connected transport. Throws `RedisFailure.connection`.
    func connect() throws -> any RedisTransport {
        switch client {
        case .hiredis:
            return try HiredisTransport(host: endpoint.host, port: endpoint.port, address: endpoint.address,
                                        connectTimeout: connectTimeout, commandTimeout: commandTimeout)
        case .nio:
            return try NIORedisTransport(host: endpoint.host, port: endpoint.port, address: endpoint.address, tls: tls,
                                         connectTimeout: connectTimeout, commandTimeout: commandTimeout)
        }
    }
}
