#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceBase

/// Opens object stores by the name users give with `--storage` and `--bucket`.
public enum ObjectStores {
    /// The storage names `open` accepts.
    public static let supported = ["file", "mem"]

    /// Opens the store `storage` at `bucket`:
    /// - `file`: a `LocalStore` at the directory `bucket` (a path or `file:///path`; empty means
    ///   `defaultBucketRoot`), created if missing and checked to be writable.
    /// - `mem`: a `MemoryStore` shared by every `open` of the same bucket name in this process.
    ///
    /// Throws `UsageError` for an unknown storage or a directory that cannot be written.
    public static func open(storage: String, bucket: String) throws -> any ObjectStore {
        switch storage {
        case "file":
            return try openLocal(bucket)
        case "mem":
            return memoryStores.withLock { stores in
                if let existing = stores[bucket] { return existing }
                let store = MemoryStore(name: bucket)
                stores[bucket] = store
                return store
            }
        default:
            throw UsageError("unsupported storage \"\(storage)\" (supported: \(supported.joined(separator: ", ")))")
        }
    }

    /// Where `file` volumes live when no bucket is given: `$HOME/.sluice/local`, or
    /// `/var/lib/sluice/local` when HOME is unset.
    public static var defaultBucketRoot: String {
        if let home = getenv("HOME"), home.pointee != 0 {
            return String(cString: home) + "/.sluice/local"
        }
        return "/var/lib/sluice/local"
    }

    /// Memory stores by bucket name, so two opens in one process see the same objects.
    private static let memoryStores = Locked<[String: MemoryStore]>([:])

    private static func openLocal(_ bucket: String) throws -> LocalStore {
        var path = bucket
        if path.hasPrefix("file://") { path.removeFirst("file://".count) }
        if path.isEmpty { path = defaultBucketRoot }
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let store = LocalStore(root: path)
        func notWritable(_ code: Int32) -> UsageError {
            UsageError("bucket directory \(path) is not writable: \(String(cString: strerror(code)))")
        }
        let code = store.makeDirectories(path)
        if code != 0 { throw notWritable(code) }
        // Writing is what a store must do, so try it now rather than fail on the first put. The
        // probe is named as a temporary so a concurrent listing never shows it.
        let probe = "\(path)/\(LocalStore.tempPrefix)probe.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let fd = createProbe(probe)
        if fd < 0 { throw notWritable(errno) }
        close(fd)
        unlink(probe)
        return store
    }
}

/// Outside `ObjectStores`, whose own `open` would hide the system call.
private func createProbe(_ path: String) -> Int32 {
    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
}
