import SluiceBase
import SluiceChunk
import SluiceMeta
import SluiceObject

/// What lookup-like operations return: an inode and its attributes, with how long the kernel
/// may cache each.
public struct Entry: Sendable {
    public var inode: InodeNumber
    public var attributes: InodeAttributes
    public var attributeTimeout: Double
    public var entryTimeout: Double
}

/// POSIX file system semantics over metadata (`MetaClient`) and data (`ChunkStore`): the one
/// layer that joins them. Adapters (FUSE, gateways) call it from many threads at once.
///
/// Every method either succeeds or throws an `Errno` (engine failures arrive as EIO).
public final class VFS: Sendable {
    public let meta: MetaClient
    public let chunks: ChunkStore
    public let store: any ObjectStore
    public let settings: VolumeSettings
    public let config: VFSConfig
    let files = HandleTable<FileHandle>()
    let directories = HandleTable<DirectoryHandle>()
    let inodes = OpenInodes()
    let worker: BackgroundWorker

    public init(meta: MetaClient, store: any ObjectStore, settings: VolumeSettings, config: VFSConfig) {
        self.meta = meta
        self.store = store
        self.settings = settings
        self.config = config
        var chunkConfig = ChunkConfig(volume: settings.name)
        chunkConfig.blockSize = settings.blockSize
        chunkConfig.bufferBytes = config.bufferSize
        chunkConfig.memoryCacheBytes = config.memoryCacheSize
        chunkConfig.maxUploads = config.maxUploads
        chunkConfig.randomPrefetches = config.prefetch
        chunks = ChunkStore(store: store, config: chunkConfig)
        worker = BackgroundWorker(meta: meta, chunks: chunks, sessionTimeout: config.sessionTimeout)
    }

    /// Starts background work: deleting unreferenced objects, compaction, the session heartbeat.
    public func start() { worker.start(vfs: self) }

    /// Commits everything buffered and stops background work. Called at unmount.
    public func shutdown() {
        for writer in inodes.allWriters() { try? writer.commit(compactionThreshold: config.compactionThreshold) }
        worker.stop()
    }

    /// Test hook: runs queued compactions and due slice deletions now, on the calling thread
    /// (see `BackgroundWorker.runPendingWorkNow`).
    func runBackgroundWorkNow() { worker.runPendingWorkNow() }

    // MARK: Attributes

    func entry(_ ino: InodeNumber, _ attr: InodeAttributes) -> Entry {
        Entry(inode: ino, attributes: attr, attributeTimeout: config.attributeTimeout,
              entryTimeout: attr.type == .directory ? config.directoryEntryTimeout : config.entryTimeout)
    }

    /// Attributes as this client sees them: metadata plus the length of data it has buffered.
    func adjusted(_ ino: InodeNumber, _ attr: InodeAttributes) -> InodeAttributes {
        guard attr.type == .regular, let writer = inodes.writer(ino) else { return attr }
        var a = attr
        a.size = max(a.size, writer.pendingLength)
        // POSIX: a successful write marks mtime and ctime for update; buffered writes reach
        // metadata only at the commit, so report their time meanwhile (fstat right after
        // write(2) must see the change).
        if let t = writer.pendingWriteTime {
            if a.mtime < t { a.mtime = t }
            if a.ctime < t { a.ctime = t }
        }
        return a
    }

    public func lookup(_ parent: InodeNumber, _ name: [UInt8]) throws -> Entry {
        let (ino, attr) = try meta.lookup(parent, name)
        return entry(ino, adjusted(ino, attr))
    }

    public func getattr(_ ino: InodeNumber) throws -> Entry {
        entry(ino, adjusted(ino, try meta.getattr(ino)))
    }

    public func setattr(_ ino: InodeNumber, _ changes: AttributeChanges) throws -> Entry {
        try checkWritable()
        if changes.size != nil || changes.mtime != nil {
            // Buffered writes happened before this truncate or utime: commit them first so that
            // the new length and mtime are the last word.
            try flushWrites(ino)
        }
        let attr = try meta.setattr(ino, changes)
        if changes.size != nil { inodes.invalidateChunks(ino) }
        return entry(ino, attr)
    }

    public func readlink(_ ino: InodeNumber) throws -> [UInt8] { try meta.readlink(ino) }

    public func statfs() throws -> VolumeUsage { try meta.statfs() }

    /// Permission check for access(2): `mask` is R_OK(4)|W_OK(2)|X_OK(1), or 0 for existence.
    public func access(_ ino: InodeNumber, mask: UInt32, by caller: Caller) throws {
        let attr = try meta.getattr(ino)
        if mask & 2 != 0 && config.readOnly { throw Errno.readOnlyFileSystem }
        try Permissions.check(attr, mask: mask, caller: caller)
    }

    // MARK: Namespace

    func checkWritable() throws {
        if config.readOnly { throw Errno.readOnlyFileSystem }
    }

    /// `umask`: the caller's umask when the kernel left it to the file system (volumes with
    /// ACLs, where a parent's default ACL replaces it); nil when `permissions` are final.
    public func mknod(_ parent: InodeNumber, _ name: [UInt8], type: FileType, permissions: FilePermissions,
                      rdev: UInt32, umask: UInt16? = nil, by caller: Caller) throws -> Entry {
        try checkWritable()
        let new = NewInode(type: type, permissions: permissions, rdev: rdev, umask: creationUmask(umask))
        let (ino, attr) = try meta.create(parent, name, new, by: caller)
        return entry(ino, attr)
    }

    public func mkdir(_ parent: InodeNumber, _ name: [UInt8], permissions: FilePermissions, umask: UInt16? = nil,
                      by caller: Caller) throws -> Entry {
        try mknod(parent, name, type: .directory, permissions: permissions, rdev: 0, umask: umask, by: caller)
    }

    public func symlink(_ parent: InodeNumber, _ name: [UInt8], target: [UInt8], by caller: Caller) throws -> Entry {
        try checkWritable()
        let (ino, attr) = try meta.create(parent, name, NewInode(type: .symlink, permissions: FilePermissions(rawValue: 0o777),
                                                                 symlinkTarget: target), by: caller)
        return entry(ino, attr)
    }

    public func unlink(_ parent: InodeNumber, _ name: [UInt8]) throws {
        try checkWritable()
        let (_, attr) = try meta.unlink(parent, name)
        if attr.nlink == 0 { worker.wake() }
    }

    public func rmdir(_ parent: InodeNumber, _ name: [UInt8]) throws {
        try checkWritable()
        try meta.rmdir(parent, name)
    }

    public func rename(_ parent: InodeNumber, _ name: [UInt8], _ newParent: InodeNumber, _ newName: [UInt8],
                       flags: RenameFlags) throws {
        try checkWritable()
        if try meta.rename(parent, name, newParent, newName, flags: flags) != nil { worker.wake() }
    }

    public func link(_ ino: InodeNumber, _ newParent: InodeNumber, _ newName: [UInt8]) throws -> Entry {
        try checkWritable()
        let attr = try meta.link(ino, newParent, newName)
        return entry(ino, adjusted(ino, attr))
    }
}
