import ArgumentParser
import CMalloc
import Foundation
import SluiceBase
import SluiceCache
import SluiceFUSE
import SluiceMeta
import SluiceObject
import SluiceVFS

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a volume with FUSE.")

    @Argument(help: "Metadata engine URL of a formatted volume.")
    var metaURL: String

    @Argument(help: "An existing empty directory to mount on.")
    var mountPoint: String

    @Flag(name: [.customShort("d"), .long], help: "Run in the background once mounted.")
    var background = false

    @Option(help: "Memory for buffered writes, in MiB (or with a unit, e.g. 1G).")
    var bufferSize = "300"

    @Option(help: "Memory for cached blocks, in MiB (or with a unit).")
    var memoryCacheSize = "64"

    @Option(help: "Local cache directories, colon separated (default: /var/cache/sluice as root, else ~/.cache/sluice).")
    var cacheDir: String?

    @Option(help: "Disk space for cached blocks across the cache directories, in MiB (or with a unit); 0 disables the disk cache.")
    var cacheSize = "102400"

    @Option(help: "Share of each cache disk to keep free.")
    var freeSpaceRatio = 0.1

    @Flag(help: "Return from close once blocks are staged on a local cache disk; upload in the background.")
    var writeback = false

    @Option(help: ArgumentHelp("With --writeback: how long a written block stays staged before its upload starts "
                               + "(e.g. 30s, 5m, 1h; a plain number is seconds).", valueName: "DURATION"))
    var uploadDelay = "0"

    @Option(help: "Block uploads to the object store at once (threads).")
    var maxUploads = 20

    // Off by default: with only the memory cache, the whole-block fetches cost random readers
    // more than the later hits save (docs/benchmarks.md); worth it with a cache that holds them.
    @Option(help: "Whole blocks fetched in the background at once after random reads miss them (0: off).")
    var prefetch = 0

    @Option(help: "Seconds the kernel caches attributes.")
    var attrCache = 1.0

    @Option(help: "Seconds the kernel caches file names.")
    var entryCache = 1.0

    @Option(help: "Seconds the kernel caches directory names.")
    var dirEntryCache = 1.0

    @Option(help: "When reads update atime: noatime, relatime or strictatime.")
    var atimeMode = "relatime"

    @Flag(help: "Mount read-only.")
    var readOnly = false

    @Option(name: .customShort("o"), help: "Extra FUSE mount options, comma separated.")
    var fuseOptions: [String] = []

    @Option(help: "Log file when running in the background.")
    var log: String?

    @Option(help: "FUSE worker threads.")
    var maxThreads = 32

    @Option(name: .customLong("encrypt-rsa-key"), help: ArgumentHelp(
        "The RSA private key (PEM; if passphrase-protected, the passphrase in SLUICE_RSA_PASSPHRASE) of an encrypted volume (default: SLUICE_RSA_KEY_FILE).",
        valueName: "PEM_FILE"))
    var encryptRsaKey: String?

    // Advanced, hidden from --help: mainly for tests of dead-client cleanup, which cannot wait
    // the default 5 minutes. Every client of a volume should use the same value.
    @Option(help: ArgumentHelp("Seconds without a heartbeat after which another client's session is cleaned up.",
                               visibility: .hidden))
    var sessionTimeout = 300.0

    /// Seconds that uploads of staged blocks may take after unmount before the client exits.
    static let uploadTimeAtUnmount = 30.0

    func run() throws {
        let path = URL(fileURLWithPath: mountPoint).standardizedFileURL.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw UsageError("mount point \(path) does not exist")
        }
        guard isDir.boolValue else { throw UsageError("mount point \(path) is not a directory") }
        guard !MountTable.isMountPoint(path) else { throw UsageError("\(path) is already mounted") }
        let buffer = try SizeOption.parse(bufferSize, unit: 1 << 20, name: "buffer size")
        guard buffer >= 32 << 20 else { throw UsageError("buffer size \(bufferSize) is too small (at least 32 MiB)") }
        let memoryCache = try SizeOption.parse(memoryCacheSize, unit: 1 << 20, name: "memory cache size", allowZero: true)
        for (name, value) in [("attr-cache", attrCache), ("entry-cache", entryCache), ("dir-entry-cache", dirEntryCache)]
        where value < 0 || !value.isFinite {
            throw UsageError("invalid --\(name) \(value)")
        }
        guard maxUploads >= 1 else { throw UsageError("invalid --max-uploads \(maxUploads) (at least 1)") }
        let delay = try DurationOption.parse(uploadDelay, name: "--upload-delay")
        if delay > 0 && !writeback { throw UsageError("--upload-delay needs --writeback") }
        guard (0...64).contains(prefetch) else { throw UsageError("invalid --prefetch \(prefetch) (0 to 64)") }
        guard sessionTimeout >= 1 && sessionTimeout.isFinite else {
            throw UsageError("invalid --session-timeout \(sessionTimeout) (at least 1 second)")
        }
        if background && ProcessInfo.processInfo.environment[Daemon.readyEnvironment] == nil {
            try Daemon.spawnAndWait(logPath: log ?? Daemon.defaultLogPath)
        }

        let engine = InstrumentedEngine(try MetaEngines.open(url: metaURL, create: false))
        let meta = MetaClient(engine: engine)
        let settings = try meta.settings()
        let cipher = try VolumeStore.cipher(for: settings, keyFile: VolumeStore.keyFile(option: encryptRsaKey))
        let localCache = try LocalCacheOptions.config(cacheDir: cacheDir, cacheSize: cacheSize,
                                                      freeSpaceRatio: freeSpaceRatio, writeback: writeback,
                                                      uploadDelay: delay, volumeUUID: settings.uuid)
        let stack = try VolumeStore.openStack(settings, cipher: cipher, localCache: localCache, maxUploads: maxUploads)
        let store = stack.store
        var config = VFSConfig()
        config.attributeTimeout = attrCache
        config.entryTimeout = entryCache
        config.directoryEntryTimeout = dirEntryCache
        config.readOnly = readOnly
        guard let atime = AtimeMode(rawValue: atimeMode) else {
            throw UsageError("invalid --atime-mode \"\(atimeMode)\" (noatime, relatime or strictatime)")
        }
        config.atimeMode = atime
        config.sessionTimeout = sessionTimeout
        config.bufferSize = buffer
        config.memoryCacheSize = memoryCache
        config.maxUploads = maxUploads
        config.prefetch = prefetch
        // Block buffers are megabytes each: glibc's dynamic mmap threshold would otherwise
        // start serving them from the heap after the first frees, and the heap never shrinks.
        mallopt(M_MMAP_THRESHOLD, 1 << 20)
        let vfs = VFS(meta: meta, store: store, settings: settings, config: config)

        var options = FuseOptions()
        options.fsName = "sluice:\(settings.name)"
        options.readOnly = readOnly
        options.maxThreads = maxThreads
        options.extra = fuseOptions.flatMap { $0.split(separator: ",").map(String.init) }
        let server = FuseServer(vfs: vfs, metaURL: metaURL, options: options)
        _ = try meta.registerSession(SessionInfo(hostName: ProcessInfo.processInfo.hostName,
                                                 processID: getpid(), mountPoint: path, version: sluiceVersion))
        do {
            try server.mount(at: path)
        } catch {
            try? meta.closeSession()
            throw error
        }
        vfs.start()
        Daemon.reportReady()
        let rc = server.run()
        vfs.shutdown()
        // Everything written is staged now; give the uploads a bounded time (`sluice umount`
        // waits up to a minute for this process), and leave the rest for the next mount.
        stack.finish(uploadTimeout: Self.uploadTimeAtUnmount)
        do { try meta.closeSession() } catch { FileHandle.standardError.write(Data("sluice: closing session: \(error)\n".utf8)) }
        engine.close()
        if rc != 0 { throw UsageError("FUSE session ended with error \(rc)") }
    }
}
