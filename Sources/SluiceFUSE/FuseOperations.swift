import CFUSE
import SluiceBase
import SluiceVFS

/// The libfuse low-level operation table. Each callback is a C function pointer that captures
/// nothing: it finds the VFS through the request's userdata, calls it synchronously on the FUSE
/// worker thread (cheap operations answer fastest there, and libfuse's threads are the ones
/// made for blocking work), and replies.
enum FuseOperations {
    static func table() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            guard let conn else { return }
            let server = Unmanaged<FuseServer>.fromOpaque(userdata!).takeUnretainedValue()
            server.configure(conn)
        }
        ops.lookup = { req, parent, name in
            do { FuseReply.entry(req, try vfsOf(req).lookup(InodeNumber(parent), nameBytes(name))) } catch {
                FuseReply.error(req, error)
            }
        }
        // Inode numbers are stable and held in metadata: there is no per-lookup state to drop.
        ops.forget = { req, _, _ in fuse_reply_none(req) }
        ops.forget_multi = { req, _, _ in fuse_reply_none(req) }
        ops.getattr = { req, ino, _ in
            do { FuseReply.attr(req, try vfsOf(req).getattr(InodeNumber(ino))) } catch { FuseReply.error(req, error) }
        }
        ops.setattr = { req, ino, attr, toSet, _ in
            do {
                let changes = FuseOperations.attributeChanges(attr!.pointee, toSet)
                FuseReply.attr(req, try vfsOf(req).setattr(InodeNumber(ino), changes))
            } catch { FuseReply.error(req, error) }
        }
        ops.readlink = { req, ino in
            do {
                var target = try vfsOf(req).readlink(InodeNumber(ino))
                target.append(0)
                FuseTiming.end()
                target.withUnsafeBufferPointer { p in
                    p.withMemoryRebound(to: CChar.self) { _ = fuse_reply_readlink(req, $0.baseAddress) }
                }
            } catch { FuseReply.error(req, error) }
        }
        ops.mknod = { req, parent, name, mode, rdev in
            do {
                guard let type = FileType(modeBits: mode) else { throw Errno.invalidArgument }
                let e = try vfsOf(req).mknod(InodeNumber(parent), nameBytes(name), type: type,
                                             permissions: FilePermissions(mode), rdev: UInt32(truncatingIfNeeded: rdev),
                                             umask: umaskOf(req), by: callerOf(req))
                FuseReply.entry(req, e)
            } catch { FuseReply.error(req, error) }
        }
        ops.mkdir = { req, parent, name, mode in
            do {
                let e = try vfsOf(req).mkdir(InodeNumber(parent), nameBytes(name), permissions: FilePermissions(mode),
                                             umask: umaskOf(req), by: callerOf(req))
                FuseReply.entry(req, e)
            } catch { FuseReply.error(req, error) }
        }
        ops.unlink = { req, parent, name in
            do { try vfsOf(req).unlink(InodeNumber(parent), nameBytes(name)); FuseReply.ok(req) } catch {
                FuseReply.error(req, error)
            }
        }
        ops.rmdir = { req, parent, name in
            do { try vfsOf(req).rmdir(InodeNumber(parent), nameBytes(name)); FuseReply.ok(req) } catch {
                FuseReply.error(req, error)
            }
        }
        ops.symlink = { req, link, parent, name in
            do {
                let e = try vfsOf(req).symlink(InodeNumber(parent), nameBytes(name), target: nameBytes(link), by: callerOf(req))
                FuseReply.entry(req, e)
            } catch { FuseReply.error(req, error) }
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            do {
                try vfsOf(req).rename(InodeNumber(parent), nameBytes(name), InodeNumber(newParent), nameBytes(newName),
                                      flags: RenameFlags(rawValue: UInt32(flags)))
                FuseReply.ok(req)
            } catch { FuseReply.error(req, error) }
        }
        ops.link = { req, ino, newParent, newName in
            do { FuseReply.entry(req, try vfsOf(req).link(InodeNumber(ino), InodeNumber(newParent), nameBytes(newName))) } catch {
                FuseReply.error(req, error)
            }
        }
        ops.statfs = { req, _ in
            do {
                let u = try vfsOf(req).statfs()
                var st = statvfs()
                st.f_bsize = 4096
                st.f_frsize = 4096
                st.f_blocks = UInt(u.totalBytes / 4096)
                let free = UInt(u.totalBytes > u.usedBytes ? (u.totalBytes - u.usedBytes) / 4096 : 0)
                st.f_bfree = free
                st.f_bavail = free
                st.f_files = UInt(u.totalInodes)
                let freeInodes = UInt(u.totalInodes > u.usedInodes ? u.totalInodes - u.usedInodes : 0)
                st.f_ffree = freeInodes
                st.f_favail = freeInodes
                st.f_namemax = UInt(Layout.maxNameLength)
                FuseTiming.end()
                fuse_reply_statfs(req, &st)
            } catch { FuseReply.error(req, error) }
        }
        ops.access = { req, ino, mask in
            do { try vfsOf(req).access(InodeNumber(ino), mask: UInt32(mask), by: callerOf(req)); FuseReply.ok(req) } catch {
                FuseReply.error(req, error)
            }
        }
        FuseXattr.install(&ops)
        FuseLocks.install(&ops)
        installFileOperations(&ops)
        installDirectoryOperations(&ops)
        return ops
    }

    static func attributeChanges(_ st: stat, _ toSet: Int32) -> AttributeChanges {
        var c = AttributeChanges()
        if toSet & FUSE_SET_ATTR_MODE != 0 { c.permissions = FilePermissions(st.st_mode) }
        if toSet & FUSE_SET_ATTR_UID != 0 { c.uid = st.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { c.gid = st.st_gid }
        if toSet & FUSE_SET_ATTR_SIZE != 0 { c.size = UInt64(max(0, st.st_size)) }
        if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 {
            c.atime = .now
        } else if toSet & FUSE_SET_ATTR_ATIME != 0 {
            c.atime = .at(Timespec(seconds: Int64(st.st_atim.tv_sec), nanoseconds: UInt32(st.st_atim.tv_nsec)))
        }
        if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 {
            c.mtime = .now
        } else if toSet & FUSE_SET_ATTR_MTIME != 0 {
            c.mtime = .at(Timespec(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: UInt32(st.st_mtim.tv_nsec)))
        }
        if toSet & FUSE_SET_ATTR_CTIME != 0 {
            c.ctime = Timespec(seconds: Int64(st.st_ctim.tv_sec), nanoseconds: UInt32(st.st_ctim.tv_nsec))
        }
        return c
    }
}
