import SluiceBase
import SluiceChunk
import SluiceMeta

/// Buffers the writes of one inode (shared by all its handles in this process) as open slices,
/// and commits them to metadata, in the order they were started, on flush, fsync and close.
/// A newer slice always commits after an older one, so the newest write wins on read.
final class FileWriter: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    let inode: InodeNumber
    private let meta: MetaClient
    private let chunks: ChunkStore
    private let lock = Locked<Void>(())

    private struct OpenSlice {
        let chunk: UInt32
        let position: UInt32
        let writer: SliceWriter
    }

    private var open: [OpenSlice] = []
    /// The end of the furthest byte written but not yet committed.
    private var pendingEnd: UInt64 = 0
    /// When the last buffered write happened: write(2) marks mtime/ctime at once, not at the
    /// commit on close, so attributes report it while data is buffered.
    private var lastWrite = Timespec(seconds: 0, nanoseconds: 0)
    /// Keys uploaded since the last fsync, made durable by the next one.
    private var unsyncedKeys: [String] = []
    /// A failed upload or commit, reported once to the next flush/fsync/close.
    private var failure: Errno?
    /// Chunks whose slice lists grew long enough to compact.
    private(set) var chunksToCompact: [UInt32] = []

    /// Open slices past this count are committed right away, which bounds the work of a flush
    /// and the slice list a random writer builds up.
    static let maxOpenSlices = 64

    init(inode: InodeNumber, meta: MetaClient, chunks: ChunkStore) {
        self.inode = inode
        self.meta = meta
        self.chunks = chunks
    }

    /// True while data is buffered that readers of this inode must not miss.
    var hasPendingData: Bool { lock.withLock { _ in !open.isEmpty } }

    /// The length the file will have once buffered data is committed (0 when nothing is).
    var pendingLength: UInt64 { lock.withLock { _ in open.isEmpty ? 0 : pendingEnd } }

    /// The time of the last write not yet committed (nil when nothing is buffered).
    var pendingWriteTime: Timespec? { lock.withLock { _ in open.isEmpty ? nil : lastWrite } }

    /// Copies `data` into open slices, starting new ones where no open slice can take it.
    /// Returns true when too many slices were open and they were committed.
    @discardableResult
    func write(_ data: UnsafeRawBufferPointer, at offset: UInt64, compactionThreshold: Int) throws -> Bool {
        try lock.withLock { _ in
            if let failure { throw failure }
            var done = 0
            while done < data.count {
                let fileOffset = offset + UInt64(done)
                let chunk = UInt32(fileOffset / UInt64(Layout.chunkSize))
                let position = UInt32(fileOffset % UInt64(Layout.chunkSize))
                let n = min(data.count - done, Layout.chunkSize - Int(position))
                let piece = UnsafeRawBufferPointer(rebasing: data[done..<(done + n)])
                let slice = try sliceAccepting(chunk: chunk, position: position, length: UInt32(n))
                try slice.writer.write(piece, at: Int(position - slice.position))
                done += n
            }
            pendingEnd = max(pendingEnd, offset + UInt64(data.count))
            lastWrite = Timespec.now()
            guard open.count > Self.maxOpenSlices else { return false }
            try commitLocked(compactionThreshold: compactionThreshold)
            return true
        }
    }

    /// The newest open slice of `chunk` that can take bytes at `position`, or a new one. An
    /// older slice may take the write only when no newer open slice overlaps it.
    private func sliceAccepting(chunk: UInt32, position: UInt32, length: UInt32) throws -> OpenSlice {
        for s in open.reversed() where s.chunk == chunk {
            let start = s.position
            let end = s.position + UInt32(s.writer.length)
            if position >= start && position <= end && s.writer.canWrite(at: Int(position - start)) { return s }
            if position < end && position + length > start { break }
        }
        let s = OpenSlice(chunk: chunk, position: position, writer: chunks.makeWriter(id: try meta.newSliceID()))
        open.append(s)
        return s
    }

    /// Uploads what is buffered and commits every open slice to metadata.
    func commit(compactionThreshold: Int) throws {
        try lock.withLock { _ in
            try commitLocked(compactionThreshold: compactionThreshold)
            if let failure {
                self.failure = nil
                throw failure
            }
        }
    }

    private func commitLocked(compactionThreshold: Int) throws {
        let slices = open
        open.removeAll()
        // Committed data is metadata's length now. A stale end would make getattr report the
        // pre-truncate length once a later small write buffers data again.
        pendingEnd = 0
        guard !slices.isEmpty else { return }
        // Hand every slice's last block to upload first, so those uploads run together.
        for s in slices { s.writer.seal() }
        var batch: [(chunk: UInt32, slice: SliceRef)] = []
        var keys: [String] = []
        var failed: Int?
        for (i, s) in slices.enumerated() {
            do {
                keys.append(contentsOf: try s.writer.finish())
            } catch {
                // The data of this and every later slice is lost: later ones must not commit
                // over a gap the application was told nothing about.
                failure = Errno.from(error)
                failed = i
                break
            }
            let length = UInt32(s.writer.length)
            guard length > 0 else { continue }
            batch.append((s.chunk, SliceRef(position: s.position, id: s.writer.id, size: length, offset: 0, length: length)))
        }
        if let failed {
            for rest in slices[failed...] { rest.writer.abort() }
        }
        guard !batch.isEmpty else { return }
        // One transaction for all of them, appended in the order they were started.
        do {
            let (_, counts) = try meta.write(inode, slices: batch)
            unsyncedKeys.append(contentsOf: keys)
            for (chunk, count) in counts where count > compactionThreshold && !chunksToCompact.contains(chunk) {
                chunksToCompact.append(chunk)
            }
        } catch {
            for s in slices[..<(failed ?? slices.count)] { s.writer.abort() }
            failure = failure ?? Errno.from(error)
        }
    }

    /// Takes the chunks that need compaction.
    func takeChunksToCompact() -> [UInt32] {
        lock.withLock { _ in
            defer { chunksToCompact.removeAll() }
            return chunksToCompact
        }
    }

    /// Takes the object keys written since the last call, for fsync.
    func takeUnsyncedKeys() -> [String] {
        lock.withLock { _ in
            defer { unsyncedKeys.removeAll() }
            return unsyncedKeys
        }
    }
}
