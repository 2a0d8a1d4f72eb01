/// Value types of file system operations, shared by the metadata layer, the VFS and the
/// adapters (which see the VFS only).

/// Flags of rename(2)/renameat2(2).
public struct RenameFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// RENAME_NOREPLACE: fail with EEXIST when the target exists.
    public static let noReplace = RenameFlags(rawValue: 1)
    /// RENAME_EXCHANGE: swap source and target atomically.
    public static let exchange = RenameFlags(rawValue: 2)
}

/// How `setxattr` treats an existing attribute (XATTR_CREATE / XATTR_REPLACE).
public enum XattrMode: Sendable {
    case createOrReplace
    /// Fail with EEXIST when the attribute exists.
    case create
    /// Fail with ENODATA when it does not.
    case replace
}

/// Which attributes `setattr` changes.
public struct AttributeChanges: Sendable {
    public var permissions: FilePermissions?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: UInt64?
    public var atime: TimeChange?
    public var mtime: TimeChange?
    public var ctime: Timespec?

    public init(permissions: FilePermissions? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: UInt64? = nil,
                atime: TimeChange? = nil, mtime: TimeChange? = nil, ctime: Timespec? = nil) {
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
    }
}

/// A new timestamp: a given time, or the time of the operation (UTIME_NOW).
public enum TimeChange: Sendable, Equatable {
    case now
    case at(Timespec)
}

/// What statfs reports.
public struct VolumeUsage: Sendable, Equatable {
    public init(totalBytes: UInt64, usedBytes: UInt64, totalInodes: UInt64, usedInodes: UInt64) {
        self.totalBytes = totalBytes
        self.usedBytes = usedBytes
        self.totalInodes = totalInodes
        self.usedInodes = usedInodes
    }

    public var totalBytes: UInt64
    public var usedBytes: UInt64
    public var totalInodes: UInt64
    public var usedInodes: UInt64
}

/// A byte-range lock as fcntl(2) describes it: [start, end] inclusive; `end == UInt64.max`
/// reaches to the end of any file.
public struct RangeLock: Sendable, Hashable {
    public enum Kind: UInt8, Sendable { case read = 1, write = 2, unlock = 3 }
    public var kind: Kind
    public var start: UInt64
    public var end: UInt64
    /// The process holding it, as reported by F_GETLK.
    public var pid: UInt32

    public init(kind: Kind, start: UInt64, end: UInt64, pid: UInt32) {
        self.kind = kind
        self.start = start
        self.end = end
        self.pid = pid
    }

    public func overlaps(_ o: RangeLock) -> Bool { start <= o.end && o.start <= end }
}
