import Synchronization

/// A count of operations and the time they took, updated lock-free from any thread.
public final class OperationCounter: Sendable {
    public let name: String
    private let count = Atomic<UInt64>(0)
    private let nanoseconds = Atomic<UInt64>(0)

    public init(_ name: String) { self.name = name }

    /// Records one operation that started at `start` (from `monotonicNanoseconds()`).
    @inline(__always) public func record(since start: UInt64) {
        count.add(1, ordering: .relaxed)
        nanoseconds.add(monotonicNanoseconds() &- start, ordering: .relaxed)
    }

    /// Records one operation whose duration is not measured.
    @inline(__always) public func increment() { count.add(1, ordering: .relaxed) }

    /// Runs `body` and records it.
    @inline(__always) public func time<T>(_ body: () throws -> T) rethrows -> T {
        let start = monotonicNanoseconds()
        defer { record(since: start) }
        return try body()
    }

    public var snapshot: (count: UInt64, nanoseconds: UInt64) {
        (count.load(ordering: .relaxed), nanoseconds.load(ordering: .relaxed))
    }
}

/// The process's operation counters, which `sluice bench` reads from a mount to show where time
/// went (FUSE requests, metadata transactions, object store calls).
public enum OperationStats {
    public static let fuse = OperationCounter("fuse")
    public static let metaRead = OperationCounter("meta.read")
    public static let metaWrite = OperationCounter("meta.write")
    public static let objectGet = OperationCounter("object.get")
    public static let objectPut = OperationCounter("object.put")
    public static let objectDelete = OperationCounter("object.delete")
    public static let objectHead = OperationCounter("object.head")
    public static let objectList = OperationCounter("object.list")
    /// Gets served by the local disk cache, gets it could not serve, objects it wrote and
    /// objects it evicted (or dropped as damaged).
    public static let cacheHit = OperationCounter("cache.hit")
    public static let cacheMiss = OperationCounter("cache.miss")
    public static let cacheWrite = OperationCounter("cache.write")
    public static let cacheEvict = OperationCounter("cache.evict")

    /// Whole blocks fetched in the background ahead of sequential readers.
    public static let readAhead = OperationCounter("block.readahead")
    /// Whole blocks fetched in the background after a random read missed them (`--prefetch`).
    public static let randomPrefetch = OperationCounter("block.prefetch")

    public static let all = [fuse, metaRead, metaWrite, objectGet, objectPut, objectDelete, objectHead, objectList,
                             cacheHit, cacheMiss, cacheWrite, cacheEvict, readAhead, randomPrefetch]

    /// `name count nanoseconds` lines, one per counter.
    public static func render() -> String {
        all.map { c in
            let s = c.snapshot
            return "\(c.name) \(s.count) \(s.nanoseconds)"
        }.joined(separator: "\n")
    }

    /// Parses what `render` wrote.
    public static func parse(_ text: String) -> [String: (count: UInt64, nanoseconds: UInt64)] {
        var out: [String: (count: UInt64, nanoseconds: UInt64)] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, let c = UInt64(f[1]), let n = UInt64(f[2]) else { continue }
            out[String(f[0])] = (c, n)
        }
        return out
    }
}
