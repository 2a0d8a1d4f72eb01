import SluiceBase

/// What to create with `MetaClient.create`.
public struct NewInode: Sendable {
    public var type: FileType
    public var permissions: FilePermissions
    public var rdev: UInt32
    /// The target of a symlink.
    public var symlinkTarget: [UInt8]
    /// The caller's umask when the file system applies it (volumes with POSIX ACLs): ignored
    /// when the parent has a default ACL, which the node then inherits. nil: `permissions` are
    /// final (the kernel applied the umask).
    public var umask: UInt16?

    public init(type: FileType, permissions: FilePermissions, rdev: UInt32 = 0, symlinkTarget: [UInt8] = [],
                umask: UInt16? = nil) {
        self.type = type
        self.permissions = permissions
        self.rdev = rdev
        self.symlinkTarget = symlinkTarget
        self.umask = umask
    }
}


extension MetaClient {
    /// Creates a file, directory, symlink or special file named `name` in `parent`, owned by
    /// the caller (with the directory's group when it is setgid).
    public func create(_ parent: InodeNumber, _ name: [UInt8], _ new: NewInode, by caller: Caller)
        throws -> (InodeNumber, InodeAttributes)
    {
        try Self.checkName(name)
        // "." and ".." always exist: creating them is EEXIST, not a new hidden entry.
        if Self.isDotOrDotDot(name) { throw Errno.fileExists }
        if new.type == .symlink {
            guard !new.symlinkTarget.isEmpty else { throw Errno.noSuchFileOrDirectory }
            guard new.symlinkTarget.count <= Layout.maxSymlinkLength else { throw Errno.fileNameTooLong }
        }
        // Nothing is created in the trash: only deletions put files there.
        if Trash.contains(parent) { throw Errno.notPermitted }
        let ino = InodeNumber(try inodeIDs.next())
        return try engine.write { tx in
            let entryKey = MetaKeys.entry(parent, name)
            // One round trip on a server engine for what every create reads.
            try tx.prefetch([MetaKeys.attr(parent), entryKey, MetaKeys.totalInodes])
            var dir = try Self.directory(parent, in: tx)
            // A directory removed while someone still stands in it takes no new entries.
            guard dir.nlink > 0 else { throw Errno.noSuchFileOrDirectory }
            guard try tx.get(entryKey) == nil else { throw Errno.fileExists }
            let now = Timespec.now()
            var perms = new.permissions
            if let umask = new.umask {
                perms = try applyCreationACL(parent: parent, ino: ino, type: new.type, permissions: perms, umask: umask, in: tx)
            }
            var gid = caller.gid
            if dir.permissions.contains(.setGID) {
                gid = dir.gid
                if new.type == .directory { perms = FilePermissions(rawValue: perms.rawValue | FilePermissions.setGID.rawValue) }
            }
            var attr = InodeAttributes(type: new.type, permissions: perms, uid: caller.uid, gid: gid,
                                       size: 0, nlink: 1, atime: now, mtime: now, ctime: now, rdev: new.rdev)
            switch new.type {
            case .directory:
                attr.nlink = 2
                attr.size = Layout.directorySize
                attr.parent = parent
                dir.nlink += 1
            case .symlink:
                attr.size = UInt64(new.symlinkTarget.count)
                try tx.set(MetaKeys.symlink(ino), new.symlinkTarget)
            default:
                break
            }
            dir.mtime = now
            dir.ctime = now
            try Self.put(parent, dir, in: tx)
            try Self.put(ino, attr, in: tx)
            try tx.set(entryKey, MetaCoding.encodeEntry(ino, new.type))
            try tx.increment(MetaKeys.totalInodes, by: 1)
            if attr.size > 0 { try tx.increment(MetaKeys.usedSpace, by: Self.spaceOf(attr.size)) }
            return (ino, attr)
        }
    }

    /// The target of a symlink.
    public func readlink(_ ino: InodeNumber) throws -> [UInt8] {
        try engine.read { tx in
            guard let target = try tx.get(MetaKeys.symlink(ino)) else {
                let a = try Self.attr(ino, in: tx)
                throw a.type == .symlink ? EngineError("symlink \(ino) has no target") : Errno.invalidArgument
            }
            return target
        }
    }

