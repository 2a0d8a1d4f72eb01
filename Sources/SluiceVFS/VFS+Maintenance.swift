import SluiceBase
import SluiceChunk
import SluiceMeta

extension VFS {
    /// Rewrites what a chunk shows as one new slice and swaps it in, if the list did not change
    /// meanwhile (otherwise the new slice's objects are deleted and nothing changes). Holes at
    /// either end are left out of the new slice: uncovered bytes read as zeros anyway.
    public func compact(_ ino: InodeNumber, chunk index: UInt32) throws {
        let slices = try meta.readChunk(ino, index)
        guard slices.count > 1 else { return }
        let data = slices.filter { !$0.id.isHole }
        var merged = SliceRef(position: 0, id: .hole, size: 0, offset: 0, length: 0)
        if let start = data.map(\.position).min(), let end = data.map(\.end).max() {
            var bytes = [UInt8](repeating: 0, count: Int(end - start))
            try bytes.withUnsafeMutableBytes { try chunks.readChunk(slices, position: start, into: $0) }
            let writer = chunks.makeWriter(id: try meta.newSliceID())
            do {
                try bytes.withUnsafeBytes { try writer.write($0, at: 0) }
                _ = try writer.finish()
            } catch {
                writer.abort()
                throw error
            }
            merged = SliceRef(position: start, id: writer.id, size: UInt32(bytes.count), offset: 0, length: UInt32(bytes.count))
        }
        if try !meta.compact(ino, chunk: index, replacing: slices, with: merged), !merged.id.isHole {
            try chunks.remove(slice: merged.id, size: merged.size)
        }
        inodes.invalidateChunks(ino)
    }

    /// Deletes the objects of every slice whose deletion is due (what the background worker
    /// does), for maintenance commands that run without a mount.
    public func runDueDeletions() { worker.runDeletions() }
}
