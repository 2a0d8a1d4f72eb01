import Crypto
import Foundation
import SluiceBase
import _CryptoExtras

/// A volume's RSA key pair as read from PEM files: the public key (stored in the volume
/// settings, wraps every block's data key) and, where given, the private key (unwraps them).
///
/// Keys are RSA, at least 2048 bits, in PEM: a private key as PKCS#8 (`BEGIN PRIVATE KEY`) or
/// PKCS#1 (`BEGIN RSA PRIVATE KEY`), a public key as SPKI (`BEGIN PUBLIC KEY`) or PKCS#1.
/// A passphrase-protected private key (PKCS#8 `BEGIN ENCRYPTED PRIVATE KEY` with PBES2, or
/// OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` with AES-CBC) is decrypted with the passphrase
/// in `SLUICE_RSA_PASSPHRASE` (see `EncryptedPEM`).
public enum VolumeKey {
    /// The environment variable naming the private key file when `--encrypt-rsa-key` is absent.
    public static let keyFileEnvironment = "SLUICE_RSA_KEY_FILE"
    /// The environment variable holding the passphrase of a passphrase-protected key. Only the
    /// environment: a passphrase on the command line would show in `ps`.
    public static let passphraseEnvironment = "SLUICE_RSA_PASSPHRASE"

    /// The passphrase from `SLUICE_RSA_PASSPHRASE`, if set.
    public static func environmentPassphrase() -> String? {
        ProcessInfo.processInfo.environment[passphraseEnvironment]
    }

    /// The fingerprint a volume stores: `SHA256:` and the hex SHA-256 of the public key's SPKI
    /// DER form (what `openssl pkey -pubout -outform DER | sha256sum` prints).
    public static func fingerprint(_ key: _RSA.Encryption.PublicKey) -> String {
        "SHA256:" + SHA256.hash(data: key.derRepresentation).map { String(format: "%02x", $0) }.joined()
    }

    /// The public key of the PEM in `path`, which may hold a private key (its public half is
    /// taken) or a public key. Throws `UsageError` naming the file and the problem.
    /// A passphrase-protected private key needs `passphrase`.
    public static func loadPublicKey(path: String, passphrase: String? = environmentPassphrase())
        throws -> _RSA.Encryption.PublicKey {
        let pem = try readPEM(path)
        if pem.contains("PRIVATE KEY") { return try privateKey(pem, path: path, passphrase: passphrase).publicKey }
        return try publicKey(pem: pem, source: path)
    }

    /// What `sluice format` stores: the public key's PEM (SPKI) and fingerprint.
    public static func publicKeyForSettings(path: String, passphrase: String? = environmentPassphrase())
        throws -> (pem: String, fingerprint: String) {
        let key = try loadPublicKey(path: path, passphrase: passphrase)
        return (key.pemRepresentation, fingerprint(key))
    }

    /// The private key of the PEM in `path`; a passphrase-protected one needs `passphrase`.
    public static func loadPrivateKey(path: String, passphrase: String? = environmentPassphrase())
        throws -> _RSA.Encryption.PrivateKey {
        let pem = try readPEM(path)
        guard pem.contains("PRIVATE KEY") else {
            throw UsageError("\(path) holds no RSA private key (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")
        }
        return try privateKey(pem, path: path, passphrase: passphrase)
    }

    /// A public key from PEM text (as stored in the volume settings).
    public static func publicKey(pem: String, source: String) throws -> _RSA.Encryption.PublicKey {
        do {
            return try _RSA.Encryption.PublicKey(pemRepresentation: pem)
        } catch {
            throw UsageError("\(source): not an RSA public key of at least 2048 bits in PEM form")
        }
    }

    private static func privateKey(_ pem: String, path: String, passphrase: String?) throws -> _RSA.Encryption.PrivateKey {
        var pem = pem
        if EncryptedPEM.isEncrypted(pem) {
            pem = try decrypted(pem, path: path, passphrase: passphrase)
        } else if pem.contains("ENCRYPTED") {
            throw UsageError("\(path) is a passphrase-protected PEM in a form Sluice does not read: convert it with "
                             + "`openssl pkcs8 -topk8 -v2 aes256 -in \(path) -out NEW.pem`")
        }
        do {
            return try _RSA.Encryption.PrivateKey(pemRepresentation: pem)
        } catch {
            throw UsageError("\(path): not an RSA private key of at least 2048 bits in PEM form (PKCS#8 or PKCS#1)")
        }
    }

    private static func decrypted(_ pem: String, path: String, passphrase: String?) throws -> String {
        guard let passphrase, !passphrase.isEmpty else {
            throw UsageError("\(path) is a passphrase-protected key: put its passphrase in \(passphraseEnvironment)")
        }
        do {
            return try EncryptedPEM.decrypt(pem, passphrase: passphrase)
        } catch .wrongPassphrase {
            throw UsageError("wrong passphrase for \(path) (from \(passphraseEnvironment))")
        } catch .unsupported(let scheme) {
            throw UsageError("\(path) is a passphrase-protected key encrypted with \(scheme), which Sluice does not read: "
                             + "convert it with `openssl pkcs8 -topk8 -v2 aes256 -in \(path) -out NEW.pem`")
        } catch .malformed(let what) {
            throw UsageError("\(path): damaged passphrase-protected key (\(what))")
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
