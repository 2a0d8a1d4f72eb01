import SluiceBase
import SluiceMeta

/// Per-inode state of files open in this process: the shared writer and cached slice lists.
final class OpenInodes: Sendable {
    struct State {
        var handles = 0
        var writer: FileWriter?
        /// Slice lists read from metadata, with the monotonic time they were read.
        var chunks: [UInt32: (slices: [SliceRef], at: UInt64)] = [:]
        /// Bumped by every invalidation, so that a list read from metadata before a commit is
        /// not cached after it.
        var generation: UInt64 = 0
    }

    private let states = Locked<[InodeNumber: State]>([:])

    func opened(_ ino: InodeNumber) {
        states.withLock { $0[ino, default: State()].handles += 1 }
    }

    /// Drops a handle; returns the writer to commit and forget when it was the last one.
    func closed(_ ino: InodeNumber) -> (last: Bool, writer: FileWriter?) {
        states.withLock { s in
            guard var st = s[ino] else { return (true, nil) }
            st.handles -= 1
            if st.handles <= 0 {
                s[ino] = nil
                return (true, st.writer)
            }
            s[ino] = st
            return (false, nil)
        }
    }

    func writer(_ ino: InodeNumber) -> FileWriter? { states.withLock { $0[ino]?.writer } }

    func writer(_ ino: InodeNumber, orMake make: () -> FileWriter) -> FileWriter {
        states.withLock { s in
            if let w = s[ino]?.writer { return w }
            let w = make()
            s[ino, default: State()].writer = w
            return w
        }
    }

    func allWriters() -> [FileWriter] { states.withLock { $0.values.compactMap(\.writer) } }

    /// A cached slice list younger than `maxAgeNanoseconds`, or the generation to pass to
    /// `cache` with the list the caller then reads from metadata.
    func cachedChunk(_ ino: InodeNumber, _ index: UInt32, maxAgeNanoseconds: UInt64) -> (slices: [SliceRef]?, generation: UInt64) {
        states.withLock { s in
            guard let st = s[ino] else { return (nil, 0) }
            guard let c = st.chunks[index], monotonicNanoseconds() &- c.at <= maxAgeNanoseconds else { return (nil, st.generation) }
            return (c.slices, st.generation)
        }
    }

    /// Caches a list read from metadata, unless an invalidation happened since `generation`.
    func cache(_ ino: InodeNumber, _ index: UInt32, _ slices: [SliceRef], generation: UInt64) {
        states.withLock { s in
            guard s[ino]?.generation == generation else { return }
            s[ino]?.chunks[index] = (slices, monotonicNanoseconds())
        }
    }

    func invalidateChunks(_ ino: InodeNumber) {
        states.withLock { s in
            s[ino]?.chunks.removeAll()
            s[ino]?.generation &+= 1
        }
    }
}
