/// A POSIX.1e access control list in Linux's extended attribute form (the value of
/// `system.posix_acl_access` and `system.posix_acl_default`), with the rules Linux applies
/// between an ACL and the file mode (`fs/posix_acl.c`): equivalence, chmod, and inheritance
/// from a directory's default ACL at create.
///
/// The binary format: a little-endian 32-bit version (2), then 8 bytes per entry: tag (16 bits),
/// permissions (16 bits, rwx = 4|2|1), id (32 bits; uid or gid for named entries, otherwise
/// 0xFFFFFFFF).
public struct PosixACL: Equatable, Sendable {
    public static let accessName: [UInt8] = Array("system.posix_acl_access".utf8)
    public static let defaultName: [UInt8] = Array("system.posix_acl_default".utf8)
    public static let version: UInt32 = 2
    public static let undefinedID: UInt32 = 0xFFFF_FFFF

    public enum Tag: UInt16, Sendable, Comparable {
        case userObj = 0x01, user = 0x02, groupObj = 0x04, group = 0x08, mask = 0x10, other = 0x20
        public static func < (a: Tag, b: Tag) -> Bool { a.rawValue < b.rawValue }
    }

    public struct Entry: Equatable, Sendable {
        public var tag: Tag
        /// rwx bits (0...7).
        public var perm: UInt16
        /// uid or gid of a named entry; `undefinedID` for the others.
        public var id: UInt32

        public init(_ tag: Tag, _ perm: UInt16, id: UInt32 = PosixACL.undefinedID) {
            self.tag = tag
            self.perm = perm
            self.id = (tag == .user || tag == .group) ? id : PosixACL.undefinedID
        }
    }

    /// In canonical order: owner, named users by uid, owning group, named groups by gid, mask,
    /// other.
    public private(set) var entries: [Entry]

    /// Checks the entries the way Linux's `posix_acl_valid` does (plus sorted, unique ids, as
    /// POSIX requires): EINVAL when they do not form a valid ACL.
    public init(entries: [Entry]) throws {
        try Self.validate(entries)
        self.entries = entries
    }

    /// The minimal ACL of a mode: owner, group and other entries from its rwx bits.
    public init(mode: UInt16) {
        entries = [Entry(.userObj, (mode >> 6) & 7), Entry(.groupObj, (mode >> 3) & 7), Entry(.other, mode & 7)]
    }

    /// Parses an extended attribute value; EINVAL for a wrong version, a length that is not a
    /// whole number of entries, unknown tags or permission bits, or entries out of order.
    /// An empty ACL (no entries) is EINVAL too: the kernel turns it into a removal before it
    /// reaches a file system.
    public init(parsing bytes: [UInt8]) throws {
        guard bytes.count >= 4, (bytes.count - 4) % 8 == 0 else { throw Errno.invalidArgument }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        guard u32(0) == Self.version else { throw Errno.invalidArgument }
        var entries: [Entry] = []
        var at = 4
        while at < bytes.count {
            guard let tag = Tag(rawValue: u16(at)) else { throw Errno.invalidArgument }
            let perm = u16(at + 2)
            guard perm & ~7 == 0 else { throw Errno.invalidArgument }
            let id = u32(at + 4)
            entries.append(Entry(tag, perm, id: id))
            at += 8
        }
        try self.init(entries: entries)
    }

    static func validate(_ entries: [Entry]) throws {
        guard !entries.isEmpty else { throw Errno.invalidArgument }
        // Tags must appear in canonical order, each of owner, owning group, mask and other at
        // most once; owner, owning group and other exactly once; a mask whenever there are
        // named entries.
        var previous: Entry?
        var counts: [Tag: Int] = [:]
        for e in entries {
            guard e.perm & ~7 == 0 else { throw Errno.invalidArgument }
            if let p = previous {
                guard p.tag <= e.tag else { throw Errno.invalidArgument }
                if p.tag == e.tag {
                    guard e.tag == .user || e.tag == .group, p.id < e.id else { throw Errno.invalidArgument }
                }
            }
            counts[e.tag, default: 0] += 1
            previous = e
        }
        guard counts[.userObj] == 1, counts[.groupObj] == 1, counts[.other] == 1, (counts[.mask] ?? 0) <= 1 else {
            throw Errno.invalidArgument
        }
        let named = (counts[.user] ?? 0) + (counts[.group] ?? 0)
        if named > 0 && counts[.mask] == nil { throw Errno.invalidArgument }
    }

