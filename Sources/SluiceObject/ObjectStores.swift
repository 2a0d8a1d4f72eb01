#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceBase

/// Opens object stores by the name users give with `--storage` and `--bucket`.
public enum ObjectStores {
    /// The storage names `open` accepts.
    public static let supported = ["file", "mem", "s3"]

    /// Opens the store `storage` at `bucket`:
    /// - `file`: a `LocalStore` at the directory `bucket` (a path or `file:///path`; empty means
    ///   `defaultBucketRoot`), created if missing and checked to be writable.
    /// - `mem`: a `MemoryStore` shared by every `open` of the same bucket name in this process.
    /// - `s3`: an `S3Store` on the bucket URL `bucket` (credentials and region from `options`,
    ///   else the AWS environment variables). Nothing is sent: `S3Store.check()` probes it.
    ///
    /// Throws `UsageError` for an unknown storage or a directory that cannot be written.
    public static func open(storage: String, bucket: String, options: StoreOptions) throws -> any ObjectStore {
        switch storage {
        case "s3":
            return try S3Store(url: bucket, options: options)
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

    /// `open` with default options (credentials from the environment).
    public static func open(storage: String, bucket: String) throws -> any ObjectStore {
        try open(storage: storage, bucket: bucket, options: StoreOptions())
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

/// What a store may need beyond its bucket: credentials, region, TLS trust and tuning. Stores
/// that need none of it (file, mem) ignore it.
public struct StoreOptions: Sendable, Equatable {
    /// S3 access key and secret key; when both are nil, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    /// (and AWS_SESSION_TOKEN) are used, and without those requests go unsigned.
    public var accessKey: String?
    public var secretKey: String?
    public var sessionToken: String?
    /// The signing region; nil: AWS_REGION, AWS_DEFAULT_REGION, the region in an AWS host
    /// name, else us-east-1.
    public var region: String?
    /// A PEM file of CA certificates to trust instead of the system's (https endpoints).
    public var caFile: String?
    /// Force virtual-hosted (true) or path-style (false) addressing; nil detects it.
    public var virtualHosted: Bool?
    /// Concurrent connections per host: at least the chunk layer's upload threads plus readers.
    public var maxConnections: Int
    /// Objects larger than this are uploaded in parts of `partSize` (at least 5 MiB).
    public var multipartThreshold: Int
    public var partSize: Int
    /// Seconds one request may take (plus a second per MiB of body) before it is retried.
    public var requestTimeout: Double
    public var retry: S3RetryPolicy

    public init(accessKey: String? = nil, secretKey: String? = nil, sessionToken: String? = nil,
                region: String? = nil, caFile: String? = nil, virtualHosted: Bool? = nil,
                maxConnections: Int = 64, multipartThreshold: Int = 32 << 20, partSize: Int = 32 << 20,
                requestTimeout: Double = 60, retry: S3RetryPolicy = S3RetryPolicy()) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.region = region
        self.caFile = caFile
        self.virtualHosted = virtualHosted
        self.maxConnections = maxConnections
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
        self.requestTimeout = requestTimeout
        self.retry = retry
    }
}

/// Outside `ObjectStores`, whose own `open` would hide the system call.
private func createProbe(_ path: String) -> Int32 {
    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
}
