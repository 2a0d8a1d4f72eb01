import SluiceBase

/// How a client keeps blocks on its own disks: the disk tier of the block cache (under the
/// memory tier of `ChunkStore`) and, with write-back, the staging area of blocks that are
/// written but not yet uploaded.
///
/// Everything lives under `<root>/<volume uuid>/` of each cache root, so one root can serve
/// several volumes and a volume formatted anew never sees another's blocks.
public struct LocalCacheConfig: Sendable, Hashable {
    /// The cache roots (`--cache-dir a:b`); blocks are spread over them by key.
    public var roots: [String]
    /// The volume whose blocks these are; the name of the per-volume directory in each root.
    public var volumeUUID: String
    /// Bytes of cached blocks across all roots (`--cache-size`); 0 disables the disk tier.
    public var capacity: Int
    /// The share of each cache disk to leave free (`--free-space-ratio`): the cache evicts
    /// when the disk's free space falls below it, whatever `capacity` allows.
    public var freeSpaceRatio: Double
    /// `--writeback`: a put returns once the block is staged (fsync'd) on a local disk; uploads
    /// continue in the background and resume after a restart.
    public var writeback: Bool
    /// `--upload-delay`: seconds a staged object waits before its upload (write-back only).
    public var uploadDelay: Double

    public init(roots: [String], volumeUUID: String, capacity: Int, freeSpaceRatio: Double = 0.1,
                writeback: Bool = false, uploadDelay: Double = 0) {
        self.roots = roots
        self.volumeUUID = volumeUUID
        self.capacity = capacity
        self.freeSpaceRatio = freeSpaceRatio
        self.writeback = writeback
        self.uploadDelay = uploadDelay
    }

    /// The directory of this volume in cache root `root`.
    public func volumeDirectory(_ root: String) -> String {
        (root.hasSuffix("/") ? root : root + "/") + volumeUUID
    }

    /// Where the disk tier keeps cached blocks in `root`.
    public func blocksDirectory(_ root: String) -> String { volumeDirectory(root) + "/blocks" }

    /// Where write-back keeps staged blocks in `root`.
    public func stagingDirectory(_ root: String) -> String { volumeDirectory(root) + "/staging" }

    /// The root that holds `key`: a stable choice by a hash of the key (not Swift's `Hasher`,
    /// which is seeded per process), so a restart finds every block where it left it.
    public func root(for key: String) -> String {
        precondition(!roots.isEmpty, "no cache roots")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return roots[Int(hash % UInt64(roots.count))]
    }
}