    /// The extended attribute value.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + 8 * entries.count)
        func u16(_ v: UInt16) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        func u32(_ v: UInt32) { u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16)) }
        u32(Self.version)
        for e in entries {
            u16(e.tag.rawValue)
            u16(e.perm)
            u32(e.id)
        }
        return out
    }

    /// Whether the ACL says no more than the mode bits: only owner, owning group and other
    /// entries (a mask entry alone already makes an ACL extended, as in `posix_acl_equiv_mode`).
    public var isMinimal: Bool { entries.allSatisfy { $0.tag == .userObj || $0.tag == .groupObj || $0.tag == .other } }

    /// The rwx bits (0o777) the ACL implies for the file mode: owner and other from their
    /// entries, the group bits from the mask when there is one, else from the owning group.
    public var modeBits: UInt16 {
        var mode: UInt16 = 0
        for e in entries {
            switch e.tag {
            case .userObj: mode |= e.perm << 6
            case .groupObj: if !entries.contains(where: { $0.tag == .mask }) { mode |= e.perm << 3 }
            case .mask: mode |= e.perm << 3
            case .other: mode |= e.perm
            case .user, .group: break
            }
        }
        return mode
    }

    /// The mode bits when the ACL is equivalent to them (nothing to store), otherwise nil.
    public var equivalentMode: UInt16? { isMinimal ? modeBits : nil }

    /// The ACL after chmod to `mode` (`posix_acl_chmod`): owner and other take the new bits;
    /// the mask, or the owning group when there is no mask, takes the group bits. Named
    /// entries keep theirs (the mask limits them).
    public func chmod(_ mode: UInt16) -> PosixACL {
        var copy = self
        let hasMask = entries.contains { $0.tag == .mask }
        for i in copy.entries.indices {
            switch copy.entries[i].tag {
            case .userObj: copy.entries[i].perm = (mode >> 6) & 7
            case .other: copy.entries[i].perm = mode & 7
            case .mask: copy.entries[i].perm = (mode >> 3) & 7
            case .groupObj: if !hasMask { copy.entries[i].perm = (mode >> 3) & 7 }
            case .user, .group: break
            }
        }
        return copy
    }

    /// What a node created with the requested `mode` in a directory with this default ACL
    /// gets (`posix_acl_create`): its access ACL is this ACL with owner, mask (or owning group)
    /// and other limited by the mode, and the mode is limited by those entries in turn. The
    /// access ACL is nil when it is equivalent to the resulting mode. The umask plays no part.
    /// Bits outside 0o777 of `mode` (set-id, sticky) are kept.
    public func inherited(mode: UInt16) -> (access: PosixACL?, mode: UInt16) {
        var acl = self
        var m = mode & 0o777
        let hasMask = entries.contains { $0.tag == .mask }
        for i in acl.entries.indices {
            switch acl.entries[i].tag {
            case .userObj:
                acl.entries[i].perm &= (m >> 6) & 7
                m &= (acl.entries[i].perm << 6) | ~UInt16(0o700)
            case .other:
                acl.entries[i].perm &= m & 7
                m &= acl.entries[i].perm | ~UInt16(0o007)
            case .mask:
                acl.entries[i].perm &= (m >> 3) & 7
                m &= (acl.entries[i].perm << 3) | ~UInt16(0o070)
            case .groupObj:
                if !hasMask {
                    acl.entries[i].perm &= (m >> 3) & 7
                    m &= (acl.entries[i].perm << 3) | ~UInt16(0o070)
                }
            case .user, .group:
                break
            }
        }
        let newMode = (mode & ~UInt16(0o777)) | m
        return (acl.isMinimal ? nil : acl, newMode)
    }
}
