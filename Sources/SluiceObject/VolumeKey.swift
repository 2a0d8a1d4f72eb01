import Crypto
import Foundation
import SluiceBase
import _CryptoExtras

/// A volume's RSA key pair as read from PEM files: the public key (stored in the volume
/// settings, wraps every block's data key) and, where given, the private key (unwraps them).
///
/// Keys are RSA, at least 2048 bits, in unencrypted PEM: a private key as PKCS#8
/// (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), a public key as SPKI
/// (`BEGIN PUBLIC KEY`) or PKCS#1. swift-crypto reads no passphrase-protected PEM, so an
/// encrypted key is refused with a message telling how to decrypt it (`openssl pkey`).
public enum VolumeKey {
    /// The environment variable naming the private key file when `--encrypt-rsa-key` is absent.
    public static let keyFileEnvironment = "SLUICE_RSA_KEY_FILE"
    /// Where a passphrase would come from; named in the error for a passphrase-protected key.
    public static let passphraseEnvironment = "SLUICE_RSA_PASSPHRASE"

    /// The fingerprint a volume stores: `SHA256:` and the hex SHA-256 of the public key's SPKI
    /// DER form (what `openssl pkey -pubout -outform DER | sha256sum` prints).
    public static func fingerprint(_ key: _RSA.Encryption.PublicKey) -> String {
        "SHA256:" + SHA256.hash(data: key.derRepresentation).map { String(format: "%02x", $0) }.joined()
    }

    /// The public key of the PEM in `path`, which may hold a private key (its public half is
    /// taken) or a public key. Throws `UsageError` naming the file and the problem.
    public static func loadPublicKey(path: String) throws -> _RSA.Encryption.PublicKey {
        let pem = try readPEM(path)
        if pem.contains("PRIVATE KEY") { return try privateKey(pem, path: path).publicKey }
        return try publicKey(pem: pem, source: path)
    }

    /// What `sluice format` stores: the public key's PEM (SPKI) and fingerprint.
    public static func publicKeyForSettings(path: String) throws -> (pem: String, fingerprint: String) {
        let key = try loadPublicKey(path: path)
        return (key.pemRepresentation, fingerprint(key))
    }

    /// The private key of the PEM in `path`.
    public static func loadPrivateKey(path: String) throws -> _RSA.Encryption.PrivateKey {
        let pem = try readPEM(path)
        guard pem.contains("PRIVATE KEY") else {
            throw UsageError("\(path) holds no RSA private key (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")
        }
        return try privateKey(pem, path: path)
    }

    /// A public key from PEM text (as stored in the volume settings).
    public static func publicKey(pem: String, source: String) throws -> _RSA.Encryption.PublicKey {
        do {
            return try _RSA.Encryption.PublicKey(pemRepresentation: pem)
        } catch {
            throw UsageError("\(source): not an RSA public key of at least 2048 bits in PEM form")
        }
    }

    private static func privateKey(_ pem: String, path: String) throws -> _RSA.Encryption.PrivateKey {
        if pem.contains("ENCRYPTED") {
            throw UsageError("\(path) is a passphrase-protected PEM, which Sluice cannot read (\(passphraseEnvironment) "
                             + "is not supported by swift-crypto): decrypt it with "
                             + "`openssl pkey -in \(path) -out PLAIN.pem` and keep that file private")
        }
        do {
            return try _RSA.Encryption.PrivateKey(pemRepresentation: pem)
        } catch {
            throw UsageError("\(path): not an RSA private key of at least 2048 bits in PEM form (PKCS#8 or PKCS#1)")
        }
    }

    private static func readPEM(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("cannot read the RSA key file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN ") else {
            throw UsageError("\(path) is not a PEM file")
        }
        return text
    }
}
