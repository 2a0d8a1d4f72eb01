import CFUSE
import Glibc
import SluiceBase
import SluiceVFS

extension FuseOperations {
    static func installFileOperations(_ ops: inout fuse_lowlevel_ops) {
        ops.open = { req, ino, fi in
            do {
                let (fh, _) = try vfsOf(req).open(InodeNumber(ino), flags: OpenFlags(raw: fi!.pointee.flags))
                fi!.pointee.fh = fh
                // O_DIRECT (glibc names it __O_DIRECT without _GNU_SOURCE) bypasses the page cache.
                if fi!.pointee.flags & __O_DIRECT != 0 { fi!.pointee.direct_io = 1 }
                FuseTiming.end()
                fuse_reply_open(req, fi)
            } catch { FuseReply.error(req, error) }
        }
        ops.create = { req, parent, name, mode, fi in
            do {
                let vfs = vfsOf(req)
                let (fh, e) = try vfs.create(InodeNumber(parent), nameBytes(name), permissions: FilePermissions(mode),
                                             flags: OpenFlags(raw: fi!.pointee.flags), umask: umaskOf(req),
                                             by: callerOf(req))
                fi!.pointee.fh = fh
                // O_DIRECT (glibc names it __O_DIRECT without _GNU_SOURCE) bypasses the page cache.
                if fi!.pointee.flags & __O_DIRECT != 0 { fi!.pointee.direct_io = 1 }
                var p = FuseReply.entryParam(e)
                FuseTiming.end()
                fuse_reply_create(req, &p, fi)
            } catch { FuseReply.error(req, error) }
        }
        ops.read = { req, _, size, off, fi in
            let buffer = ReadBuffers.shared.take(size)
            defer { ReadBuffers.shared.give(buffer) }
            do {
                let n = try vfsOf(req).read(fi!.pointee.fh, offset: UInt64(off),
                                            into: UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: size))
                FuseTiming.end()
                fuse_reply_buf(req, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), n)
            } catch { FuseReply.error(req, error) }
        }
        ops.write = { req, _, buf, size, off, fi in
            do {
                let n = try vfsOf(req).write(fi!.pointee.fh, offset: UInt64(off), data: UnsafeRawBufferPointer(start: buf, count: size))
                FuseTiming.end()
                fuse_reply_write(req, n)
            } catch { FuseReply.error(req, error) }
        }
        ops.flush = { req, _, fi in
            do {
                let vfs = vfsOf(req)
                // close(2) of any descriptor drops the process's POSIX locks on the file.
                try vfs.releasePosixLocks(fi!.pointee.fh, owner: fi!.pointee.lock_owner)
                try vfs.flush(fi!.pointee.fh)
                FuseReply.ok(req)
            } catch { FuseReply.error(req, error) }
        }
        ops.fsync = { req, _, _, fi in
            do { try vfsOf(req).fsync(fi!.pointee.fh); FuseReply.ok(req) } catch { FuseReply.error(req, error) }
        }
        ops.fallocate = { req, _, mode, offset, length, fi in
            do {
                try vfsOf(req).fallocate(fi!.pointee.fh, mode: mode, offset: UInt64(offset), length: UInt64(length))
                FuseReply.ok(req)
            } catch { FuseReply.error(req, error) }
        }
        ops.copy_file_range = { req, _, offIn, fiIn, _, offOut, fiOut, length, _ in
            do {
                let n = try vfsOf(req).copyFileRange(fiIn!.pointee.fh, offsetIn: UInt64(offIn), fiOut!.pointee.fh,
                                                     offsetOut: UInt64(offOut), length: UInt64(length))
                FuseTiming.end()
                fuse_reply_write(req, n)
            } catch { FuseReply.error(req, error) }
        }
        ops.release = { req, _, fi in
            do {
                let vfs = vfsOf(req)
                if fi!.pointee.flock_release != 0 {
                    try? vfs.flock(fi!.pointee.fh, owner: fi!.pointee.lock_owner, kind: .unlock, pid: 0)
                }
                try vfs.release(fi!.pointee.fh)
                FuseReply.ok(req)
            } catch { FuseReply.error(req, error) }
        }
    }

    static func installDirectoryOperations(_ ops: inout fuse_lowlevel_ops) {
        ops.opendir = { req, ino, fi in
            do {
                fi!.pointee.fh = try vfsOf(req).opendir(InodeNumber(ino))
                FuseTiming.end()
                fuse_reply_open(req, fi)
            } catch { FuseReply.error(req, error) }
        }
        ops.releasedir = { req, _, fi in
            vfsOf(req).releasedir(fi!.pointee.fh)
            FuseReply.ok(req)
        }
        ops.fsyncdir = { req, _, _, _ in FuseReply.ok(req) }
        ops.readdir = { req, _, size, off, fi in FuseOperations.listDirectory(req, size: size, offset: off, fh: fi!.pointee.fh, plus: false) }
        ops.readdirplus = { req, _, size, off, fi in FuseOperations.listDirectory(req, size: size, offset: off, fh: fi!.pointee.fh, plus: true) }
    }

    /// Fills one reply buffer with as many entries as fit; the next call resumes at the cookie
    /// of the last entry that fit.
    static func listDirectory(_ req: fuse_req_t?, size: Int, offset: off_t, fh: UInt64, plus: Bool) {
        let buffer = ReadBuffers.shared.take(size)
        defer { ReadBuffers.shared.give(buffer) }
        do {
            // Entries take at least ~32 bytes (plain) or ~150 (plus): ask for about as many as fit.
            let limit = max(1, size / (plus ? 150 : 32))
            let entries = try vfsOf(req).readdir(fh, offset: UInt64(offset), limit: limit, plus: plus)
            var used = 0
            for e in entries {
                let remaining = size - used
                let dst = buffer.baseAddress!.advanced(by: used).assumingMemoryBound(to: CChar.self)
                let needed: Int = e.name.withUnsafeBufferPointer { nb in
                    var name = [CChar](repeating: 0, count: nb.count + 1)
                    for i in 0..<nb.count { name[i] = CChar(bitPattern: nb[i]) }
                    if plus {
                        var p: fuse_entry_param
                        if let entry = e.entry {
                            p = FuseReply.entryParam(entry)
                        } else {
                            p = fuse_entry_param()
                            p.attr.st_ino = UInt(e.inode.rawValue)
                            p.attr.st_mode = e.type.modeBits
                        }
                        return fuse_add_direntry_plus(req, dst, remaining, name, &p, off_t(e.offset))
                    }
                    var st = CFUSE.stat()
                    st.st_ino = UInt(e.inode.rawValue)
                    st.st_mode = e.type.modeBits
                    return fuse_add_direntry(req, dst, remaining, name, &st, off_t(e.offset))
                }
                if needed > remaining { break }
                used += needed
            }
            FuseTiming.end()
            fuse_reply_buf(req, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), used)
        } catch { FuseReply.error(req, error) }
    }
}

