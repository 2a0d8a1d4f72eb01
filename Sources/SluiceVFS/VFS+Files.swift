import SluiceBase
import SluiceChunk
import SluiceMeta

/// Flags of open(2) the VFS acts on.
public struct OpenFlags: Sendable {
    public var raw: Int32
    public init(raw: Int32) { self.raw = raw }
    var accessMode: Int32 { raw & 3 }
    var readable: Bool { accessMode == 0 || accessMode == 2 }
    var writable: Bool { accessMode == 1 || accessMode == 2 }
    var truncate: Bool { raw & 0o1000 != 0 }
    var append: Bool { raw & 0o2000 != 0 }
}

extension VFS {
    /// Opens `ino`; returns the handle number and the attributes.
    public func open(_ ino: InodeNumber, flags: OpenFlags) throws -> (UInt64, Entry) {
        if flags.writable || flags.truncate { try checkWritable() }
        var attr = try meta.open(ino)
        guard attr.type != .directory || !flags.writable else {
            try? meta.close(ino)
            throw Errno.isDirectory
        }
        inodes.opened(ino)
        // Buffered data of other handles counts: a committed length of 0 does not mean empty.
        if flags.truncate && attr.type == .regular && adjusted(ino, attr).size > 0 {
            do {
                attr = try setattr(ino, AttributeChanges(size: 0)).attributes
            } catch {
                release(ino)
                throw error
            }
        }
        let fh = files.insert(FileHandle(inode: ino, readable: flags.readable, writable: flags.writable, append: flags.append))
        return (fh, entry(ino, adjusted(ino, attr)))
    }

