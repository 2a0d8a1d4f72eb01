import Foundation
import SluiceBase
import SluiceObject

/// Buffers the data of one new slice and uploads it block by block.
///
/// One VFS file writer drives it (`canWrite`, `write`, then `finish` or `abort`), while block
/// uploads complete on the store's upload threads. Bytes are written contiguously from slice
/// offset 0; earlier bytes may be rewritten while their block is still buffered. As soon as a
/// block is full it is handed to the upload pool and can no longer change, so the buffered
/// data of a slice streaming sequentially stays at about one block.
public final class SliceWriter: @unchecked Sendable {
    // @unchecked: every var below is only touched while `cond` is locked.
    public let id: SliceID
    let chunks: ChunkStore
    private let cond = NSCondition()
    /// Buffers of blocks not yet handed to upload, by block index (handed-off ones are empty).
    private var buffers: [[UInt8]] = []
    /// Keys of uploaded blocks, by block index.
    private var uploaded: [String?] = []
    /// Blocks below this index have been handed to upload.
    private var handedOff = 0
    private var written = 0
    private var pending = 0
    private var failure: (any Error)?
    private var state = State.open

    private enum State { case open, finished, aborted }

    init(id: SliceID, chunks: ChunkStore) {
        self.id = id
        self.chunks = chunks
    }

    deinit {
        // A writer dropped without finish or abort still holds its buffers in the gauge.
        chunks.buffers.release(buffers.reduce(0) { $0 + $1.count })
    }

    private var blockSize: Int { chunks.layout.blockSize }

    /// Bytes written so far: the slice's data is `0 ..< length`.
    public var length: Int {
        cond.lock()
        defer { cond.unlock() }
        return written
    }

