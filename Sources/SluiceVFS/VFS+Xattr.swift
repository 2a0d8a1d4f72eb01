import SluiceBase
import SluiceMeta

extension VFS {
    /// Linux's extended attribute namespaces; names outside them are EOPNOTSUPP (as on ext4,
    /// where no handler takes them). The kernel passes every name through FUSE unchecked.
    /// `system.` holds POSIX ACLs: on a volume formatted with `--enable-acl` the two ACL names
    /// are taken (and enforced, see `MetaClient+ACL`); otherwise they are refused, as on ext4
    /// mounted without ACL support (stored as plain attributes, `cp -a` would believe the ACL,
    /// and with it the mode, was set).
    static let xattrNamespaces: [[UInt8]] = ["user.", "trusted.", "security."].map { Array($0.utf8) }

    func checkXattrNamespace(_ name: [UInt8]) throws {
        if settings.acl && (name == PosixACL.accessName || name == PosixACL.defaultName) { return }
        guard Self.xattrNamespaces.contains(where: { name.count > $0.count && name.starts(with: $0) }) else {
            throw Errno.notSupported
        }
    }

    /// The umask to hand to metadata at create: only volumes with ACLs apply it there (the
    /// kernel applies it otherwise).
    func creationUmask(_ umask: UInt16?) -> UInt16? { settings.acl ? umask : nil }

    public func getxattr(_ ino: InodeNumber, _ name: [UInt8]) throws -> [UInt8] {
        try checkXattrNamespace(name)
        return try meta.getxattr(ino, name)
    }

    public func listxattr(_ ino: InodeNumber) throws -> [[UInt8]] {
        try meta.listxattr(ino)
    }

    /// `caller` matters for ACLs only (whether the set-group-ID bit survives).
    public func setxattr(_ ino: InodeNumber, _ name: [UInt8], _ value: [UInt8], mode: XattrMode,
                         by caller: Caller? = nil) throws {
        try checkWritable()
        try checkXattrNamespace(name)
        try meta.setxattr(ino, name, value, mode: mode, by: caller)
    }

    public func removexattr(_ ino: InodeNumber, _ name: [UInt8]) throws {
        try checkWritable()
        try checkXattrNamespace(name)
        try meta.removexattr(ino, name)
    }
}
