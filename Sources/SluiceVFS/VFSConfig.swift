import SluiceBase

/// Tunables of a mounted file system.
public struct VFSConfig: Sendable {
    /// Seconds the kernel may cache attributes.
    public var attributeTimeout: Double = 1
    /// Seconds the kernel may cache a name → inode lookup of a file.
    public var entryTimeout: Double = 1
    /// Seconds the kernel may cache a name → inode lookup of a directory.
    public var directoryEntryTimeout: Double = 1
    /// Refuse every change with EROFS.
    public var readOnly = false
    /// Bytes of written data buffered in memory before writers must wait for uploads.
    public var bufferSize = 300 << 20
    /// Block puts under way at once (`--max-uploads`): threads of the chunk layer's upload pool.
    public var maxUploads = 20
    /// Bytes of blocks kept in the memory cache.
    public var memoryCacheSize = 64 << 20
    /// A chunk with more slices than this is compacted in the background.
    public var compactionThreshold = 100
    /// Blocks to fetch ahead of a sequential reader (all readers together never more than half
    /// the memory cache: see `ChunkStore.prefetch`).
    public var readAheadBlocks = 8
    /// Whole-block background fetches after random reads that may run at once (0: none);
    /// see `ChunkConfig.randomPrefetches`.
    public var prefetch = 0
    /// When reads update atime.
    public var atimeMode: AtimeMode = .relatime
    /// Seconds without a heartbeat after which another client's session is cleaned up.
    public var sessionTimeout: Double = 300
    /// Entries fetched from metadata per directory listing page.
    public var directoryPageSize = 1000

    public init() {}
}

/// When reading a file updates its atime.
public enum AtimeMode: String, Sendable, CaseIterable {
    /// Never.
    case noatime
    /// When atime is not newer than mtime or ctime, or is more than a day old (Linux's default).
    case relatime
    /// On every open that reads.
    case strictatime
}
