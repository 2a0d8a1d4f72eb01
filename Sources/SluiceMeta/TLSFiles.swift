import Foundation
import NIOSSL
import SluiceBase

/// Reads the PEM files that the engines' TLS options name (`tls-ca-file` of `rediss://`,
/// `sslrootcert` of `postgres://`, …) at engine open, so that a missing or wrong file is one
/// `UsageError` naming the option and the file, not a failure per connection.
enum TLSFiles {
    /// The certificates of a PEM file (a CA bundle or a certificate chain).
    static func certificates(_ path: String, option: String) throws -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else { throw UsageError("\(option) \(path) cannot be read") }
        let certificates = (try? NIOSSLCertificate.fromPEMFile(path)) ?? []
        guard !certificates.isEmpty else { throw UsageError("\(option) \(path) holds no PEM certificate") }
        return certificates
    }

    /// An unencrypted PEM private key.
    static func privateKey(_ path: String, option: String) throws -> NIOSSLPrivateKey {
        guard FileManager.default.isReadableFile(atPath: path) else { throw UsageError("\(option) \(path) cannot be read") }
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw UsageError("\(option) \(path) is not an unencrypted PEM private key")
        }
    }
}

/// Short, one-line reasons for TLS failures in engine messages.
enum TLSFailure {
    /// `handshake failed: CERTIFICATE_VERIFY_FAILED` rather than BoringSSL's whole error stack
    /// (`Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED
    /// at …/handshake.cc:320`); nil when `error` is not a TLS error.
    static func describe(_ error: any Error) -> String? {
        switch error {
        case let error as NIOSSLError:
            guard case .handshakeFailed(let inner) = error else { return "\(error)" }
            return "handshake failed: \(reason(inner))"
        case let error as BoringSSLError:
            // After the handshake: e.g. the server's alert that it wanted a client certificate.
            return reason(error)
        case let error as NIOSSLExtraError:
            return "\(error)"
        default:
            return nil
        }
    }

    /// The reason name of the first entry of BoringSSL's error stack.
    private static func reason(_ error: BoringSSLError) -> String {
        guard case .sslError(let stack) = error, let first = stack.first else { return "\(error)" }
        var text = "\(first)"
        if let at = text.range(of: " at ", options: .backwards) { text = String(text[..<at.lowerBound]) }
        return text.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? text
    }
}
