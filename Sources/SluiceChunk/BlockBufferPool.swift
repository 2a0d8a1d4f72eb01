import SluiceBase

/// Empty `[UInt8]` arrays with room for a whole block, kept for reuse by `SliceWriter`.
///
/// A freshly allocated 4 MiB buffer costs a page fault and the kernel's zeroing for every page
/// as it is first written, and freeing it hands the pages back to the OS, so a writer that
/// allocates one per block pays that on every block. Buffers returned here keep their pages.
///
/// Memory: a buffer is only allocated when the pool is empty, so buffers in use plus buffers
/// kept never exceed the most the writers ever held at once (as before, bounded by the write
/// buffer budget); once writing stops, at most `maxKept` buffers stay allocated.
///
/// Buffers are plain arrays, so value semantics make aliasing impossible: a buffer handed to
/// the block cache is not recycled, and a store that kept a reference keeps its bytes.
final class BlockBufferPool: Sendable {
    let blockSize: Int
    let maxKept: Int
    private let free: Locked<[[UInt8]]>

    init(blockSize: Int, maxBytes: Int) {
        self.blockSize = blockSize
        maxKept = max(0, maxBytes / max(1, blockSize))
        free = Locked([])
    }

    /// An empty array with capacity for at least one block.
    func take() -> [UInt8] {
        if let kept = free.withLock({ $0.popLast() }) { return kept }
        var fresh: [UInt8] = []
        fresh.reserveCapacity(blockSize)
        return fresh
    }

    /// Keeps `buffer` for reuse when it has room for a whole block and the pool is not full;
    /// then `buffer` is left empty and true is returned. Otherwise `buffer` is left as it is
    /// (the caller may cache or drop it). Callers pass an array nothing else references (the
    /// store's put has returned and nothing cached it); were its storage shared anyway, emptying
    /// it would allocate a fresh buffer (copy on write) rather than touch the shared bytes.
    func recycle(_ buffer: inout [UInt8]) -> Bool {
        guard maxKept > 0, buffer.capacity >= blockSize else { return false }
        return free.withLock { list -> Bool in
            guard list.count < maxKept else { return false }
            var kept: [UInt8] = []
            swap(&kept, &buffer)
            // Keeps the storage when it is referenced by `kept` alone: no free, no zeroing.
            kept.removeAll(keepingCapacity: true)
            list.append(kept)
            return true
        }
    }

    /// Buffers kept for reuse now.
    var keptCount: Int { free.withLock { $0.count } }
}
