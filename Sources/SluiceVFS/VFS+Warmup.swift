import SluiceBase
import SluiceChunk

extension VFS {
    /// Fetches every block that bytes `offset ..< offset + length` of file `ino` show into the
    /// local caches (the disk tier; the memory tier when the mount has no disk cache), for
    /// `sluice warmup`. Returns how many file bytes the range covered (clipped to the file).
    ///
    /// This client's buffered writes to the file are committed first, so they are warmed too.
    /// A block that cannot be fetched is `Errno.ioError`.
    public func warmup(_ ino: InodeNumber, offset: UInt64, length: UInt64) throws -> UInt64 {
        if let writer = inodes.writer(ino), writer.hasPendingData {
            try writer.commit(compactionThreshold: config.compactionThreshold)
            inodes.invalidateChunks(ino)
        }
        let attr = try meta.getattr(ino)
        guard attr.type == .regular else { throw Errno.isDirectory }
        guard offset < attr.size else { return 0 }
        let end = offset + min(length, attr.size - offset)
        let chunkSize = UInt64(Layout.chunkSize)
        var pos = offset
        while pos < end {
            let index = UInt32(pos / chunkSize)
            let chunkStart = UInt64(index) * chunkSize
            let stop = min(end, chunkStart + chunkSize)
            let slices = try meta.readChunk(ino, index)
            for seg in SliceResolver.resolve(slices, from: UInt32(pos - chunkStart), to: UInt32(stop - chunkStart)) {
                guard let src = seg.source, seg.length > 0 else { continue }
                let first = Int(seg.sliceOffset) / settings.blockSize
                let last = Int(seg.sliceOffset + seg.length - 1) / settings.blockSize
                for b in first...last { try chunks.warm(slice: src.id, size: src.size, blockIndex: b) }
            }
            pos = stop
        }
        return end - offset
    }
}
