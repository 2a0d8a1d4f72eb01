import SluiceBase
import SluiceMeta

extension VFS {
    /// fallocate(2) on an open file (`mode` as Linux passes it).
    public func fallocate(_ fh: UInt64, mode: Int32, offset: UInt64, length: UInt64) throws {
        try checkWritable()
        let handle = try files.get(fh)
        guard handle.writable else { throw Errno.badFileDescriptor }
        // Buffered writes came first: they must be committed under the hole, not over it.
        try flushWrites(handle.inode)
        _ = try meta.fallocate(handle.inode, mode: FallocateMode(rawValue: mode), offset: offset, length: length)
        inodes.invalidateChunks(handle.inode)
    }

    /// copy_file_range(2), done in metadata without copying data. Returns the bytes copied.
    public func copyFileRange(_ fhIn: UInt64, offsetIn: UInt64, _ fhOut: UInt64, offsetOut: UInt64, length: UInt64) throws -> Int {
        try checkWritable()
        let input = try files.get(fhIn), output = try files.get(fhOut)
        guard input.readable, output.writable, !output.append else { throw Errno.badFileDescriptor }
        try flushWrites(input.inode)
        try flushWrites(output.inode)
        let n = try meta.copyRange(from: input.inode, at: offsetIn, to: output.inode, at: offsetOut,
                                   length: min(length, UInt64(Int32.max)))
        inodes.invalidateChunks(output.inode)
        return Int(n)
    }
}