/// Reuses reply buffers: allocating one per read request cost measurable throughput.
final class ReadBuffers: Sendable {
    static let shared = ReadBuffers()
    static let standardSize = 1 << 20
    private let free = Locked<[UnsafeMutableRawBufferPointer]>([])

    func take(_ size: Int) -> UnsafeMutableRawBufferPointer {
        if size <= Self.standardSize, let b = free.withLock({ $0.popLast() }) { return b }
        return .allocate(byteCount: max(size, Self.standardSize), alignment: 4096)
    }

    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count == Self.standardSize else { return buffer.deallocate() }
        let kept = free.withLock { list -> Bool in
            // Enough for the requests the kernel's read-ahead keeps in flight; more would only
            // keep idle megabytes resident after a burst.
            guard list.count < 16 else { return false }
            list.append(buffer)
            return true
        }
        if !kept { buffer.deallocate() }
    }
}

/// Extended attributes. The mount also answers virtual names outside the user, trusted,
/// security and system namespaces (so no stored attribute can collide with them):
/// `sluice.meta` (the metadata URL, for `sluice info`), `sluice.pid` (for `sluice umount`) and
/// `sluice.stats` (operation counters, for `sluice bench`) and `sluice.warmup:OFFSET:LENGTH`
/// (for `sluice warmup`). They are never listed.
enum FuseXattr {
    static func install(_ ops: inout fuse_lowlevel_ops) {
        ops.getxattr = { req, ino, name, size in FuseXattr.get(req, InodeNumber(ino), name, size) }
        ops.listxattr = { req, ino, size in
            do {
                var out: [UInt8] = []
                for n in try vfsOf(req).listxattr(InodeNumber(ino)) {
                    out.append(contentsOf: n)
                    out.append(0)
                }
                FuseXattr.reply(req, out, size)
            } catch { FuseReply.error(req, error) }
        }
        ops.setxattr = { req, ino, name, value, size, flags in
            do {
                let mode: XattrMode = flags & 1 != 0 ? .create : flags & 2 != 0 ? .replace : .createOrReplace
                let bytes = size > 0 ? Array(UnsafeRawBufferPointer(start: value, count: size)) : []
                let key = nameBytes(name)
                // Setting an ACL may clear the set-group-ID bit, depending on the caller's groups.
                let caller = key == PosixACL.accessName ? callerWithGroups(req) : nil
                try vfsOf(req).setxattr(InodeNumber(ino), key, bytes, mode: mode, by: caller)
                FuseReply.ok(req)
            } catch { FuseReply.error(req, error) }
        }
        ops.removexattr = { req, ino, name in
            do { try vfsOf(req).removexattr(InodeNumber(ino), nameBytes(name)); FuseReply.ok(req) } catch {
                FuseReply.error(req, error)
            }
        }
    }