    /// Adds the name `name` in `parent` for the existing inode `ino` (a hard link).
    public func link(_ ino: InodeNumber, _ parent: InodeNumber, _ name: [UInt8]) throws -> InodeAttributes {
        try Self.checkName(name)
        // As in create: "." and ".." exist already and must not become stored entries.
        if Self.isDotOrDotDot(name) { throw Errno.fileExists }
        if Trash.contains(parent) { throw Errno.notPermitted }
        return try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            guard attr.type != .directory else { throw Errno.notPermitted }
            guard attr.nlink > 0 else { throw Errno.noSuchFileOrDirectory }
            var dir = try Self.directory(parent, in: tx)
            guard dir.nlink > 0 else { throw Errno.noSuchFileOrDirectory }
            let entryKey = MetaKeys.entry(parent, name)
            guard try tx.get(entryKey) == nil else { throw Errno.fileExists }
            guard attr.nlink < UInt32(Int32.max) else { throw Errno.tooManyLinks }
            let now = Timespec.now()
            attr.nlink += 1
            attr.ctime = now
            dir.mtime = now
            dir.ctime = now
            try tx.set(entryKey, MetaCoding.encodeEntry(ino, attr.type))
            try Self.put(ino, attr, in: tx)
            try Self.put(parent, dir, in: tx)
            return attr
        }
    }

    /// Removes the name `name` (not a directory) from `parent`. Returns the inode and its
    /// attributes afterwards (nlink may be 0 when the file is still open somewhere).
    @discardableResult
    public func unlink(_ parent: InodeNumber, _ name: [UInt8]) throws -> (InodeNumber, InodeAttributes) {
        try Self.checkName(name)
        // "." and ".." are directories (Linux unlink(2) answers EISDIR), never stored entries.
        if Self.isDotOrDotDot(name) { throw Errno.isDirectory }
        return try engine.write { tx in
            let entryKey = MetaKeys.entry(parent, name)
            try tx.prefetch([MetaKeys.attr(parent), entryKey, MetaKeys.settings, MetaKeys.totalInodes])
            var dir = try Self.directory(parent, in: tx)
            guard let entry = try tx.get(entryKey) else { throw Errno.noSuchFileOrDirectory }
            let (ino, type) = try MetaCoding.decodeEntry(entry)
            guard type != .directory else { throw Errno.isDirectory }
            let now = Timespec.now()
            try tx.delete(entryKey)
            dir.mtime = now
            dir.ctime = now
            try Self.put(parent, dir, in: tx)
            let attr = try dropLink(ino, now: now, from: parent, name: name, in: tx)
            return (ino, attr)
        }
    }

    /// Removes the empty directory `name` from `parent`.
    public func rmdir(_ parent: InodeNumber, _ name: [UInt8]) throws {
        try Self.checkName(name)
        if name == [UInt8(ascii: ".")] { throw Errno.invalidArgument }
        if name == [UInt8(ascii: "."), UInt8(ascii: ".")] { throw Errno.directoryNotEmpty }
        try engine.write { tx in
            var dir = try Self.directory(parent, in: tx)
            let entryKey = MetaKeys.entry(parent, name)
            guard let entry = try tx.get(entryKey) else { throw Errno.noSuchFileOrDirectory }
            let (ino, type) = try MetaCoding.decodeEntry(entry)
            guard type == .directory else { throw Errno.notDirectory }
            if ino == Trash.inode { throw Errno.notPermitted }
            guard try tx.scan(prefix: MetaKeys.entryPrefix(ino), after: nil, limit: 1).isEmpty else {
                throw Errno.directoryNotEmpty
            }
            let now = Timespec.now()
            try tx.delete(entryKey)
            if isOpen(ino) {
                // Still open (opendir, a process standing in it): like a file unlinked while
                // open it lives on with nlink 0, so fstat answers, until the last close.
                var attr = try Self.attr(ino, in: tx)
                attr.nlink = 0
                attr.ctime = now
                try Self.put(ino, attr, in: tx)
                try tx.set(MetaKeys.sustained(sessionID, ino), [])
            } else {
                try removeInode(ino, size: Layout.directorySize, in: tx)
            }
            dir.nlink -= 1
            dir.mtime = now
            dir.ctime = now
            try Self.put(parent, dir, in: tx)
        }
    }

    /// Takes the link `name` in `parent` from `ino`; when none remain, the inode goes to the
    /// trash (when on) or is deleted, unless this client holds it open, in which case it lives
    /// on with nlink 0 until the last close (which then trashes or deletes it).
    func dropLink(_ ino: InodeNumber, now: Timespec, from parent: InodeNumber, name: [UInt8],
                  in tx: any KVTransaction) throws -> InodeAttributes {
        var attr = try Self.attr(ino, in: tx)
        attr.nlink = attr.nlink > 0 ? attr.nlink - 1 : 0
        attr.ctime = now
        if attr.nlink > 0 || isOpen(ino) {
            try Self.put(ino, attr, in: tx)
            if attr.nlink == 0 {
                // Where the last name was, for a trash at the last close.
                let origin = Trash.contains(parent) ? [] : Trash.encodeOrigin(parent: parent, name: name)
                try tx.set(MetaKeys.sustained(sessionID, ino), origin)
            }
        } else if try !moveToTrash(ino, &attr, from: parent, name: name, now: now, in: tx) {
            try removeInode(ino, size: attr.size, in: tx)
        }
        return attr
    }

    /// An inode that lost its last name while open is closed for the last time (or its session
    /// ended): to the trash when `origin` (an `O` record's value) says where it was and the
    /// trash is on, otherwise deleted.
    func releaseUnlinked(_ ino: InodeNumber, _ attr: InodeAttributes, origin: [UInt8]?,
                         in tx: any KVTransaction) throws {
        var attr = attr
        if let (parent, name) = origin.flatMap(Trash.decodeOrigin),
           try moveToTrash(ino, &attr, from: parent, name: name, now: Timespec.now(), in: tx) {
            return
        }
        try removeInode(ino, size: attr.size, in: tx)
    }

    /// Deletes an inode with no names left: its attributes, symlink target and chunks; the
    /// chunks' slices are queued for deletion of their objects.
    func removeInode(_ ino: InodeNumber, size: UInt64, in tx: any KVTransaction) throws {
        try tx.delete(MetaKeys.attr(ino))
        try tx.delete(MetaKeys.symlink(ino))
        try deleteAll(prefix: MetaKeys.xattrPrefix(ino), in: tx)
        try tx.delete(MetaKeys.flock(ino))
        try tx.delete(MetaKeys.posixLocks(ino))
        try releaseChunks(of: ino, from: 0, in: tx)
        try tx.increment(MetaKeys.totalInodes, by: -1)
        if size > 0 { try tx.increment(MetaKeys.usedSpace, by: -Self.spaceOf(size)) }
    }

    func deleteAll(prefix: [UInt8], in tx: any KVTransaction) throws {
        while true {
            let page = try tx.scan(prefix: prefix, after: nil, limit: 256)
            for pair in page { try tx.delete(pair.key) }
            if page.count < 256 { return }
        }
    }

    /// One slice-list entry goes away: a shared slice loses a reference; the last reference
    /// queues the slice's objects for deletion (`due`: empty for now, or a due time).
    func dropReference(_ slice: SliceRef, due: [UInt8], in tx: any KVTransaction) throws {
        guard !slice.id.isHole else { return }
        let refs = MetaKeys.sliceRefs(slice.id, size: slice.size)
        let extra = try tx.counter(refs)
        if extra > 1 {
            try tx.set(refs, Self.counterBytes(extra - 1))
        } else if extra == 1 {
            try tx.delete(refs)
        } else {
            try tx.set(MetaKeys.pendingSlice(slice.id, size: slice.size), due)
        }
    }

    /// Deletes the chunk records of `ino` with index >= `first`, queuing their slices.
    func releaseChunks(of ino: InodeNumber, from first: UInt32, in tx: any KVTransaction) throws {
        let prefix = MetaKeys.chunkPrefix(ino)
        var after: [UInt8]? = first == 0 ? nil : MetaKeys.chunk(ino, first - 1)
        while true {
            let page = try tx.scan(prefix: prefix, after: after, limit: 256)
            for pair in page {
                for slice in try MetaCoding.decodeSlices(pair.value) {
                    try dropReference(slice, due: [], in: tx)
                }
                try tx.delete(pair.key)
            }
            guard page.count == 256, let last = page.last else { break }
            after = last.key
        }
    }
}
