import SluiceBase


extension MetaClient {
    /// Linux's limits: names up to 255 bytes, values up to 64 KiB.
    public static let maxXattrName = 255
    public static let maxXattrValue = 65536

    public func getxattr(_ ino: InodeNumber, _ name: [UInt8]) throws -> [UInt8] {
        try engine.read { tx in
            if let v = try tx.get(MetaKeys.xattr(ino, name)) { return v }
            _ = try Self.attr(ino, in: tx)
            throw Errno.noData
        }
    }

    /// Names of all extended attributes of `ino`, in byte order.
    public func listxattr(_ ino: InodeNumber) throws -> [[UInt8]] {
        try engine.read { tx in
            _ = try Self.attr(ino, in: tx)
            let prefix = MetaKeys.xattrPrefix(ino)
            var names: [[UInt8]] = []
            var after: [UInt8]?
            while true {
                let page = try tx.scan(prefix: prefix, after: after, limit: 256)
                names.append(contentsOf: page.map { Array($0.key[prefix.count...]) })
                guard page.count == 256, let last = page.last else { return names }
                after = last.key
            }
        }
    }

    /// Sets an extended attribute. The POSIX ACL names take the ACL rules instead (see
    /// `setACL`); `caller` decides there whether the set-group-ID bit survives.
    public func setxattr(_ ino: InodeNumber, _ name: [UInt8], _ value: [UInt8], mode: XattrMode,
                         by caller: Caller? = nil) throws {
        guard !name.isEmpty, !name.contains(0) else { throw Errno.invalidArgument }
        guard name.count <= Self.maxXattrName else { throw Errno.outOfRange }
        guard value.count <= Self.maxXattrValue else { throw Errno.argListTooLong }
        if name == PosixACL.accessName || name == PosixACL.defaultName {
            return try setACL(ino, name, value, mode: mode, by: caller)
        }
        try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            let key = MetaKeys.xattr(ino, name)
            let exists = try tx.get(key) != nil
            if mode == .create && exists { throw Errno.fileExists }
            if mode == .replace && !exists { throw Errno.noData }
            try tx.set(key, value)
            attr.ctime = Timespec.now()
            try Self.put(ino, attr, in: tx)
        }
    }

    public func removexattr(_ ino: InodeNumber, _ name: [UInt8]) throws {
        try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            let key = MetaKeys.xattr(ino, name)
            guard try tx.get(key) != nil else { throw Errno.noData }
            try tx.delete(key)
            attr.ctime = Timespec.now()
            try Self.put(ino, attr, in: tx)
        }
    }
}
