import Foundation
import SluiceBase
import SluiceMeta
import SluiceCache
import SluiceObject

/// The object store stack a volume's settings call for: the backend (file, mem…), counted in
/// `OperationStats`, under the block codec (compression, checksums and, for an encrypted
/// volume, encryption).
public enum VolumeStore {
    /// `cipher` must be given exactly when the volume is encrypted (see `cipher(for:keyFile:)`).
    /// `localCache` puts the client's local disks (disk cache tier, write-back staging) between
    /// the codec and the backend; tools that only list or delete objects leave it out.
    public static func open(_ settings: VolumeSettings, cipher: BlockCipher? = nil,
                            localCache: LocalCacheConfig? = nil) throws -> any ObjectStore {
        guard let compression = Compression(rawValue: settings.compression) else {
            throw UsageError("unsupported compression \"\(settings.compression)\" in the volume settings")
        }
        guard settings.encrypted == (cipher != nil) else {
            throw UsageError(settings.encrypted ? "volume \"\(settings.name)\" is encrypted and no key was given"
                                                : "volume \"\(settings.name)\" is not encrypted")
        }
        let backend = try ObjectStores.open(storage: settings.storage, bucket: settings.bucket,
                                            options: storeOptions(settings))
        var store: any ObjectStore = InstrumentedStore(backend)
        // The disk tier caches objects as stored (under the codec): compressed, checksummed and,
        // for an encrypted volume, encrypted.
        if let localCache, localCache.capacity > 0 { store = DiskCacheStore(store, config: localCache) }
        return CodecStore(store, compression: compression, cipher: cipher)
    }

    /// Ends a mount's use of a store from `open`: the disk cache's queued writes are finished,
    /// so that what was read before an unmount is cached at the next mount.
    public static func finish(_ store: any ObjectStore) {
        if let disk = (store as? CodecStore)?.base as? DiskCacheStore { disk.waitForWrites() }
    }

    /// The credentials and region stored at format; nil ones fall back to the environment.
    public static func storeOptions(_ settings: VolumeSettings) -> StoreOptions {
        StoreOptions(accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region)
    }

    /// Where a private key file was named, for messages: the option or the environment.
    public enum KeySource: Sendable {
        case option, environment
        var name: String { self == .option ? "--encrypt-rsa-key" : VolumeKey.keyFileEnvironment }
    }

    /// The cipher for a volume: nil for an unencrypted one (where a key file is an error, not
    /// ignored); for an encrypted one, the private key in `keyFile`, checked against the volume's
    /// fingerprint. Without `keyFile`, an encrypted volume is an error unless
    /// `requirePrivateKey` is false (tools that never read blocks, e.g. gc): the cipher then
    /// seals but cannot open. Every failure is one `UsageError` line.
    public static func cipher(for settings: VolumeSettings, keyFile: (path: String, source: KeySource)?,
                              requirePrivateKey: Bool = true) throws -> BlockCipher? {
        guard let pem = settings.encryptPublicKey, let fingerprint = settings.encryptFingerprint else {
            if let keyFile {
                throw UsageError("volume \"\(settings.name)\" is not encrypted, but \(keyFile.source.name) names a key "
                                 + "(\(keyFile.path)); give no key for an unencrypted volume")
            }
            return nil
        }
        let publicKey = try VolumeKey.publicKey(pem: pem, source: "the volume settings")
        guard VolumeKey.fingerprint(publicKey) == fingerprint else {
            throw EngineError("damaged volume settings: the stored public key does not match the stored fingerprint")
        }
        guard let keyFile else {
            guard !requirePrivateKey else {
                throw UsageError("volume \"\(settings.name)\" is encrypted (key \(fingerprint)): give its RSA private key "
                                 + "with --encrypt-rsa-key PEM_FILE or \(VolumeKey.keyFileEnvironment)")
            }
            return BlockCipher(publicKey: publicKey, privateKey: nil)
        }
        let privateKey = try VolumeKey.loadPrivateKey(path: keyFile.path)
        let given = VolumeKey.fingerprint(privateKey.publicKey)
        guard given == fingerprint else {
            throw UsageError("the RSA key in \(keyFile.path) (\(given)) is not the key of volume \"\(settings.name)\" "
                             + "(\(fingerprint))")
        }
        return BlockCipher(publicKey: publicKey, privateKey: privateKey)
    }

    /// The key file named by `--encrypt-rsa-key`, else by `SLUICE_RSA_KEY_FILE`.
    public static func keyFile(option: String?) -> (path: String, source: KeySource)? {
        if let option { return (option, .option) }
        if let env = ProcessInfo.processInfo.environment[VolumeKey.keyFileEnvironment], !env.isEmpty {
            return (env, .environment)
        }
        return nil
    }
}
