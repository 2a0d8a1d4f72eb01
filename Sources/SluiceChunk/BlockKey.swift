import SluiceBase

/// How a volume cuts slices into blocks and names them in the object store.
///
/// A slice of `size` bytes is stored as blocks of `blockSize` bytes, the last one shorter when
/// the size is not a multiple. Block `i` of slice `id` with length `n` is the object
/// `<volume>/chunks/<id / 1_000_000>/<id / 1_000>/<id>_<i>_<n>`: the two directory levels keep
/// listings and local directories small, and the length in the name lets a reader check a block
/// without a head request.
public struct BlockLayout: Sendable, Hashable {
    public var volume: String
    public var blockSize: Int

    public init(volume: String, blockSize: Int = Layout.defaultBlockSize) {
        precondition(blockSize > 0, "block size must be positive")
        self.volume = volume
        self.blockSize = blockSize
    }

    /// The key of block `index`, `length` bytes long, of slice `slice`.
    public func key(slice: SliceID, index: Int, length: Int) -> String {
        let id = slice.rawValue
        return "\(volume)/chunks/\(id / 1_000_000)/\(id / 1_000)/\(id)_\(index)_\(length)"
    }

    /// The slice id, block index and block length a key names, or nil for a key that is not a
    /// block of this volume.
    public func parse(_ key: String) -> (slice: SliceID, index: Int, length: Int)? {
        guard key.hasPrefix(chunksPrefix), let name = key.split(separator: "/").last else { return nil }
        let parts = name.split(separator: "_")
        guard parts.count == 3, let id = UInt64(parts[0]), let index = Int(parts[1]), let length = Int(parts[2]),
              self.key(slice: SliceID(id), index: index, length: length) == key else { return nil }
        return (SliceID(id), index, length)
    }

    /// The prefix under which every block of this volume lives.
    public var chunksPrefix: String { "\(volume)/chunks/" }

    /// How many blocks a slice of `size` bytes has.
    public func blockCount(ofSliceSize size: Int) -> Int {
        size <= 0 ? 0 : (size + blockSize - 1) / blockSize
    }

    /// The length of block `index` of a slice of `size` bytes (0 past its end).
    public func blockLength(ofSliceSize size: Int, index: Int) -> Int {
        max(0, min(blockSize, size - index * blockSize))
    }

    /// The blocks of a slice of `size` bytes, in order.
    public func blocks(ofSliceSize size: Int) -> [(index: Int, length: Int)] {
        (0..<blockCount(ofSliceSize: size)).map { ($0, blockLength(ofSliceSize: size, index: $0)) }
    }

    /// The keys of every block of slice `slice` of `size` bytes, in block order.
    public func keys(slice: SliceID, size: Int) -> [String] {
        blocks(ofSliceSize: size).map { key(slice: slice, index: $0.index, length: $0.length) }
    }
}
