import SluiceBase

/// Classic UNIX permission checks (owner, group, other; root may do anything except execute a
/// file with no execute bit at all).
enum Permissions {
    static func check(_ attr: InodeAttributes, mask: UInt32, caller: Caller) throws {
        guard mask != 0 else { return }
        let bits = UInt32(attr.permissions.rawValue)
        if caller.uid == 0 {
            if mask & 1 != 0 && attr.type != .directory && bits & 0o111 == 0 { throw Errno.permissionDenied }
            return
        }
        let granted: UInt32
        if caller.uid == attr.uid {
            granted = (bits >> 6) & 7
        } else if caller.isMember(of: attr.gid) {
            granted = (bits >> 3) & 7
        } else {
            granted = bits & 7
        }
        if granted & mask != mask { throw Errno.permissionDenied }
    }
}
