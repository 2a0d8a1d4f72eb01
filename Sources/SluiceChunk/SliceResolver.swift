import SluiceBase

/// A run of bytes of a chunk and where they come from.
public struct ResolvedSegment: Hashable, Sendable {
    /// Where the run starts in the chunk.
    public var position: UInt32
    public var length: UInt32
    /// The slice whose data shows here, or nil when the run reads as zeros (a hole, or a range
    /// no slice covers).
    public var source: SliceRef?
    /// Where the run starts within the source slice's stored data (0 for zeros).
    public var sliceOffset: UInt32

    public init(position: UInt32, length: UInt32, source: SliceRef?, sliceOffset: UInt32) {
        self.position = position
        self.length = length
        self.source = source
        self.sliceOffset = sliceOffset
    }

    public var end: UInt32 { position + length }
}

/// Works out which slice shows at each byte of a chunk.
public enum SliceResolver {
    /// The segments covering `start ..< end` of a chunk whose slice list is `slices` (later
    /// entries cover earlier ones), consecutive and ascending. Adjacent runs of the same slice
    /// entry, and adjacent runs of zeros, are merged.
    ///
    /// Runs in O(n log n) for n slices: a sweep over the slice edges inside the range, keeping
    /// the slices open at the sweep point in a max-heap by list index, so the newest is on top.
    public static func resolve(_ slices: [SliceRef], from start: UInt32, to end: UInt32) -> [ResolvedSegment] {
        guard start < end else { return [] }
        // Edges of slices that overlap the range, clipped to it. Opening edges carry index + 1,
        // closing ones -(index + 1); sorting by position alone is enough since the heap settles
        // ties: a slice closed at p is dropped before the top is read at p.
        var edges: [(position: UInt32, index: Int)] = []
        edges.reserveCapacity(slices.count * 2)
        for (i, s) in slices.enumerated() where s.length > 0 {
            let a = max(s.position, start)
            let b = min(s.end, end)
            guard a < b else { continue }
            edges.append((a, i + 1))
            edges.append((b, -(i + 1)))
        }
        if edges.isEmpty {
            return [ResolvedSegment(position: start, length: end - start, source: nil, sliceOffset: 0)]
        }
        edges.sort { $0.position < $1.position }

        var open = [Bool](repeating: false, count: slices.count)
        var heap = IndexHeap()
        var out: [ResolvedSegment] = []
        var cursor = start
        var e = 0
        while cursor < end {
            // Apply every edge at the cursor.
            while e < edges.count, edges[e].position == cursor {
                let v = edges[e].index
                if v > 0 {
                    open[v - 1] = true
                    heap.push(v - 1)
                } else {
                    open[-v - 1] = false  // dropped lazily when it reaches the top
                }
                e += 1
            }
            while let top = heap.top, !open[top] { heap.pop() }
            let next = e < edges.count ? edges[e].position : end
            append(&out, position: cursor, end: next, winner: heap.top.map { slices[$0] })
            cursor = next
        }
        return out
    }

    /// Appends the run `position ..< end` shown by `winner`, merging with the previous run when
    /// it continues it.
    private static func append(_ out: inout [ResolvedSegment], position: UInt32, end: UInt32,
                               winner: SliceRef?) {
        guard position < end else { return }
        let source = (winner?.id.isHole ?? true) ? nil : winner
        let offset = source.map { $0.offset + (position - $0.position) } ?? 0
        if var last = out.last, last.end == position, last.source == source,
           source == nil || last.sliceOffset + last.length == offset {
            // Equal SliceRefs at a contiguous offset are the same bytes even if listed twice.
            last.length += end - position
            out[out.count - 1] = last
            return
        }
        out.append(ResolvedSegment(position: position, length: end - position, source: source, sliceOffset: offset))
    }
}

/// A binary max-heap of slice-list indices.
struct IndexHeap {
    private var items: [Int] = []

    var top: Int? { items.first }

    mutating func push(_ v: Int) {
        items.append(v)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] < items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l] > items[m] { m = l }
            if r < items.count, items[r] > items[m] { m = r }
            if m == i { return }
            items.swapAt(i, m)
            i = m
        }
    }
}
