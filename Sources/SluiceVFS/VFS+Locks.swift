import SluiceBase
import SluiceMeta

extension VFS {
    /// flock(2) on the file of handle `fh` for `owner`; EAGAIN when another owner conflicts.
    public func flock(_ fh: UInt64, owner: UInt64, kind: RangeLock.Kind, pid: UInt32) throws {
        let handle = try files.get(fh)
        try meta.flock(handle.inode, owner: owner, kind: kind, pid: pid)
    }

    /// F_GETLK: a conflicting lock of another owner, or nil.
    public func getlk(_ fh: UInt64, owner: UInt64, probe: RangeLock) throws -> RangeLock? {
        let handle = try files.get(fh)
        return try meta.getlk(handle.inode, owner: owner, probe: probe)
    }

    /// F_SETLK; EAGAIN when another owner conflicts.
    public func setlk(_ fh: UInt64, owner: UInt64, lock: RangeLock) throws {
        let handle = try files.get(fh)
        try meta.setlk(handle.inode, owner: owner, lock: lock)
    }

    /// POSIX locks of `owner` go when it closes any descriptor of the file.
    public func releasePosixLocks(_ fh: UInt64, owner: UInt64) throws {
        let handle = try files.get(fh)
        try meta.releasePosixLocks(handle.inode, owner: owner)
    }
}
