/// Fixed facts of the data layout shared by metadata and data.
public enum Layout {
    /// Files are cut into chunks of this many bytes; a slice never crosses a chunk boundary.
    public static let chunkSize = 64 << 20
    /// The default size of the objects a slice is stored as.
    public static let defaultBlockSize = 4 << 20
    /// Directories report this size, as ext4 does for small ones.
    public static let directorySize: UInt64 = 4096
    /// The longest name a directory entry may have.
    public static let maxNameLength = 255
    /// The longest symlink target.
    public static let maxSymlinkLength = 4095
}

/// One entry of a chunk's slice list: `length` bytes at `position` in the chunk come from
/// bytes `offset ..< offset + length` of slice `id`, whose stored data is `size` bytes long.
/// Later entries of a list cover earlier ones; id 0 (`SliceID.hole`) reads as zeros.
public struct SliceRef: Hashable, Sendable {
    public var position: UInt32
    public var id: SliceID
    public var size: UInt32
    public var offset: UInt32
    public var length: UInt32

    public init(position: UInt32, id: SliceID, size: UInt32, offset: UInt32, length: UInt32) {
        self.position = position
        self.id = id
        self.size = size
        self.offset = offset
        self.length = length
    }

    /// The end of the covered range within the chunk.
    public var end: UInt32 { position + length }
}
