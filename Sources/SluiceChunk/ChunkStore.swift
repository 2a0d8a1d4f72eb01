import Foundation
import SluiceBase
import SluiceObject

/// Settings of a volume's data layer.
public struct ChunkConfig: Sendable, Hashable {
    /// The volume name: the first component of every block key.
    public var volume: String
    /// The longest object a slice is cut into.
    public var blockSize: Int
    /// How many block uploads run at once (threads of the upload pool).
    public var maxUploads: Int
    /// The byte budget of the in-memory block cache.
    public var memoryCacheBytes: Int
    /// The write-buffer level above which `waitForBufferSpace` makes writers wait.
    public var bufferBytes: Int
    /// How many read-ahead fetches run at once; further requests queue, up to `maxQueuedPrefetches`.
    public var maxPrefetches: Int
    /// How many whole-block fetches triggered by random reads run at once (`--prefetch`):
    /// a random read of a block that is not cached gets its bytes by a ranged read and starts
    /// a background fetch of the whole block, so later reads of that block hit the cache.
    /// 0 disables them.
    public var randomPrefetches: Int
    /// Prefetch requests beyond this many waiting are dropped (they are only hints).
    public var maxQueuedPrefetches: Int
    /// How many times a block put is tried before the slice fails.
    public var uploadAttempts: Int
    /// Whole-block write buffers kept for reuse after their upload, at most this many bytes
    /// (and never more than `bufferBytes`).
    public var bufferPoolBytes: Int
    /// The pause before the first retry of a failed put, in seconds; each retry doubles it.
    public var retryDelay: Double

    public init(volume: String, blockSize: Int = Layout.defaultBlockSize, maxUploads: Int = 20,
                memoryCacheBytes: Int = 256 << 20, bufferBytes: Int = 300 << 20,
                maxPrefetches: Int = 8, maxQueuedPrefetches: Int = 64,
                uploadAttempts: Int = 4, retryDelay: Double = 0.1, bufferPoolBytes: Int = 64 << 20,
                randomPrefetches: Int = 0) {
        self.volume = volume
        self.blockSize = blockSize
        self.maxUploads = maxUploads
        self.memoryCacheBytes = memoryCacheBytes
        self.bufferBytes = bufferBytes
        self.maxPrefetches = maxPrefetches
        self.maxQueuedPrefetches = maxQueuedPrefetches
        self.randomPrefetches = randomPrefetches
        self.uploadAttempts = uploadAttempts
        self.retryDelay = retryDelay
        self.bufferPoolBytes = bufferPoolBytes
    }
}

/// The data layer of a volume: writes slices as blocks into an object store and reads them
/// back through a block cache. It knows nothing of inodes or metadata; the VFS tells it which
/// slices make up a chunk.
///
/// All methods are safe to call from many threads at once. `read`, `readChunk`, `remove`,
/// `SliceWriter.finish` and `SliceWriter.abort` block on object store I/O, and
/// `waitForBufferSpace` blocks by design: call them from threads made for blocking work (FUSE
/// workers), never from Swift's cooperative pool. Uploads and prefetches run on dedicated
/// threads owned by the store, which exit once the store is released.
public final class ChunkStore: Sendable {
    public let store: any ObjectStore
    public let config: ChunkConfig
    public let layout: BlockLayout
    public let cache: BlockCache

    let uploads: WorkerPool
    let prefetches: WorkerPool
    /// Threads of the whole-block fetches after random reads; nil when disabled.
    let randomPrefetches: WorkerPool?
    /// Blocks fetched by read-ahead that no reader has read yet. Read-ahead pauses while they
    /// would fill half the cache: with several sequential readers, blocks fetched ahead would
    /// otherwise evict each other before their readers get to them (and be fetched twice).
    let readAheadUnread = Locked<Set<String>>([])
    let buffers = BufferGauge()
    let pool: BlockBufferPool
    /// Fetches under way by key, so concurrent readers of a block share one get.
    let flights = Locked<[String: Flight]>([:])
    /// Whether random readers fetch only the bytes they ask for; not on encrypted volumes, where
    /// any read fetches and opens the whole block, so it had better be cached.
    let rangedReads: Bool

