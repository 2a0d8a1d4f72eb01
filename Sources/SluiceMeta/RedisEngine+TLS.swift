import Foundation
import NIOSSL
import SluiceBase

/// TLS settings of a `rediss://` endpoint, from its URL query:
///
/// - `tls-ca-file=PATH`: verify the server's certificate against the CA certificates in this
///   PEM file instead of the system trust store;
/// - `tls-cert-file=PATH` and `tls-key-file=PATH`: a client certificate (both or neither);
/// - `tls-insecure-skip-verify=true`: no verification at all (explicit opt-out, for tests).
///
/// Without them the server is verified against the system trust store, and its certificate
/// must name the host of the URL (a DNS name, or an IP SAN for an IP address).
public struct RedisTLSOptions: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var insecureSkipVerify: Bool

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// The query keys this struct reads.
    static let queryKeys: Set<String> = ["tls-ca-file", "tls-cert-file", "tls-key-file", "tls-insecure-skip-verify"]

    /// Reads the options from decoded query items; `bad` makes the error for a wrong value.
    init(query: [(String, String)], _ bad: (String) -> UsageError) throws {
        self.init()
        for (key, value) in query {
            switch key {
            case "tls-ca-file": caFile = value
            case "tls-cert-file": certFile = value
            case "tls-key-file": keyFile = value
            case "tls-insecure-skip-verify":
                switch value.lowercased() {
                case "true", "1", "yes": insecureSkipVerify = true
                case "false", "0", "no": insecureSkipVerify = false
                default: throw bad("tls-insecure-skip-verify must be true or false, not \"\(value)\"")
                }
            default: break
            }
        }
        for (name, path) in [("tls-ca-file", caFile), ("tls-cert-file", certFile), ("tls-key-file", keyFile)] {
            if path?.isEmpty == true { throw bad("\(name) names no file") }
        }
        if (certFile == nil) != (keyFile == nil) { throw bad("tls-cert-file and tls-key-file go together") }
        if insecureSkipVerify && caFile != nil {
            throw bad("tls-ca-file and tls-insecure-skip-verify=true contradict each other")
        }
    }

    /// The NIOSSL context for these options, with every file read now, so that a missing or
    /// unreadable file is one `UsageError` naming it at engine open, not a failure per connection.
    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if insecureSkipVerify {
            configuration.certificateVerification = .none
        } else if let caFile {
            configuration.trustRoots = .certificates(try TLSFiles.certificates(caFile, option: "tls-ca-file"))
        }
        if let certFile, let keyFile {
            configuration.certificateChain = try TLSFiles.certificates(certFile, option: "tls-cert-file").map { .certificate($0) }
            configuration.privateKey = .privateKey(try TLSFiles.privateKey(keyFile, option: "tls-key-file"))
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw UsageError("cannot set up TLS for redis: \(error)")
        }
    }
}
