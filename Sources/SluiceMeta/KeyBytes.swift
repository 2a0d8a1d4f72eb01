#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-key arithmetic shared by the engines, so that every engine agrees on what a prefix
/// scan covers. Keys order as unsigned bytes (memcmp), a shorter key before its extensions.
enum KeyBytes {
    /// memcmp order: negative, zero or positive as `a` sorts before, equal to or after `b`.
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let common = min(a.count, b.count)
        if common > 0 {
            let c = a.withUnsafeBytes { pa in
                b.withUnsafeBytes { pb in memcmp(pa.baseAddress!, pb.baseAddress!, common) }
            }
            if c != 0 { return Int(c) }
        }
        return a.count - b.count
    }

    /// The smallest key greater than every key that starts with `prefix`, or nil when there is
    /// none (the prefix is empty or all 0xFF), i.e. the scan has no upper bound.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8]? {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            // 0xFF cannot be incremented: the successor is found one byte earlier.
            end.removeLast()
        }
        return nil
    }

    /// The inclusive lower bound of a scan of `prefix` that resumes strictly after `after`.
    /// The smallest key greater than `after` is `after + [0]`, which turns "strictly after"
    /// into one inclusive bound that engines can express as `k >= ?`.
    static func scanStart(prefix: [UInt8], after: [UInt8]?) -> [UInt8] {
        guard var next = after else { return prefix }
        next.append(0)
        return compare(next, prefix) > 0 ? next : prefix
    }

    /// Whether `key` lies in a scan's range: at or after `start`, before `end` (nil: no end).
    static func inScan(_ key: [UInt8], start: [UInt8], end: [UInt8]?) -> Bool {
        compare(key, start) >= 0 && (end.map { compare(key, $0) < 0 } ?? true)
    }

    static func hasPrefix(_ key: [UInt8], _ prefix: [UInt8]) -> Bool {
        key.count >= prefix.count && key.starts(with: prefix)
    }
}
