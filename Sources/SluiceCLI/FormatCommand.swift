import ArgumentParser
import Foundation
import SluiceBase
import SluiceMeta
import SluiceObject
import SluiceVFS

struct FormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Format a volume: write its settings and root directory to the metadata engine.")

    @Argument(help: "Metadata engine URL, e.g. sqlite3:///var/lib/sluice/vol.db")
    var metaURL: String

    @Argument(help: "Volume name (letters, digits, '-', '_'); also the prefix of its objects.")
    var name: String

    @Option(help: "Object storage: file, mem or s3.")
    var storage = "file"

    @Option(help: """
        Where objects go: a directory for file storage (default ~/.sluice/local); for s3 a bucket URL, \
        http(s)://host:port/bucket[/prefix] or https://bucket.s3.region.amazonaws.com[/prefix].
        """)
    var bucket: String?

    /// Stored in the volume settings, so every client of the volume uses them.
    @OptionGroup var credentials: S3CredentialOptions

    @Option(help: ArgumentHelp(
        "S3 over https: verify the endpoint against the CA certificates in this PEM file instead of the "
        + "system trust store; stored in the volume settings (SLUICE_CA_FILE overrides it on any client).",
        valueName: "PEM_FILE"))
    var caFile: String?

    @Option(help: "Object (block) size, e.g. 4M.")
    var blockSize = "4M"

    @Option(help: "Compression of stored blocks: none, lz4 or zstd.")
    var compress = "none"

    @Option(help: "Days deleted files stay in the trash (0 disables it).")
    var trashDays = 0

    @Option(help: "Capacity reported to df, e.g. 100G (default: unlimited).")
    var capacity: String?

    @Option(help: "Maximum number of inodes (default: unlimited).")
    var inodes: UInt64 = 0

    @Flag(help: "Enforce POSIX ACLs (system.posix_acl_access/default, setfacl/getfacl); without it they are refused.")
    var enableAcl = false

    @Option(name: .customLong("encrypt-rsa-key"), help: ArgumentHelp(
        "Encrypt every block (AES-256-GCM, data keys wrapped with RSA-OAEP) with this RSA key: a PEM "
        + "private key (PKCS#8 or PKCS#1; if passphrase-protected, the passphrase in SLUICE_RSA_PASSPHRASE) or "
        + "public key, at least 2048 bits. Only the public key is stored; mounts "
        + "need the private key.", valueName: "PEM_FILE"))
    var encryptRsaKey: String?

    @Flag(help: "Update the settings of an already formatted volume.")
    var force = false

    func run() throws {
        guard let block = ByteSize.parse(blockSize) else { throw UsageError("invalid block size \"\(blockSize)\"") }
        var cap: UInt64 = 0
        if let capacity {
            guard let c = ByteSize.parse(capacity) else { throw UsageError("invalid capacity \"\(capacity)\"") }
            cap = UInt64(c)
        }
        if storage == "s3", bucket == nil {
            throw UsageError("s3 storage needs --bucket http(s)://host[:port]/bucket[/prefix]")
        }
        let bucket = bucket ?? ObjectStores.defaultBucketRoot
        var settings = VolumeSettings(name: name, storage: storage, bucket: bucket, blockSize: block,
                                      compression: compress, trashDays: trashDays, capacity: cap, inodes: inodes, acl: enableAcl)
        settings.accessKey = credentials.accessKey
        settings.secretKey = credentials.secretKey
        settings.region = credentials.region
        settings.caFile = caFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let encryptRsaKey {
            let key = try VolumeKey.publicKeyForSettings(path: encryptRsaKey)
            settings.encryptPublicKey = key.pem
            settings.encryptFingerprint = key.fingerprint
        }
        try settings.validate()
        try credentials.check(storage: storage)
        if caFile != nil, storage != "s3" || !bucket.lowercased().hasPrefix("https://") {
            throw UsageError("--ca-file applies to s3 storage over https only")
        }
        // The store is checked before the metadata engine is touched, so a bad bucket leaves
        // no half-formatted volume behind. Checking a file store creates its directory: when
        // formatting then fails (bad metadata URL or database, volume exists), that new
        // directory goes again, so a failed format changes nothing.
        let bucketDirectory = storage == "file" ? (bucket.hasPrefix("file://") ? String(bucket.dropFirst(7)) : bucket) : nil
        let createdBucket = bucketDirectory.map { !FileManager.default.fileExists(atPath: $0) } ?? false
        let store = try ObjectStores.open(storage: storage, bucket: bucket, options: VolumeStore.storeOptions(settings))
        if let s3 = store as? S3Store {
            defer { s3.close() }
            try s3.check()
        }
        let stored: VolumeSettings
        do {
            let engine = try MetaEngines.open(url: metaURL, create: true)
            defer { engine.close() }
            let meta = MetaClient(engine: engine)
            try meta.format(settings, force: force)
            stored = try meta.settings()
        } catch {
            if createdBucket, let bucketDirectory { rmdir(bucketDirectory) }
            throw error
        }
        print("volume \"\(stored.name)\" (\(stored.uuid)) formatted in \(MetaEngines.redactedURL(metaURL)); "
              + "objects in \(stored.storage) \(stored.bucket), block size \(ByteSize.format(stored.blockSize))"
              + (stored.acl ? ", POSIX ACLs enabled" : "")
              + (stored.encryptFingerprint.map { ", encrypted with key \($0)" } ?? ""))
    }
}