    public init(store: any ObjectStore, config: ChunkConfig) {
        precondition(config.blockSize > 0 && config.blockSize <= Layout.chunkSize, "block size out of range")
        self.store = store
        rangedReads = (store as? CodecStore)?.readsRangesCheaply ?? true
        self.config = config
        layout = BlockLayout(volume: config.volume, blockSize: config.blockSize)
        cache = BlockCache(capacity: config.memoryCacheBytes)
        pool = BlockBufferPool(blockSize: config.blockSize,
                               maxBytes: min(config.bufferPoolBytes, config.bufferBytes))
        uploads = WorkerPool(name: "sluice-upload", maxThreads: config.maxUploads)
        prefetches = WorkerPool(name: "sluice-prefetch", maxThreads: config.maxPrefetches,
                                maxQueued: config.maxQueuedPrefetches)
        randomPrefetches = config.randomPrefetches > 0
            ? WorkerPool(name: "sluice-prefetch-random", maxThreads: config.randomPrefetches,
                         maxQueued: config.randomPrefetches)
            : nil
    }

    deinit {
        // Writers hold the store, so no upload can still need these threads.
        uploads.shutdown()
        prefetches.shutdown()
        randomPrefetches?.shutdown()
    }

    /// A writer for the new slice `id`, whose data starts at offset 0 of the slice.
    public func makeWriter(id: SliceID) -> SliceWriter {
        SliceWriter(id: id, chunks: self)
    }

    /// Deletes every block of slice `id` of `size` bytes; blocks already missing are fine.
    /// Tries every block even after a failure, then throws the first error.
    public func remove(slice id: SliceID, size: UInt32) throws {
        var firstError: (any Error)?
        for key in layout.keys(slice: id, size: Int(size)) {
            cache.remove(key)
            do {
                try store.delete(key)
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    // MARK: - Write buffers and back-pressure

    /// Bytes held by open `SliceWriter`s: data written and not yet uploaded. A block's bytes are
    /// released when its upload completes (or the writer is aborted or released).
    public var bufferedBytes: Int { buffers.value }

    /// Back-pressure for writers. Returns true at once when `bufferedBytes` is at most
    /// `config.bufferBytes`; otherwise blocks the calling thread until uploads bring it there
    /// (true) or `timeout` passes (false). It never refuses or fails a write itself: on false
    /// the VFS may write anyway, or finish (flush) some of its open writers first, since
    /// partially filled last blocks are only uploaded by `finish`.
    @discardableResult
    public func waitForBufferSpace(timeout: Duration) -> Bool {
        let (seconds, attoseconds) = timeout.components
        return buffers.wait(atMost: config.bufferBytes,
                            timeout: Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// A byte count that threads can wait on to fall to a level.
final class BufferGauge: @unchecked Sendable {
    // @unchecked: `used` is only touched while `cond` is locked.
    private let cond = NSCondition()
    private var used = 0

    var value: Int {
        cond.lock()
        defer { cond.unlock() }
        return used
    }

    func add(_ n: Int) {
        guard n != 0 else { return }
        cond.lock()
        used += n
        cond.unlock()
    }

    func release(_ n: Int) {
        guard n != 0 else { return }
        cond.lock()
        used -= n
        cond.broadcast()
        cond.unlock()
    }

    /// Waits until the count is at most `limit` or `timeout` seconds pass; whether it is.
    func wait(atMost limit: Int, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: max(0, timeout))
        cond.lock()
        defer { cond.unlock() }
        while used > limit {
            if !cond.wait(until: deadline) { return used <= limit }
        }
        return true
    }
}