    /// Replies with a value or its size, the way getxattr/listxattr ask: size 0 asks for the
    /// length; a buffer too small is ERANGE.
    static func reply(_ req: fuse_req_t?, _ value: [UInt8], _ size: Int) {
        FuseTiming.end()
        if size == 0 { _ = fuse_reply_xattr(req, value.count); return }
        guard size >= value.count else { _ = fuse_reply_err(req, Errno.outOfRange.rawValue); return }
        value.withUnsafeBytes { _ = fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), value.count) }
    }

    static func get(_ req: fuse_req_t?, _ ino: InodeNumber, _ name: UnsafePointer<CChar>?, _ size: Int) {
        let vfs = vfsOf(req)
        let key = nameBytes(name)
        if key.starts(with: Array(warmupPrefix.utf8)) { return warmup(req, ino, String(decoding: key, as: UTF8.self), size) }
        if key.starts(with: Array("sluice.".utf8)) { return virtual(req, String(decoding: key, as: UTF8.self), size) }
        do { reply(req, try vfs.getxattr(ino, key), size) } catch { FuseReply.error(req, error) }
    }

    /// `sluice.warmup:OFFSET:LENGTH` fetches that range of the file into the local caches and
    /// answers the number of file bytes it covered (see `VFS.warmup`). Anyone the kernel let
    /// read the file may ask (it checks read permission for names outside the usual
    /// namespaces); the caller waits while the blocks are fetched.
    static let warmupPrefix = "sluice.warmup:"

    private static func warmup(_ req: fuse_req_t?, _ ino: InodeNumber, _ name: String, _ size: Int) {
        let parts = name.dropFirst(warmupPrefix.count).split(separator: ":")
        guard parts.count == 2, let offset = UInt64(parts[0]), let length = UInt64(parts[1]) else {
            return FuseReply.error(req, Errno.noData)
        }
        do {
            let done = try vfsOf(req).warmup(ino, offset: offset, length: length)
            reply(req, Array(String(done).utf8), size)
        } catch { FuseReply.error(req, error) }
    }

    private static func virtual(_ req: fuse_req_t?, _ name: String, _ size: Int) {
        let server = Unmanaged<FuseServer>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
        let caller = callerOf(req)
        // The URL may carry a password: only root and the mount's owner may read these.
        guard caller.uid == 0 || caller.uid == getuid() else { return FuseReply.error(req, Errno.noData) }
        let text: String
        switch name {
        case "sluice.meta": text = server.metaURL
        case "sluice.pid": text = String(getpid())
        case "sluice.stats": text = OperationStats.render() + "\n" + ProcessUsage.render()
        default: return FuseReply.error(req, Errno.noData)
        }
        reply(req, Array(text.utf8), size)
    }
}
