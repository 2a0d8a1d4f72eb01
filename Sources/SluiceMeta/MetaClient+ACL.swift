import SluiceBase

/// POSIX ACLs, kept as the extended attributes `system.posix_acl_access` and
/// `system.posix_acl_default` in Linux's binary format. The kernel enforces them (FUSE caches
/// and checks them); what it leaves to the file system is done here, each in the transaction
/// of the operation: the mode follows the access ACL when one is set, the access ACL follows
/// the mode on chmod, and new nodes inherit their directory's default ACL.
extension MetaClient {
    /// Sets (or, for a value holding only the header, removes) an ACL, as Linux's
    /// `set_posix_acl` + `posix_acl_update_mode`: an access ACL that says no more than mode bits
    /// is not stored and only sets the mode; any other sets the mode's owner, group (the mask)
    /// and other bits. The set-group-ID bit is cleared when `caller` is neither root nor a
    /// member of the file's group. Default ACLs exist only on directories (EACCES otherwise).
    func setACL(_ ino: InodeNumber, _ name: [UInt8], _ value: [UInt8], mode: XattrMode, by caller: Caller?) throws {
        let isDefault = name == PosixACL.defaultName
        // A header without entries is how an empty ACL is written: the kernel turns it into a
        // removal, and so does Sluice when it arrives here.
        let acl: PosixACL? = value == [2, 0, 0, 0] ? nil : try PosixACL(parsing: value)
        try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            if attr.type == .symlink { throw Errno.notSupported }
            if isDefault && attr.type != .directory {
                if acl == nil { return }
                throw Errno.permissionDenied
            }
            let key = MetaKeys.xattr(ino, name)
            let exists = try tx.get(key) != nil
            if mode == .create && exists { throw Errno.fileExists }
            if mode == .replace && !exists { throw Errno.noData }
            if let acl {
                if !isDefault, let bits = acl.equivalentMode {
                    if exists { try tx.delete(key) }
                    attr.permissions = FilePermissions(rawValue: attr.permissions.rawValue & ~0o777 | bits)
                } else {
                    try tx.set(key, acl.encoded())
                    if !isDefault { attr.permissions = FilePermissions(rawValue: attr.permissions.rawValue & ~0o777 | acl.modeBits) }
                }
                if !isDefault, let caller, caller.uid != 0, !caller.isMember(of: attr.gid) {
                    attr.permissions = FilePermissions(rawValue: attr.permissions.rawValue & ~FilePermissions.setGID.rawValue)
                }
            } else if exists {
                try tx.delete(key)
            }
            attr.ctime = Timespec.now()
            try Self.put(ino, attr, in: tx)
        }
    }

    /// chmod of a node with an access ACL: its owner, mask (or owning group) and other entries
    /// take the new bits (`posix_acl_chmod`). The kernel does not do this for FUSE.
    func chmodACL(_ ino: InodeNumber, to permissions: FilePermissions, in tx: any KVTransaction) throws {
        let key = MetaKeys.xattr(ino, PosixACL.accessName)
        guard let stored = try tx.get(key) else { return }
        let acl = try Self.storedACL(stored, of: ino)
        try tx.set(key, acl.chmod(permissions.rawValue & 0o777).encoded())
    }

    /// Applies the creation mode rules to a new node in `parent`: with a default ACL there,
    /// the node's mode and access ACL come from it (`posix_acl_create`) and a new directory
    /// inherits the default ACL itself; without one, the umask. Symlinks take neither.
    /// Returns the permissions to create with.
    func applyCreationACL(parent: InodeNumber, ino: InodeNumber, type: FileType, permissions: FilePermissions,
                          umask: UInt16, in tx: any KVTransaction) throws -> FilePermissions {
        guard type != .symlink else { return permissions }
        guard let stored = try tx.get(MetaKeys.xattr(parent, PosixACL.defaultName)) else {
            return FilePermissions(rawValue: permissions.rawValue & ~(umask & 0o777))
        }
        let inherited = try Self.storedACL(stored, of: parent).inherited(mode: permissions.rawValue)
        if let access = inherited.access {
            try tx.set(MetaKeys.xattr(ino, PosixACL.accessName), access.encoded())
        }
        if type == .directory {
            try tx.set(MetaKeys.xattr(ino, PosixACL.defaultName), stored)
        }
        return FilePermissions(rawValue: inherited.mode)
    }

    static func storedACL(_ bytes: [UInt8], of ino: InodeNumber) throws -> PosixACL {
        do {
            return try PosixACL(parsing: bytes)
        } catch {
            throw EngineError("damaged POSIX ACL on inode \(ino)")
        }
    }
}
