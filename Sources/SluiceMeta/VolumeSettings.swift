import Foundation
import SluiceBase

/// The settings of a volume, written by `sluice format` and read by every client.
public struct VolumeSettings: Codable, Sendable, Equatable {
    /// The volume's name; also the prefix of its object keys.
    public var name: String
    public var uuid: String
    /// The object store kind (`file`, `mem`, later `s3`).
    public var storage: String
    /// Where the objects live: a directory for `file`, a bucket URL for `s3`.
    public var bucket: String
    /// The largest object a slice is cut into. Fixed for the life of the volume.
    public var blockSize: Int
    /// Compression of stored blocks: `none`, `lz4` or `zstd`.
    public var compression: String
    /// Days a deleted file stays in the trash; 0 disables the trash.
    public var trashDays: Int
    /// Capacity reported by statfs in bytes; 0 means no quota.
    public var capacity: UInt64
    /// Inode limit; 0 means no limit.
    public var inodes: UInt64
    public var formatVersion: Int
    public var createdAt: Date
    /// Object store credentials and region given at format (`s3`); absent in settings written
    /// before they existed or when the environment supplies them. Never shown unredacted.
    public var accessKey: String?
    public var secretKey: String?
    public var region: String?
    /// A PEM file of CA certificates that verify an `https://` S3 endpoint instead of the
    /// system trust store (`sluice format --ca-file`); `SLUICE_CA_FILE` overrides it per client.
    public var caFile: String?
    /// POSIX ACLs enforced (`sluice format --enable-acl`). Stored only when true, as `acl`, so
    /// settings written before the option existed decode unchanged (as false).
    public var acl: Bool {
        get { aclFlag ?? false }
        set { aclFlag = newValue ? true : nil }
    }
    private var aclFlag: Bool?
    /// Encryption at rest (`sluice format --encrypt-rsa-key`): the volume's RSA public key in
    /// PEM form, which wraps every block's data key, and its fingerprint (`SHA256:` + hex of the
    /// SPKI DER), which a mount checks its private key against. Absent on unencrypted volumes.
    public var encryptPublicKey: String?
    public var encryptFingerprint: String?

    /// Whether the volume's blocks are encrypted.
    public var encrypted: Bool { encryptPublicKey != nil }

    enum CodingKeys: String, CodingKey {
        case name, uuid, storage, bucket, blockSize, compression, trashDays, capacity, inodes, formatVersion, createdAt
        case accessKey, secretKey, region, caFile
        case aclFlag = "acl"
        case encryptPublicKey, encryptFingerprint
    }

    public static let currentFormatVersion = 1

    public init(name: String, uuid: String = UUID().uuidString.lowercased(), storage: String, bucket: String,
                blockSize: Int = Layout.defaultBlockSize, compression: String = "none", trashDays: Int = 0,
                capacity: UInt64 = 0, inodes: UInt64 = 0, acl: Bool = false, createdAt: Date = Date()) {
        self.name = name
        self.uuid = uuid
        self.storage = storage
        self.bucket = bucket
        self.blockSize = blockSize
        self.compression = compression
        self.trashDays = trashDays
        self.capacity = capacity
        self.inodes = inodes
        self.formatVersion = Self.currentFormatVersion
        self.createdAt = createdAt
        self.acl = acl
    }

    /// A copy safe to print: the secret key replaced by asterisks.
    public var redacted: VolumeSettings {
        var copy = self
        if copy.secretKey != nil { copy.secretKey = "******" }
        return copy
    }

    /// Checks what a volume needs to be usable; throws `UsageError` naming the bad value.
    public func validate() throws {
        let nameOK = !name.isEmpty && name.count <= 63 && name.allSatisfy {
            $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")
        }
        guard nameOK else {
            throw UsageError("invalid volume name \"\(name)\": use 1-63 letters, digits, '-' or '_'")
        }
        guard blockSize >= 64 << 10, blockSize <= 16 << 20, blockSize & (blockSize - 1) == 0 else {
            throw UsageError("invalid block size \(blockSize): use a power of two from 64K to 16M")
        }
        guard ["none", "lz4", "zstd"].contains(compression) else {
            throw UsageError("unsupported compression \"\(compression)\": use none, lz4 or zstd")
        }
        guard trashDays >= 0 else { throw UsageError("invalid trash days \(trashDays)") }
        guard (encryptPublicKey == nil) == (encryptFingerprint == nil) else {
            throw UsageError("an encrypted volume needs both its public key and its fingerprint")
        }
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(self))
    }

    static func decode(_ bytes: [UInt8]) throws -> VolumeSettings {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(VolumeSettings.self, from: Data(bytes))
        } catch {
            throw EngineError("damaged volume settings: \(error)")
        }
    }
}
