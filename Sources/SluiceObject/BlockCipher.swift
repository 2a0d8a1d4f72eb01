import Crypto
import Foundation
import SluiceBase
import _CryptoExtras

/// Seals block payloads for an encrypted volume: every block gets a fresh random 256-bit data
/// key, the payload is sealed with AES-256-GCM under it, and the data key is wrapped with the
/// volume's RSA public key (RSA-OAEP, SHA-256). The associated data binds the ciphertext to its
/// block header and object key, so a block moved under another key does not open.
///
/// Sealed form (what follows the block header):
/// ```
/// u16 wrapped key length n (big-endian), n bytes wrapped key,
/// 12 bytes nonce, ciphertext (the payload's length), 16 bytes GCM tag
/// ```
/// Without the private key a cipher can seal but not open (opening is `Errno.ioError`).
public final class BlockCipher: @unchecked Sendable {
    // @unchecked: the RSA keys are immutable BoringSSL keys, safe to use from many threads;
    // the cache has its own lock.
    public let fingerprint: String
    let publicKey: _RSA.Encryption.PublicKey
    let privateKey: _RSA.Encryption.PrivateKey?
    let keys: DataKeyCache

    static let nonceSize = 12
    static let tagSize = 16

    public init(publicKey: _RSA.Encryption.PublicKey, privateKey: _RSA.Encryption.PrivateKey?, cacheSize: Int = 4096) {
        self.publicKey = publicKey
        self.privateKey = privateKey
        self.fingerprint = VolumeKey.fingerprint(publicKey)
        self.keys = DataKeyCache(capacity: cacheSize)
    }

    /// Unwrapped data keys held, and (hits, misses) of their cache: for tests and diagnostics.
    public var cachedKeys: Int { keys.count }
    public var cachedKeyCounters: (hits: Int, misses: Int) { keys.counters }

    /// Whether this cipher can open blocks (it holds the private key).
    public var canOpen: Bool { privateKey != nil }

    /// The bytes that authenticate a block besides its ciphertext: its header and object key.
    static func associatedData(header: ArraySlice<UInt8>, objectKey: String) -> [UInt8] {
        Array(header) + Array(objectKey.utf8)
    }

    func seal(_ payload: [UInt8], header: ArraySlice<UInt8>, objectKey: String, into out: inout [UInt8]) throws {
        let dataKey = SymmetricKey(size: .bits256)
        let wrapped = try dataKey.withUnsafeBytes { try publicKey.encrypt($0, padding: .PKCS1_OAEP_SHA256) }
        let box = try AES.GCM.seal(payload, using: dataKey,
                                   authenticating: Self.associatedData(header: header, objectKey: objectKey))
        var w = ByteWriter(capacity: 2)
        w.u16(UInt16(wrapped.count))
        out.append(contentsOf: w.bytes)
        out.append(contentsOf: wrapped)
        out.append(contentsOf: box.nonce)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
    }

    /// The payload sealed in `sealed`; `Errno.ioError` when it does not open (damaged,
    /// swapped, sealed for another key, or no private key).
    func open(_ sealed: ArraySlice<UInt8>, header: ArraySlice<UInt8>, objectKey: String) throws -> [UInt8] {
        guard sealed.count >= 2 else { throw Errno.ioError }
        let n = Int(sealed[sealed.startIndex]) << 8 | Int(sealed[sealed.startIndex + 1])
        let wrappedStart = sealed.startIndex + 2
        let nonceStart = wrappedStart + n
        let bodyStart = nonceStart + Self.nonceSize
        guard sealed.endIndex - bodyStart >= Self.tagSize else { throw Errno.ioError }
        let tagStart = sealed.endIndex - Self.tagSize
        let dataKey = try unwrap(Array(sealed[wrappedStart..<nonceStart]))
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: sealed[nonceStart..<bodyStart]),
                                            ciphertext: sealed[bodyStart..<tagStart], tag: sealed[tagStart...])
            let plain = try AES.GCM.open(box, using: dataKey,
                                         authenticating: Self.associatedData(header: header, objectKey: objectKey))
            return Array(plain)
        } catch {
            throw Errno.ioError
        }
    }

    private func unwrap(_ wrapped: [UInt8]) throws -> SymmetricKey {
        if let key = keys.get(wrapped) { return key }
        guard let privateKey else { throw Errno.ioError }
        let raw: Data
        do { raw = try privateKey.decrypt(wrapped, padding: .PKCS1_OAEP_SHA256) } catch { throw Errno.ioError }
        guard raw.count == 32 else { throw Errno.ioError }
        let key = SymmetricKey(data: raw)
        keys.insert(wrapped, key)
        return key
    }
}
