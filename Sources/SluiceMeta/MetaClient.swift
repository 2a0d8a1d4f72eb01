import SluiceBase

/// The POSIX metadata logic, written once over any `KVEngine`. Every public operation is one
/// transaction: it either happens whole or not at all, and two clients racing on one name see
/// exactly one winner (the other gets the POSIX error).
///
/// POSIX outcomes are thrown as `Errno`; engine failures as `EngineError`.
public final class MetaClient: Sendable {
    /// The engine all state lives in.
    public let engine: any KVEngine
    let inodeIDs: IDBatchAllocator
    let sliceIDs: IDBatchAllocator
    /// How many handles this process holds open per inode: an inode unlinked while open keeps
    /// its data until the last close.
    let openCounts = Locked<[InodeNumber: Int]>([:])
    let currentSession = Locked<SessionID>(SessionID(0))

    public init(engine: any KVEngine) {
        self.engine = engine
        inodeIDs = IDBatchAllocator(counter: MetaKeys.nextInode, batch: 128, engine: engine)
        sliceIDs = IDBatchAllocator(counter: MetaKeys.nextSlice, batch: 1024, engine: engine)
    }

    /// The session this client registered, or 0 when it has none (tools, tests).
    public var sessionID: SessionID { currentSession.withLock { $0 } }

    // MARK: Volume

    /// Writes the settings and the root directory of a new volume. An already formatted volume is
    /// refused unless `force`, which updates its settings but never its name, uuid or block size
    /// (existing data depends on them).
    public func format(_ settings: VolumeSettings, force: Bool) throws {
        try settings.validate()
        try engine.write { tx in
            var toWrite = settings
            if let existing = try tx.get(MetaKeys.settings) {
                let old = try VolumeSettings.decode(existing)
                guard force else {
                    throw UsageError("volume \"\(old.name)\" is already formatted in this metadata engine; use --force to update its settings")
                }
                guard old.blockSize == settings.blockSize else {
                    throw UsageError("cannot change the block size of volume \"\(old.name)\" from \(old.blockSize) to \(settings.blockSize)")
                }
                guard old.name == settings.name else {
                    throw UsageError("cannot rename volume \"\(old.name)\" to \"\(settings.name)\"")
                }
                guard old.encryptFingerprint == settings.encryptFingerprint else {
                    throw UsageError(old.encrypted
                        ? "volume \"\(old.name)\" is encrypted with key \(old.encryptFingerprint!): give that key "
                          + "(--encrypt-rsa-key) to update its settings; encryption cannot be changed or removed"
                        : "cannot encrypt the already formatted volume \"\(old.name)\": its blocks are stored unencrypted")
                }
                toWrite.uuid = old.uuid
                toWrite.createdAt = old.createdAt
                try tx.set(MetaKeys.settings, try toWrite.encoded())
                return
            }
            try tx.set(MetaKeys.settings, try toWrite.encoded())
            let now = Timespec.now()
            let root = InodeAttributes(type: .directory, permissions: FilePermissions(rawValue: 0o777), uid: 0, gid: 0,
                                       size: Layout.directorySize, nlink: 2, atime: now, mtime: now, ctime: now,
                                       parent: .root)
            try tx.set(MetaKeys.attr(.root), MetaCoding.encode(root))
            if try tx.counter(MetaKeys.nextInode) < 2 {
                try tx.set(MetaKeys.nextInode, Self.counterBytes(2))
            }
            if try tx.counter(MetaKeys.nextSlice) < 1 {
                try tx.set(MetaKeys.nextSlice, Self.counterBytes(1))
            }
            try tx.increment(MetaKeys.totalInodes, by: 1)
        }
    }

    /// The volume's settings; a `UsageError` when the engine holds no formatted volume.
    public func settings() throws -> VolumeSettings {
        guard let bytes = try engine.read({ try $0.get(MetaKeys.settings) }) else {
            throw UsageError("the metadata engine holds no volume: run `sluice format` first")
        }
        return try VolumeSettings.decode(bytes)
    }

    static func counterBytes(_ v: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        w.i64(v)
        return w.bytes
    }

    // MARK: Attributes

    /// The attributes of `ino`, or ENOENT.
    public func getattr(_ ino: InodeNumber) throws -> InodeAttributes {
        try engine.read { tx in try Self.attr(ino, in: tx) }
    }

