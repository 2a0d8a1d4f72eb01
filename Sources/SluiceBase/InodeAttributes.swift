/// The attributes of one inode, as the metadata engine stores them.
public struct InodeAttributes: Hashable, Sendable {
    public var type: FileType
    public var permissions: FilePermissions
    public var uid: UInt32
    public var gid: UInt32
    /// Length in bytes for regular files and symlinks; 4096 for directories.
    public var size: UInt64
    public var nlink: UInt32
    public var atime: Timespec
    public var mtime: Timespec
    public var ctime: Timespec
    /// Device number for block and character devices.
    public var rdev: UInt32
    /// The parent directory of a directory (directories have exactly one); zero otherwise.
    public var parent: InodeNumber

    public init(type: FileType, permissions: FilePermissions, uid: UInt32, gid: UInt32,
                size: UInt64 = 0, nlink: UInt32 = 1, atime: Timespec, mtime: Timespec, ctime: Timespec,
                rdev: UInt32 = 0, parent: InodeNumber = InodeNumber(0)) {
        self.type = type
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.size = size
        self.nlink = nlink
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.rdev = rdev
        self.parent = parent
    }

    /// The full `st_mode`: type bits and permission bits.
    public var mode: UInt32 { type.modeBits | UInt32(permissions.rawValue) }
}

/// Who performs an operation: the identity the kernel reports for the calling process.
public struct Caller: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: UInt32
    /// Supplementary groups, when known.
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, pid: UInt32 = 0, groups: [UInt32] = []) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.groups = groups
    }

    public static let root = Caller(uid: 0, gid: 0)

    public func isMember(of group: UInt32) -> Bool { gid == group || groups.contains(group) }
}
