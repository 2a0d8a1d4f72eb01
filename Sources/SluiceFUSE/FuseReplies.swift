import CFUSE
import Glibc
import SluiceBase
import SluiceVFS

/// Conversions between VFS values and libfuse's C structures, and the reply helpers every
/// operation ends with. Errors are mapped to errno here, once.
enum FuseReply {
    static func stat(_ ino: InodeNumber, _ a: InodeAttributes) -> stat {
        var st = CFUSE.stat()
        st.st_ino = UInt(ino.rawValue)
        st.st_mode = a.mode
        st.st_nlink = UInt(a.nlink)
        st.st_uid = a.uid
        st.st_gid = a.gid
        st.st_rdev = UInt(a.rdev)
        st.st_size = Int(truncatingIfNeeded: a.size)
        st.st_blksize = 4096
        st.st_blocks = Int((a.size + 511) / 512)
        st.st_atim = timespec(tv_sec: Int(a.atime.seconds), tv_nsec: Int(a.atime.nanoseconds))
        st.st_mtim = timespec(tv_sec: Int(a.mtime.seconds), tv_nsec: Int(a.mtime.nanoseconds))
        st.st_ctim = timespec(tv_sec: Int(a.ctime.seconds), tv_nsec: Int(a.ctime.nanoseconds))
        return st
    }

    static func entryParam(_ e: Entry) -> fuse_entry_param {
        var p = fuse_entry_param()
        p.ino = e.inode.rawValue
        p.generation = 1
        p.attr = stat(e.inode, e.attributes)
        p.attr_timeout = e.attributeTimeout
        p.entry_timeout = e.entryTimeout
        return p
    }

    static func error(_ req: fuse_req_t?, _ error: any Error) {
        let errno = Errno.from(error)
        if errno == .ioError, !(error is Errno) { FuseLog.error("\(error)") }
        FuseTiming.end()
        fuse_reply_err(req, errno.rawValue)
    }

    static func entry(_ req: fuse_req_t?, _ e: Entry) {
        var p = entryParam(e)
        FuseTiming.end()
        fuse_reply_entry(req, &p)
    }

    static func attr(_ req: fuse_req_t?, _ e: Entry) {
        var st = stat(e.inode, e.attributes)
        FuseTiming.end()
        fuse_reply_attr(req, &st, e.attributeTimeout)
    }

    static func ok(_ req: fuse_req_t?) {
        FuseTiming.end()
        fuse_reply_err(req, 0)
    }
}

/// The file system object behind a request.
@inline(__always) func vfsOf(_ req: fuse_req_t?) -> VFS {
    FuseTiming.begin()
    return Unmanaged<FuseServer>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue().vfs
}

/// The calling process's identity.
@inline(__always) func callerOf(_ req: fuse_req_t?) -> Caller {
    let ctx = fuse_req_ctx(req)!.pointee
    return Caller(uid: ctx.uid, gid: ctx.gid, pid: UInt32(bitPattern: ctx.pid))
}

/// The caller's umask when Sluice applies it (see `FuseServer.appliesUmask`), else nil.
func umaskOf(_ req: fuse_req_t?) -> UInt16? {
    let server = Unmanaged<FuseServer>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    guard server.appliesUmask.withLock({ $0 }) else { return nil }
    return UInt16(fuse_req_ctx(req)!.pointee.umask & 0o777)
}

/// The caller with its supplementary groups (read by libfuse from /proc: only where needed).
func callerWithGroups(_ req: fuse_req_t?) -> Caller {
    var caller = callerOf(req)
    var groups = [gid_t](repeating: 0, count: 64)
    var n = fuse_req_getgroups(req, Int32(groups.count), &groups)
    if n > groups.count {
        groups = [gid_t](repeating: 0, count: Int(n))
        n = fuse_req_getgroups(req, Int32(groups.count), &groups)
    }
    if n > 0 { caller.groups = Array(groups.prefix(Int(n))) }
    return caller
}

@inline(__always) func nameBytes(_ name: UnsafePointer<CChar>?) -> [UInt8] {
    guard let name else { return [] }
    return Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
}

enum FuseLog {
    static func error(_ message: String) {
        let bytes = Array("sluice: \(message)\n".utf8)
        bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
