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
        try openStack(settings, cipher: cipher, localCache: localCache).store
    }

    /// The store of a mount and the parts of it that need care at unmount.
    public struct Stack: Sendable {
        /// The top of the stack: what the chunk layer reads and writes.
        public let store: any ObjectStore
        /// Write-back staging, when `LocalCacheConfig.writeback` asked for it: uploads go on in
        /// the background, and `WritebackStore.shutdown(timeout:)` gives them time at unmount.
        public let writeback: WritebackStore?
        /// The disk tier of the block cache, when `LocalCacheConfig.capacity` asked for one.
        public let diskCache: DiskCacheStore?

        /// Ends a mount's use of the stack: the disk cache's queued writes are finished (what
        /// was read before an unmount is cached at the next mount), and write-back uploads get
        /// up to `uploadTimeout` seconds; what is left stays staged for the next mount.
        public func finish(uploadTimeout: Double) {
            diskCache?.waitForWrites()
            writeback?.shutdown(timeout: uploadTimeout)
        }
    }

    /// Like `open`, and says where write-back is. `maxUploads` is the number of write-back
    /// upload threads (`--max-uploads`).
    public static func openStack(_ settings: VolumeSettings, cipher: BlockCipher? = nil,
                                 localCache: LocalCacheConfig? = nil, maxUploads: Int = 20) throws -> Stack {
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
        var writeback: WritebackStore?
        if let localCache, localCache.writeback {
            // Under the codec: staged objects are encoded (checksummed, compressed, encrypted)
            // exactly as the backend will hold them, so nothing on the local disk is plaintext
            // of an encrypted volume, and an upload is a plain copy.
            let staged = try WritebackStore(store, cache: localCache,
                                            config: WritebackConfig(uploadThreads: maxUploads,
                                                                    uploadDelay: localCache.uploadDelay))
            writeback = staged
            store = staged
        }
        // The disk tier caches objects as stored (under the codec): compressed, checksummed and,
        // for an encrypted volume, encrypted. It sits above staging, so a staged block read back
        // is served from the cache like any other.
        var diskCache: DiskCacheStore?
        if let localCache, localCache.capacity > 0 {
            let cache = DiskCacheStore(store, config: localCache)
            diskCache = cache
            store = cache
        }
        return Stack(store: CodecStore(store, compression: compression, cipher: cipher),
                     writeback: writeback, diskCache: diskCache)
    }

    /// The environment variable naming a CA file for https object stores; it wins over the
    /// file stored at format, so a client whose CA lives elsewhere can still mount.
    public static let caFileEnvironment = "SLUICE_CA_FILE"

    /// The credentials, region and CA file stored at format; nil credentials and region fall
    /// back to the environment, and `SLUICE_CA_FILE` overrides the stored CA file.
    public static func storeOptions(_ settings: VolumeSettings) -> StoreOptions {
        let env = ProcessInfo.processInfo.environment[caFileEnvironment].flatMap { $0.isEmpty ? nil : $0 }
        return StoreOptions(accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region,
                            caFile: env ?? settings.caFile)
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