    /// Whether a write may start at `offset`: the writer is open, the offset is not past the
    /// data written (no gaps), lies in the chunk, and its block has not been handed to upload.
    public func canWrite(at offset: Int) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        return canWriteLocked(offset)
    }

    private func canWriteLocked(_ offset: Int) -> Bool {
        state == .open && offset >= 0 && offset <= written && offset < Layout.chunkSize
            && offset / blockSize >= handedOff
    }

    /// Copies `bytes` into the slice at `offset`. Requires `canWrite(at: offset)` and that the
    /// write ends within the chunk. Full blocks go to upload at once. Throws `Errno.ioError`
    /// when an earlier block of this slice failed to upload (the slice is lost; abort it).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var jobs: [@Sendable () -> Void] = []
        cond.lock()
        precondition(canWriteLocked(offset), "write at \(offset) not allowed (see canWrite)")
        precondition(offset + bytes.count <= Layout.chunkSize, "write crosses the chunk end")
        if failure != nil {
            cond.unlock()
            throw Errno.ioError
        }
        let size = blockSize
        var position = offset
        var done = 0
        var grown = 0
        while done < bytes.count {
            let b = position / size
            let within = position - b * size
            let n = min(bytes.count - done, size - within)
            while buffers.count <= b {
                // Past the first block the slice is clearly streaming: take a whole block now
                // (a reused one, already faulted in) rather than growing by doubling.
                buffers.append(buffers.count > 0 ? chunks.pool.take() : [])
            }
            // Overwrite what the block holds, append the rest (writes never leave gaps).
            let have = buffers[b].count
            let overwrite = min(n, have - within)
            if overwrite < n, buffers[b].capacity < within + n, within + n >= size / 4 {
                // A first block that grows big moves to a whole-block buffer from the pool;
                // small slices (small files, random writes) keep arrays of their own size.
                var pooled = chunks.pool.take()
                pooled.append(contentsOf: buffers[b])
                swap(&pooled, &buffers[b])
            }
            if overwrite > 0 {
                buffers[b].withUnsafeMutableBytes { dst in
                    (dst.baseAddress! + within).copyMemory(from: bytes.baseAddress! + done, byteCount: overwrite)
                }
            }
            if overwrite < n {
                buffers[b].append(contentsOf: UnsafeRawBufferPointer(
                    rebasing: bytes[(done + overwrite)..<(done + n)]))
                grown += n - overwrite
            }
            position += n
            done += n
        }
        written = max(written, position)
        chunks.buffers.add(grown)
        while (handedOff + 1) * size <= written {
            jobs.append(handOffLocked())
        }
        cond.unlock()
        for job in jobs { chunks.uploads.submit(job) }
    }

    /// Uploads the last, partial block, waits for every upload of the slice, and returns the
    /// keys of its blocks in order (for `ObjectStore.sync`). Throws `Errno.ioError` when a block
    /// could not be uploaded; the slice must then not be used, and `abort` deletes what was
    /// uploaded. Calling it again returns the same keys.
    public func finish() throws -> [String] {
        seal()
        cond.lock()
        defer { cond.unlock() }
        if state == .aborted { throw Errno.ioError }
        while pending > 0 { cond.wait() }
        if failure != nil { throw Errno.ioError }
        return uploaded.compactMap { $0 }
    }

    /// Closes the slice to writes and hands its last, partial block to upload without waiting:
    /// `finish` then only waits. Sealing several slices before finishing any lets their last
    /// uploads run at the same time. Does nothing once sealed, finished or aborted.
    public func seal() {
        var jobs: [@Sendable () -> Void] = []
        cond.lock()
        if state == .open {
            state = .finished
            while handedOff * blockSize < written {
                jobs.append(handOffLocked())
            }
        }
        cond.unlock()
        for job in jobs { chunks.uploads.submit(job) }
    }

    /// Drops buffered data, waits for uploads under way, then deletes every uploaded block.
    /// Usable after `finish` too (when the slice could not be committed). Deletion errors are
    /// ignored: leftover blocks are garbage a later cleanup can find.
    public func abort() {
        cond.lock()
        state = .aborted
        let dropped = buffers.reduce(0) { $0 + $1.count }
        for i in buffers.indices { _ = chunks.pool.recycle(&buffers[i]) }
        buffers = []
        chunks.buffers.release(dropped)
        while pending > 0 { cond.wait() }
        let keys = uploaded.compactMap { $0 }
        uploaded = []
        cond.unlock()
        for key in keys {
            chunks.cache.remove(key)
            try? chunks.store.delete(key)
        }
    }

    /// Takes block `handedOff` out of the buffers and returns the job that uploads it.
    private func handOffLocked() -> @Sendable () -> Void {
        let index = handedOff
        handedOff += 1
        pending += 1
        // Moved, not copied, into a box the job owns, so that the upload thread holds the only
        // reference to the buffer and can return it to the pool.
        let block = BlockData()
        if index < buffers.count { swap(&block.bytes, &buffers[index]) }
        let key = chunks.layout.key(slice: id, index: index, length: block.bytes.count)
        return { [self] in upload(index: index, key: key, block: block) }
    }

    /// Runs on an upload thread: puts the block (retrying with backoff), returns a whole-block
    /// buffer to the pool or else caches the block (small blocks: reads right after the write
    /// hit memory), and releases its bytes from the gauge.
    private func upload(index: Int, key: String, block: BlockData) {
        var data: [UInt8] = []
        swap(&data, &block.bytes)
        var lastError: (any Error)?
        let attempts = max(1, chunks.config.uploadAttempts)
        for attempt in 0..<attempts {
            do {
                try chunks.store.put(key, data)
                lastError = nil
                break
            } catch {
                lastError = error
                if attempt + 1 < attempts {
                    Thread.sleep(forTimeInterval: chunks.config.retryDelay * Double(1 << min(attempt, 10)))
                }
            }
        }
        // A pooled buffer goes back to the pool rather than into the cache, which would keep
        // it from being reused (a copy for the cache would cost the page faults the pool
        // saves); only when the pool is full is it handed to the cache instead of freed.
        let count = data.count
        if !chunks.pool.recycle(&data), lastError == nil { chunks.cache.insert(key, data) }
        // Released before the upload counts as done, so once finish or abort returns the
        // slice holds no buffer bytes.
        chunks.buffers.release(count)
        cond.lock()
        if let lastError {
            failure = failure ?? lastError
        } else {
            while uploaded.count <= index { uploaded.append(nil) }
            uploaded[index] = key
        }
        pending -= 1
        cond.broadcast()
        cond.unlock()
    }
}

/// A block's buffer on its way to the upload thread.
private final class BlockData: @unchecked Sendable {
    // @unchecked: filled by the writer before the job is submitted, emptied by the job.
    var bytes: [UInt8] = []
}