    /// Looks `name` up in directory `parent`.
    public func lookup(_ parent: InodeNumber, _ name: [UInt8]) throws -> (InodeNumber, InodeAttributes) {
        try Self.checkName(name)
        return try engine.read { tx in
            // "." names only a directory: a lookup in a file is ENOTDIR, as for ".." and any
            // other name (returning the file itself would make "file/." resolve).
            if name == [UInt8(ascii: ".")] { return (parent, try Self.directory(parent, in: tx)) }
            if name == [UInt8(ascii: "."), UInt8(ascii: ".")] {
                let dir = try Self.directory(parent, in: tx)
                return (dir.parent, try Self.attr(dir.parent, in: tx))
            }
            guard let entry = try tx.get(MetaKeys.entry(parent, name)) else {
                _ = try Self.directory(parent, in: tx)
                throw Errno.noSuchFileOrDirectory
            }
            let (ino, _) = try MetaCoding.decodeEntry(entry)
            return (ino, try Self.attr(ino, in: tx))
        }
    }

    /// Capacity and usage of the volume, for statfs.
    public func statfs() throws -> VolumeUsage {
        let s = try settings()
        return try engine.read { tx in
            let used = UInt64(max(0, try tx.counter(MetaKeys.usedSpace)))
            let inodes = UInt64(max(0, try tx.counter(MetaKeys.totalInodes)))
            // Without a quota report 1 PiB above what is used, like a very large disk.
            let total = s.capacity > 0 ? s.capacity : max(used, 0) + (1 << 50)
            let totalInodes = s.inodes > 0 ? s.inodes : inodes + (10 << 20)
            return VolumeUsage(totalBytes: total, usedBytes: used, totalInodes: totalInodes, usedInodes: inodes)
        }
    }

    // MARK: Shared helpers for transactions

    static func attr(_ ino: InodeNumber, in tx: any KVTransaction) throws -> InodeAttributes {
        guard let bytes = try tx.get(MetaKeys.attr(ino)) else { throw Errno.noSuchFileOrDirectory }
        return try MetaCoding.decodeAttr(bytes)
    }

    static func directory(_ ino: InodeNumber, in tx: any KVTransaction) throws -> InodeAttributes {
        let a = try attr(ino, in: tx)
        guard a.type == .directory else { throw Errno.notDirectory }
        return a
    }

    static func put(_ ino: InodeNumber, _ a: InodeAttributes, in tx: any KVTransaction) throws {
        try tx.set(MetaKeys.attr(ino), MetaCoding.encode(a))
    }

    static func checkName(_ name: [UInt8]) throws {
        guard !name.isEmpty, !name.contains(UInt8(ascii: "/")), !name.contains(0) else { throw Errno.invalidArgument }
        guard name.count <= Layout.maxNameLength else { throw Errno.fileNameTooLong }
    }

    /// Whether `name` is "." or "..", which every directory has implicitly and no entry may
    /// take (lookup answers them without reading entries, so a stored one would be shadowed).
    static func isDotOrDotDot(_ name: [UInt8]) -> Bool {
        name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")]
    }

    /// Space accounting rounds every file up to 4 KiB, as a disk would.
    static func spaceOf(_ size: UInt64) -> Int64 { Int64((size + 4095) & ~4095) }
}


/// Hands out ids from a metadata counter in batches, so that a busy writer touches the engine
/// once per batch instead of once per id.
final class IDBatchAllocator: Sendable {
    let counter: [UInt8]
    let batch: Int64
    let engine: any KVEngine
    private let range = Locked<(next: Int64, end: Int64)>((0, 0))

    init(counter: [UInt8], batch: Int64, engine: any KVEngine) {
        self.counter = counter
        self.batch = batch
        self.engine = engine
    }

    func next() throws -> UInt64 {
        if let id = range.withLock({ r -> Int64? in
            guard r.next < r.end else { return nil }
            defer { r.next += 1 }
            return r.next
        }) { return UInt64(id) }
        // The counter holds the next id never handed out; taking a batch moves it forward.
        let end = try engine.write { tx in try tx.increment(counter, by: batch) }
        return UInt64(range.withLock { r -> Int64 in
            r = (end - batch + 1, end)
            return end - batch
        })
    }
}
