import SluiceBase
import SluiceMeta

extension VFS {
    /// Linux's extended attribute namespaces; names outside them are EOPNOTSUPP (as on ext4,
    /// where no handler takes them). The kernel passes every name through FUSE unchecked.
    /// `system.` holds POSIX ACLs, which Sluice does not enforce yet: storing them as plain
    /// attributes would make `cp -a` believe the ACL (and with it the mode) was set, so they
    /// are refused, as on ext4 mounted without ACL support.
    static let xattrNamespaces: [[UInt8]] = ["user.", "trusted.", "security."].map { Array($0.utf8) }

    static func checkXattrNamespace(_ name: [UInt8]) throws {
        guard xattrNamespaces.contains(where: { name.count > $0.count && name.starts(with: $0) }) else {
            throw Errno.notSupported
        }
    }

    public func getxattr(_ ino: InodeNumber, _ name: [UInt8]) throws -> [UInt8] {
        try Self.checkXattrNamespace(name)
        return try meta.getxattr(ino, name)
    }

    public func listxattr(_ ino: InodeNumber) throws -> [[UInt8]] {
        try meta.listxattr(ino)
    }

    public func setxattr(_ ino: InodeNumber, _ name: [UInt8], _ value: [UInt8], mode: XattrMode) throws {
        try checkWritable()
        try Self.checkXattrNamespace(name)
        try meta.setxattr(ino, name, value, mode: mode)
    }

    public func removexattr(_ ino: InodeNumber, _ name: [UInt8]) throws {
        try checkWritable()
        try Self.checkXattrNamespace(name)
        try meta.removexattr(ino, name)
    }
}
