import Crypto
import Foundation
import SwiftASN1
import _CryptoExtras

/// Turns a passphrase-protected private-key PEM into the unencrypted PEM that swift-crypto
/// reads. swift-crypto has no reader for encrypted PEM, but it has every primitive one needs,
/// so the two formats OpenSSL writes are decoded here:
///
/// - PKCS#8 `BEGIN ENCRYPTED PRIVATE KEY` with PBES2 (RFC 8018): PBKDF2 with HMAC-SHA-1,
///   -SHA-224, -SHA-256, -SHA-384 or -SHA-512, then AES-128/192/256-CBC. This is what
///   `openssl genpkey -aes256` and `openssl pkcs8 -topk8 -v2 aes256` write.
/// - The legacy OpenSSL form (`Proc-Type: 4,ENCRYPTED` and `DEK-Info: AES-…-CBC,IV` headers
///   inside `BEGIN RSA PRIVATE KEY`), whose key is OpenSSL's `EVP_BytesToKey` with MD5 and one
///   round over the passphrase and the first 8 bytes of the IV. `openssl genrsa -aes256
///   -traditional` writes it.
///
/// Anything else (PBES1, DES, scrypt, …) is `unsupported`, named so the caller can print the
/// conversion command.
enum EncryptedPEM {
    enum Failure: Error, Equatable {
        /// Decryption produced no valid key: almost always the wrong passphrase.
        case wrongPassphrase
        /// An encryption scheme this reader does not implement (its name or OID).
        case unsupported(String)
        /// The PEM or its DER is damaged.
        case malformed(String)
    }

    /// Whether `pem` holds an encrypted private key in either form.
    static func isEncrypted(_ pem: String) -> Bool {
        pem.contains("BEGIN ENCRYPTED PRIVATE KEY") || pem.contains("Proc-Type: 4,ENCRYPTED")
    }

