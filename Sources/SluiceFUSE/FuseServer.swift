import CFUSE
import Foundation
import SluiceBase
import SluiceVFS

/// Options of one FUSE mount.
public struct FuseOptions: Sendable {
    /// Extra `-o` options passed to libfuse (e.g. `allow_other`, `debug`).
    public var extra: [String] = []
    /// Worker threads libfuse may run at once.
    public var maxThreads = 32
    /// What `mount` shows as the source, e.g. `sluice:myvol`.
    public var fsName = "sluice"
    public var readOnly = false

    public init() {}
}

/// Mounts a VFS through the libfuse low-level API and serves it until unmounted.
public final class FuseServer: @unchecked Sendable {
    // @unchecked: `session` is set once before the loop starts and read after it ends.
    public let vfs: VFS
    let metaURL: String
    let options: FuseOptions
    private var session: OpaquePointer?
    /// Whether the kernel leaves the umask to Sluice (FUSE_CAP_DONT_MASK granted, volumes with
    /// ACLs): set in `configure`, before any request.
    let appliesUmask = Locked(false)

    public init(vfs: VFS, metaURL: String, options: FuseOptions) {
        self.vfs = vfs
        self.metaURL = metaURL
        self.options = options
    }

    /// Mounts at `mountPoint`. Throws `UsageError` when libfuse refuses.
    public func mount(at mountPoint: String) throws {
        // max_read must be given both as a mount option and in init(): libfuse ends the session
        // when the two differ.
        var opts = ["fsname=\(options.fsName)", "subtype=sluice", "default_permissions", "max_read=\(1 << 20)"]
        if getuid() == 0 {
            // libfuse mounts nodev,nosuid by default; a root mount behaves like a local disk
            // (ext4 mounts dev,suid): device nodes open their devices, set-id programs run.
            opts.append(contentsOf: ["allow_other", "dev", "suid"])
        }
        if options.readOnly { opts.append("ro") }
        opts.append(contentsOf: options.extra)
        let argv = ["sluice", "-o", opts.joined(separator: ",")]
        var cArgs = argv.map { strdup($0) }
        defer { cArgs.forEach { free($0) } }
        var ops = FuseOperations.table()
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        let se = cArgs.withUnsafeMutableBufferPointer { buf -> OpaquePointer? in
            var args = fuse_args(argc: Int32(buf.count), argv: buf.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, userdata)
        }
        guard let se else { throw UsageError("libfuse refused the mount options: \(opts.joined(separator: ","))") }
        guard fuse_set_signal_handlers(se) == 0 else {
            fuse_session_destroy(se)
            throw UsageError("cannot install signal handlers")
        }
        guard fuse_session_mount(se, mountPoint) == 0 else {
            fuse_remove_signal_handlers(se)
            fuse_session_destroy(se)
            throw UsageError("cannot mount at \(mountPoint) (is /dev/fuse available and fusermount3 installed?)")
        }
        session = se
        raiseReadAhead(mountPoint)
    }

    /// Serves requests until the file system is unmounted or a signal arrives; then unmounts.
    public func run() -> Int32 {
        guard let se = session else { return 1 }
        let cfg = fuse_loop_cfg_create()
        fuse_loop_cfg_set_max_threads(cfg, UInt32(options.maxThreads))
        fuse_loop_cfg_set_clone_fd(cfg, 0)
        let rc = fuse_session_loop_mt(se, cfg)
        fuse_loop_cfg_destroy(cfg)
        fuse_session_unmount(se)
        fuse_remove_signal_handlers(se)
        fuse_session_destroy(se)
        session = nil
        return rc
    }

    func configure(_ conn: UnsafeMutablePointer<fuse_conn_info>) {
        var want = conn.pointee.want
        for cap in [FUSE_CAP_ASYNC_READ, FUSE_CAP_ATOMIC_O_TRUNC, FUSE_CAP_READDIRPLUS, FUSE_CAP_PARALLEL_DIROPS,
                    FUSE_CAP_AUTO_INVAL_DATA, FUSE_CAP_POSIX_LOCKS, FUSE_CAP_FLOCK_LOCKS] where conn.pointee.capable & UInt32(cap) != 0 {
            want |= UInt32(cap)
        }
        // Sending every read of a cached directory as readdirplus makes `ls` fetch attributes
        // it already has; let the kernel choose.
        want |= UInt32(FUSE_CAP_READDIRPLUS_AUTO) & conn.pointee.capable
        want &= ~UInt32(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_READ)
        if vfs.settings.acl {
            // The kernel caches and checks ACLs; Sluice keeps mode and ACL in step and applies
            // default ACLs at create, which needs the unmasked mode: the umask (passed along in
            // every create) is applied by Sluice only where no default ACL exists.
            let acl = UInt32(FUSE_CAP_POSIX_ACL), dontMask = UInt32(FUSE_CAP_DONT_MASK)
            if conn.pointee.capable & acl != 0 {
                want |= acl
            } else {
                FuseLog.error("the kernel offers no POSIX ACL support: ACLs are not enforced on this mount")
            }
            if conn.pointee.capable & dontMask != 0 {
                want |= dontMask
                appliesUmask.withLock { $0 = true }
            }
        }
        conn.pointee.want = want
        // libfuse 3.14 sizes its receive buffer for 1 MiB writes; larger ends the session.
        conn.pointee.max_write = 1 << 20
        conn.pointee.max_read = 1 << 20
        conn.pointee.max_readahead = 1 << 20
        conn.pointee.max_background = 64
        conn.pointee.congestion_threshold = 48
    }

    /// The kernel's read-ahead for a FUSE mount is capped by its backing device setting
    /// (128 KiB by default); raising it speeds up cold sequential reads considerably. The
    /// device number comes from mountinfo: a stat of the mount point would wait for this very
    /// process to answer.
    private func raiseReadAhead(_ mountPoint: String) {
        guard let device = MountTable.device(of: mountPoint) else { return }
        try? "1024".write(toFile: "/sys/class/bdi/\(device)/read_ahead_kb", atomically: false, encoding: .utf8)
    }
}

/// Reads /proc/self/mountinfo.
public enum MountTable {
    /// One mounted file system.
    public struct Mount: Sendable {
        public var device: String
        public var mountPoint: String
        public var fsType: String
        public var source: String
    }

    public static func mounts() -> [Mount] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count >= 10, let dash = parts.firstIndex(of: "-"), dash + 2 < parts.count else { return nil }
            return Mount(device: String(parts[2]), mountPoint: unescape(String(parts[4])),
                         fsType: String(parts[dash + 1]), source: unescape(String(parts[dash + 2])))
        }
    }

    /// The `major:minor` device of the file system mounted at `path`, if any.
    public static func device(of path: String) -> String? {
        mounts().last { $0.mountPoint == path }?.device
    }

    /// Whether something is mounted exactly at `path`.
    public static func isMountPoint(_ path: String) -> Bool { mounts().contains { $0.mountPoint == path } }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = [UInt8]()
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