    /// Creates and opens a regular file.
    public func create(_ parent: InodeNumber, _ name: [UInt8], permissions: FilePermissions, flags: OpenFlags,
                       umask: UInt16? = nil, by caller: Caller) throws -> (UInt64, Entry) {
        try checkWritable()
        let new = NewInode(type: .regular, permissions: permissions, umask: creationUmask(umask))
        let (ino, _) = try meta.create(parent, name, new, by: caller)
        return try open(ino, flags: OpenFlags(raw: flags.raw & ~0o1000))
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (0 at EOF).
    public func read(_ fh: UInt64, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let handle = try files.get(fh)
        let ino = handle.inode
        // Read your own writes: buffered data must be committed before it can be read.
        if let writer = inodes.writer(ino), writer.hasPendingData {
            try writer.commit(compactionThreshold: config.compactionThreshold)
            inodes.invalidateChunks(ino)
            scheduleCompaction(writer)
        }
        let attr = try meta.getattr(ino)
        let size = attr.size
        updateAtime(handle, attr)
        guard offset < size else { return 0 }
        let length = Int(min(UInt64(buffer.count), size - offset))
        // A read far from where the last one ended is random access. (The kernel's read-ahead
        // sends sequential reads slightly out of order, so "far" means beyond its window.)
        let lastEnd = handle.lock.withLock { $0 }
        let random = offset != 0 && (lastEnd == .max || (offset > lastEnd ? offset - lastEnd : lastEnd - offset) > 4 << 20)
        var done = 0
        while done < length {
            let pos = offset + UInt64(done)
            let index = UInt32(pos / UInt64(Layout.chunkSize))
            let inChunk = UInt32(pos % UInt64(Layout.chunkSize))
            let n = min(length - done, Layout.chunkSize - Int(inChunk))
            let slices = try chunkSlices(ino, index)
            try chunks.readChunk(slices, position: inChunk, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]),
                                 random: random)
            done += n
        }
        readAhead(handle, offset: offset, length: length, fileSize: size)
        return length
    }

    /// Applies the atime policy once per open handle, on its first read.
    private func updateAtime(_ handle: FileHandle, _ attr: InodeAttributes) {
        guard config.atimeMode != .noatime, !config.readOnly else { return }
        let first = handle.atimeChecked.withLock { checked -> Bool in
            defer { checked = true }
            return !checked
        }
        guard first else { return }
        let now = Timespec.now()
        let due: Bool
        switch config.atimeMode {
        case .noatime: due = false
        case .strictatime: due = true
        case .relatime: due = attr.atime <= attr.mtime || attr.atime <= attr.ctime || now.seconds - attr.atime.seconds >= 86_400
        }
        guard due else { return }
        // A failed atime update must not fail the read that caused it.
        _ = try? meta.touchAtime(handle.inode, now)
    }

    func chunkSlices(_ ino: InodeNumber, _ index: UInt32) throws -> [SliceRef] {
        let maxAge = UInt64(config.attributeTimeout * 1e9)
        let (cached, generation) = inodes.cachedChunk(ino, index, maxAgeNanoseconds: maxAge)
        if let cached { return cached }
        let slices = try meta.readChunk(ino, index)
        inodes.cache(ino, index, slices, generation: generation)
        return slices
    }

    /// A reader that continues where it stopped gets the next blocks fetched in the background.
    private func readAhead(_ handle: FileHandle, offset: UInt64, length: Int, fileSize: UInt64) {
        let end = offset + UInt64(length)
        // A big read near where the last one ended counts too: the kernel's read-ahead sends
        // several requests at once, which reach us slightly out of order, and requiring an exact
        // match left many of them without read-ahead. (Small reads must match exactly, or a
        // random reader would now and then set off a whole window of fetches.)
        let sequential = handle.lock.withLock { last -> Bool in
            defer { last = end }
            if last == offset { return true }
            return last != .max && length >= 128 << 10 && (offset > last ? offset - last : last - offset) <= 4 << 20
        }
        guard sequential, config.readAheadBlocks > 0, end < fileSize else { return }
        let blockSize = UInt64(settings.blockSize)
        let windowEnd = min(fileSize, end + UInt64(config.readAheadBlocks) * blockSize)
        var pos = end
        while pos < windowEnd {
            let index = UInt32(pos / UInt64(Layout.chunkSize))
            let inChunk = UInt32(pos % UInt64(Layout.chunkSize))
            let stop = UInt32(min(UInt64(Layout.chunkSize), windowEnd - UInt64(index) * UInt64(Layout.chunkSize)))
            guard let slices = try? chunkSlices(handle.inode, index) else { return }
            for seg in SliceResolver.resolve(slices, from: inChunk, to: stop) {
                guard let src = seg.source else { continue }
                let first = Int(seg.sliceOffset) / settings.blockSize
                let last = Int(seg.sliceOffset + seg.length - 1) / settings.blockSize
                for b in first...last { chunks.prefetch(slice: src.id, size: src.size, blockIndex: b) }
            }
            pos = UInt64(index) * UInt64(Layout.chunkSize) + UInt64(stop)
        }
    }

    /// Writes `data` at `offset` (at the end for O_APPEND handles); returns the bytes written.
    public func write(_ fh: UInt64, offset: UInt64, data: UnsafeRawBufferPointer) throws -> Int {
        try checkWritable()
        let handle = try files.get(fh)
        guard handle.writable else { throw Errno.badFileDescriptor }
        let ino = handle.inode
        guard offset + UInt64(data.count) <= UInt64(Int64.max) else { throw Errno.fileTooLarge }
        let writer = inodes.writer(ino) { FileWriter(inode: ino, meta: meta, chunks: chunks) }
        if chunks.bufferedBytes > config.bufferSize {
            // Over budget: this writer commits what it holds, which frees its buffers as the
            // uploads finish; then wait (bounded) for the rest of the process to drain.
            try writer.commit(compactionThreshold: config.compactionThreshold)
            committed(writer)
            chunks.waitForBufferSpace(timeout: .seconds(30))
        }
        if try writer.write(data, at: offset, compactionThreshold: config.compactionThreshold) {
            // Commits outside flush change the slice lists too: without this, a read with
            // nothing left buffered served the list cached before them (stale bytes).
            committed(writer)
        }
        return data.count
    }

    /// Commits buffered writes of `ino` (close-to-open: what was written is visible to the next
    /// opener, here or on another client).
    public func flush(_ fh: UInt64) throws {
        let handle = try files.get(fh)
        try flushWrites(handle.inode)
    }

    func flushWrites(_ ino: InodeNumber) throws {
        guard let writer = inodes.writer(ino) else { return }
        try writer.commit(compactionThreshold: config.compactionThreshold)
        committed(writer)
    }

    /// After a commit of `writer`: drops the inode's cached slice lists, queues compactions.
    func committed(_ writer: FileWriter) {
        inodes.invalidateChunks(writer.inode)
        scheduleCompaction(writer)
    }

    /// Commits buffered writes and makes them and the metadata durable.
    public func fsync(_ fh: UInt64) throws {
        let handle = try files.get(fh)
        try flushWrites(handle.inode)
        if let writer = inodes.writer(handle.inode) {
            let keys = writer.takeUnsyncedKeys()
            if !keys.isEmpty { try store.sync(keys) }
        }
        try meta.engine.sync()
    }

    /// Closes a handle: commits its writes and drops it.
    public func release(_ fh: UInt64) throws {
        guard let handle = files.remove(fh) else { throw Errno.badFileDescriptor }
        var failure: (any Error)?
        do { try flushWrites(handle.inode) } catch { failure = error }
        release(handle.inode)
        if let failure { throw failure }
    }

    private func release(_ ino: InodeNumber) {
        let (_, writer) = inodes.closed(ino)
        if let writer { try? writer.commit(compactionThreshold: config.compactionThreshold) }
        do { try meta.close(ino) } catch { worker.report("close of inode \(ino) failed: \(error)") }
        worker.wake()
    }

    func scheduleCompaction(_ writer: FileWriter) {
        for chunk in writer.takeChunksToCompact() { worker.compact(writer.inode, chunk) }
    }
}
