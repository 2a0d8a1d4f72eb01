/// A transaction's buffered writes (a value to set, or nil for a deletion), which its own
/// reads and scans must see over the stored state. Shared by the engines that buffer writes
/// until commit (memory, Redis, PostgreSQL).
struct WriteOverlay {
    /// Buffered changes by key: `.some(value)` to set, `.some(nil)` to delete.
    private(set) var changes: [[UInt8]: [UInt8]?] = [:]

    var isEmpty: Bool { changes.isEmpty }

    /// The buffered change of `key`: nil when none, `.some(nil)` when it is deleted.
    subscript(key: [UInt8]) -> [UInt8]?? { changes[key] }

    mutating func set(_ key: [UInt8], _ value: [UInt8]) { changes[key] = .some(value) }

    mutating func delete(_ key: [UInt8]) { changes[key] = .some(nil) }

    /// The changed keys of a scan range, ascending.
    func keys(from start: [UInt8], to end: [UInt8]?) -> [[UInt8]] {
        changes.keys.filter { KeyBytes.inScan($0, start: start, end: end) }.sorted { KeyBytes.compare($0, $1) < 0 }
    }

    /// Up to `limit` pairs of the stored keys `base` (ascending, all within the range) merged
    /// with the changes `mine` (from `keys(from:to:)` of the same range): a change wins over a
    /// stored key, a deletion hides it, and a stored key whose `storedValue` is nil is skipped.
    func merge(base: some Sequence<[UInt8]>, mine: [[UInt8]], limit: Int,
               storedValue: ([UInt8]) -> [UInt8]?) -> [KVPair] {
        var result: [KVPair] = []
        var stored = base.makeIterator()
        var next = stored.next()
        var j = 0
        while result.count < limit {
            let change = j < mine.count ? mine[j] : nil
            let key: [UInt8]
            let value: [UInt8]?
            switch (next, change) {
            case (nil, nil):
                return result
            case let (b?, m?) where KeyBytes.compare(b, m) == 0:
                key = m; value = changes[m]!; next = stored.next(); j += 1
            case let (b?, m?) where KeyBytes.compare(b, m) < 0:
                key = b; value = storedValue(b); next = stored.next()
            case let (_, m?):
                key = m; value = changes[m]!; j += 1
            case let (b?, nil):
                key = b; value = storedValue(b); next = stored.next()
            }
            if let value { result.append(KVPair(key: key, value: value)) }
        }
        return result
    }
}