    /// The unencrypted PEM of the key in `pem`: `BEGIN PRIVATE KEY` (PKCS#8) or
    /// `BEGIN RSA PRIVATE KEY` (PKCS#1), as the input was.
    static func decrypt(_ pem: String, passphrase: String) throws(Failure) -> String {
        let secret = Array(passphrase.utf8)
        if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            let der = try pkcs8(pem, passphrase: secret)
            return PEMDocument(type: "PRIVATE KEY", derBytes: der).pemString
        }
        let der = try legacy(pem, passphrase: secret)
        return PEMDocument(type: "RSA PRIVATE KEY", derBytes: der).pemString
    }

    // MARK: PKCS#8 with PBES2

    private static let pbes2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 5, 13]
    private static let pbkdf2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 5, 12]
    private static let prfs: [ASN1ObjectIdentifier: KDF.Insecure.PBKDF2.HashFunction] = [
        [1, 2, 840, 113_549, 2, 7]: .insecureSHA1,
        [1, 2, 840, 113_549, 2, 8]: .insecureSHA224,
        [1, 2, 840, 113_549, 2, 9]: .sha256,
        [1, 2, 840, 113_549, 2, 10]: .sha384,
        [1, 2, 840, 113_549, 2, 11]: .sha512,
    ]
    /// AES-CBC OIDs (NIST arc 2.16.840.1.101.3.4.1) and their key sizes in bytes.
    private static let aesCBC: [ASN1ObjectIdentifier: Int] = [
        [2, 16, 840, 1, 101, 3, 4, 1, 2]: 16,
        [2, 16, 840, 1, 101, 3, 4, 1, 22]: 24,
        [2, 16, 840, 1, 101, 3, 4, 1, 42]: 32,
    ]
    /// Far above any real iteration count (OpenSSL writes 2048), low enough that a damaged or
    /// hostile file cannot keep the process busy for hours.
    private static let maxIterations = 50_000_000

    /// What PBES2 parameters say: how to derive the key and how to decrypt.
    private struct PBES2Parameters {
        var salt: [UInt8]
        var iterations: Int
        var prf: KDF.Insecure.PBKDF2.HashFunction
        var keyLength: Int
        var iv: [UInt8]
    }

    private static func pkcs8(_ pem: String, passphrase: [UInt8]) throws(Failure) -> [UInt8] {
        let der: [UInt8]
        do {
            der = try PEMDocument(pemString: pem).derBytes
        } catch {
            throw .malformed("not a PEM document")
        }
        let (parameters, ciphertext) = try parseEncryptedPrivateKeyInfo(der)
        let key: SymmetricKey
        do {
            key = try KDF.Insecure.PBKDF2.deriveKey(
                from: passphrase, salt: parameters.salt, using: parameters.prf,
                outputByteCount: parameters.keyLength, unsafeUncheckedRounds: parameters.iterations)
        } catch {
            throw .malformed("PBKDF2 failed: \(error)")
        }
        return try decryptCBC(ciphertext, key: key, iv: parameters.iv)
    }

    /// EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier,
    /// encryptedData OCTET STRING } (RFC 5958), the algorithm being PBES2 (RFC 8018 A.4).
    private static func parseEncryptedPrivateKeyInfo(_ der: [UInt8]) throws(Failure) -> (PBES2Parameters, [UInt8]) {
        do {
            return try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                guard let algorithm = nodes.next(), let data = nodes.next() else {
                    throw Failure.malformed("EncryptedPrivateKeyInfo is incomplete")
                }
                let (oid, parameters) = try algorithmIdentifier(algorithm)
                guard oid == pbes2, let parameters else { throw Failure.unsupported("scheme \(oid)") }
                let pbes = try parsePBES2(parameters)
                return (pbes, Array(try ASN1OctetString(derEncoded: data).bytes))
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .malformed("EncryptedPrivateKeyInfo: \(error)")
        }
    }

    /// PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier (PBKDF2),
    /// encryptionScheme AlgorithmIdentifier (here AES-CBC with the IV as parameter) }.
    private static func parsePBES2(_ node: ASN1Node) throws -> PBES2Parameters {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let kdfNode = nodes.next(), let schemeNode = nodes.next() else {
                throw Failure.malformed("PBES2 parameters are incomplete")
            }
            let (kdf, kdfParameters) = try algorithmIdentifier(kdfNode)
            guard kdf == pbkdf2, let kdfParameters else { throw Failure.unsupported("key derivation \(kdf)") }
            let (scheme, ivNode) = try algorithmIdentifier(schemeNode)
            guard let keyLength = aesCBC[scheme], let ivNode else { throw Failure.unsupported("cipher \(scheme)") }
            let iv = Array(try ASN1OctetString(derEncoded: ivNode).bytes)
            guard iv.count == 16 else { throw Failure.malformed("AES-CBC IV of \(iv.count) bytes") }
            var parameters = try parsePBKDF2(kdfParameters, iv: iv)
            guard parameters.keyLength == 0 || parameters.keyLength == keyLength else {
                throw Failure.malformed("PBKDF2 key length \(parameters.keyLength) does not fit the cipher")
            }
            parameters.keyLength = keyLength
            return parameters
        }
    }

    /// PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER,
    /// keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }.
    /// The returned key length is 0 when absent.
    private static func parsePBKDF2(_ node: ASN1Node, iv: [UInt8]) throws -> PBES2Parameters {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let saltNode = nodes.next(), let countNode = nodes.next() else {
                throw Failure.malformed("PBKDF2 parameters are incomplete")
            }
            guard saltNode.identifier == .octetString else { throw Failure.unsupported("PBKDF2 salt source") }
            let salt = Array(try ASN1OctetString(derEncoded: saltNode).bytes)
            let iterations = try Int(derEncoded: countNode)
            guard iterations >= 1, iterations <= maxIterations else {
                throw Failure.malformed("PBKDF2 iteration count \(iterations)")
            }
            var keyLength = 0
            var lookahead = nodes
            if let next = lookahead.next(), next.identifier == .integer {
                keyLength = try Int(derEncoded: next)
                nodes = lookahead
            }
            var prf = KDF.Insecure.PBKDF2.HashFunction.insecureSHA1
            if let prfNode = nodes.next() {
                let (oid, _) = try algorithmIdentifier(prfNode)
                guard let known = prfs[oid] else { throw Failure.unsupported("PBKDF2 PRF \(oid)") }
                prf = known
            }
            return PBES2Parameters(salt: salt, iterations: iterations, prf: prf, keyLength: keyLength, iv: iv)
        }
    }

    /// AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }.
    private static func algorithmIdentifier(_ node: ASN1Node) throws -> (ASN1ObjectIdentifier, ASN1Node?) {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let oidNode = nodes.next() else { throw Failure.malformed("empty AlgorithmIdentifier") }
            return (try ASN1ObjectIdentifier(derEncoded: oidNode), nodes.next())
        }
    }

    // MARK: Legacy OpenSSL PEM encryption

    private static func legacy(_ pem: String, passphrase: [UInt8]) throws(Failure) -> [UInt8] {
        var dekInfo: Substring?
        var body = ""
        var inBody = false
        for line in pem.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("-----BEGIN ") { inBody = true; continue }
            if line.hasPrefix("-----END ") { break }
            guard inBody else { continue }
            if line.hasPrefix("DEK-Info:") {
                dekInfo = line.dropFirst("DEK-Info:".count)
            } else if !line.contains(":") {
                body += line.trimmingCharacters(in: .whitespaces)
            }
        }
        guard let dekInfo else { throw .malformed("no DEK-Info header") }
        let fields = dekInfo.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.count == 2 else { throw .malformed("DEK-Info header \(dekInfo)") }
        let keyLength: Int
        switch fields[0].uppercased() {
        case "AES-128-CBC": keyLength = 16
        case "AES-192-CBC": keyLength = 24
        case "AES-256-CBC": keyLength = 32
        default: throw .unsupported(fields[0])
        }
        guard let iv = hexBytes(fields[1]), iv.count == 16 else { throw .malformed("DEK-Info IV \(fields[1])") }
        guard let ciphertext = Data(base64Encoded: body) else { throw .malformed("the key is not base64") }
        let key = bytesToKey(passphrase: passphrase, salt: iv.prefix(8), length: keyLength)
        return try decryptCBC(Array(ciphertext), key: SymmetricKey(data: key), iv: iv)
    }

    /// OpenSSL's `EVP_BytesToKey` with MD5 and one round: D1 = MD5(P ‖ S), Di = MD5(Di-1 ‖ P ‖ S),
    /// concatenated until long enough. Weak, but it is what the legacy format uses.
    private static func bytesToKey(passphrase: [UInt8], salt: ArraySlice<UInt8>, length: Int) -> [UInt8] {
        var derived: [UInt8] = []
        var previous: [UInt8] = []
        while derived.count < length {
            var md5 = Insecure.MD5()
            md5.update(data: previous)
            md5.update(data: passphrase)
            md5.update(data: Array(salt))
            previous = Array(md5.finalize())
            derived += previous
        }
        return Array(derived.prefix(length))
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    // MARK: Shared

    /// AES-CBC with PKCS#7 padding. A wrong key shows as bad padding, or (1 time in ~256) as
    /// padding that happens to be valid over garbage: the plaintext must also be one whole DER
    /// SEQUENCE, so both cases are reported as a wrong passphrase.
    private static func decryptCBC(_ ciphertext: [UInt8], key: SymmetricKey, iv: [UInt8]) throws(Failure) -> [UInt8] {
        guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else {
            throw .malformed("ciphertext of \(ciphertext.count) bytes")
        }
        let plaintext: [UInt8]
        do {
            plaintext = Array(try AES._CBC.decrypt(ciphertext, using: key, iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw .wrongPassphrase
        }
        guard let node = try? DER.parse(plaintext), node.identifier == .sequence else { throw .wrongPassphrase }
        return plaintext
    }
}
