/// The kind of an inode. Raw values are stored in metadata: never renumber.
public enum FileType: UInt8, Sendable, CaseIterable {
    case regular = 1
    case directory = 2
    case symlink = 3
    case fifo = 4
    case blockDevice = 5
    case characterDevice = 6
    case socket = 7

    /// The `S_IFMT` bits of this type.
    public var modeBits: UInt32 {
        switch self {
        case .regular: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .fifo: return 0o010000
        case .blockDevice: return 0o060000
        case .characterDevice: return 0o020000
        case .socket: return 0o140000
        }
    }

    /// The type named by the `S_IFMT` bits of a full mode, or nil.
    public init?(modeBits mode: UInt32) {
        switch mode & 0o170000 {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o120000: self = .symlink
        case 0o010000: self = .fifo
        case 0o060000: self = .blockDevice
        case 0o020000: self = .characterDevice
        case 0o140000: self = .socket
        default: return nil
        }
    }

    /// The `DT_*` value readdir reports.
    public var direntType: UInt8 {
        switch self {
        case .regular: return 8
        case .directory: return 4
        case .symlink: return 10
        case .fifo: return 1
        case .blockDevice: return 6
        case .characterDevice: return 2
        case .socket: return 12
        }
    }
}

/// Permission bits of an inode: rwx for owner, group and other, plus setuid, setgid, sticky.
public struct FilePermissions: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0o7777 }
    public init(_ rawValue: UInt32) { self.rawValue = UInt16(rawValue & 0o7777) }
    public static let setUID = FilePermissions(rawValue: 0o4000)
    public static let setGID = FilePermissions(rawValue: 0o2000)
    public static let sticky = FilePermissions(rawValue: 0o1000)
    public func contains(_ other: FilePermissions) -> Bool { rawValue & other.rawValue == other.rawValue }
}
