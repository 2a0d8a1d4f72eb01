import Foundation
import SluiceBase
import SluiceObject

/// What one objbench run does: every object under `prefix`.
struct ObjBenchPlan {
    var prefix: String
    var blockSize: Int
    var bigObjectSize: Int
    var smallObjectSize: Int
    var smallObjects: Int
    var threads: Int

    /// The big object is stored as blocks of `blockSize` (the last possibly shorter), as a
    /// file's data is.
    var bigBlocks: Int { (bigObjectSize + blockSize - 1) / blockSize }
    func bigBlockLength(_ i: Int) -> Int { min(blockSize, bigObjectSize - i * blockSize) }
    func bigKey(_ i: Int) -> String { "\(prefix)big/\(i)" }
    func smallKey(_ i: Int) -> String { "\(prefix)small/\(i)" }
    var allKeys: [String] { (0..<bigBlocks).map(bigKey) + (0..<smallObjects).map(smallKey) }
}

/// The outcome of one objbench item: `operations` calls moving `bytes` in all, and the
/// latency of each call.
struct ObjBenchResult {
    var item: String
    var operations: Int
    var bytes: Int
    var seconds: Double
    var latencies: [Double]
    /// Throughput is shown in MiB/s for items that move data, in operations/s otherwise.
    var showsBytes: Bool

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}

/// Runs the objbench items in order, each spread over `threads` threads: put, get and head of
/// the big object's blocks and of the small objects, list, then delete of everything.
struct ObjBenchRunner {
    let plan: ObjBenchPlan
    let store: any ObjectStore

    func runAll() throws -> [ObjBenchResult] {
        let p = plan
        let big = Self.pattern(min(p.blockSize, max(p.bigObjectSize, 0)), seed: 1)
        let small = Self.pattern(p.smallObjectSize, seed: 2)
        var results: [ObjBenchResult] = []
        if p.bigBlocks > 0 {
            results.append(try item("Put big object", count: p.bigBlocks, showsBytes: true) { i in
                try store.put(p.bigKey(i), Array(big.prefix(p.bigBlockLength(i))))
                return p.bigBlockLength(i)
            })
            results.append(try item("Get big object", count: p.bigBlocks, showsBytes: true) { i in
                let data = try store.get(p.bigKey(i), offset: 0, length: nil)
                guard data.count == p.bigBlockLength(i) else { throw Self.mismatch(p.bigKey(i), data.count, p.bigBlockLength(i)) }
                return data.count
            })
        }
        if p.smallObjects > 0 {
            results.append(try item("Put small objects", count: p.smallObjects, showsBytes: false) { i in
                try store.put(p.smallKey(i), small)
                return small.count
            })
            results.append(try item("Get small objects", count: p.smallObjects, showsBytes: false) { i in
                let data = try store.get(p.smallKey(i), offset: 0, length: nil)
                guard data == small else { throw Self.mismatch(p.smallKey(i), data.count, small.count) }
                return data.count
            })
            results.append(try item("Head objects", count: p.smallObjects, showsBytes: false) { i in
                guard let info = try store.head(p.smallKey(i)), info.size == small.count else {
                    throw UsageError("head \(p.smallKey(i)): missing or wrong size")
                }
                return 0
            })
        }
        let expected = p.bigBlocks + p.smallObjects
        // Each list call walks the whole prefix in pages of up to 1000 keys.
        results.append(try item("List objects", count: max(4, p.threads), showsBytes: false) { _ in
            let keys = try listAll()
            guard keys.count == expected else { throw UsageError("list found \(keys.count) objects, expected \(expected)") }
            return 0
        })
        let keys = p.allKeys
        results.append(try item("Delete objects", count: keys.count, showsBytes: false) { i in
            try store.delete(keys[i])
            return 0
        })
        return results
    }

    /// Every key under the prefix.
    func listAll() throws -> [String] {
        var keys: [String] = []
        var after: String?
        while true {
            let page = try store.list(prefix: plan.prefix, after: after, limit: 1000)
            keys += page.map(\.key)
            guard page.count == 1000, let last = page.last else { return keys }
            after = last.key
        }
    }

    /// Deletes whatever is left under the prefix (after a failure); returns what remains.
    func cleanUp() -> Int {
        for key in (try? listAll()) ?? [] { try? store.delete(key) }
        return (try? listAll().count) ?? -1
    }

    /// Runs `body` for 0..<count spread over the threads (each thread takes every threads-th
    /// index); `body` returns the bytes it moved.
    private func item(_ name: String, count: Int, showsBytes: Bool,
                      _ body: @escaping @Sendable (Int) throws -> Int) throws -> ObjBenchResult {
        let bar = ProgressBar(title: name, total: count)
        let threads = max(1, min(plan.threads, count))
        let state = Locked<(latencies: [Double], bytes: Int, failure: (any Error)?)>(([], 0, nil))
        let start = monotonicNanoseconds()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var latencies: [Double] = []
            var bytes = 0
            var i = t
            do {
                while i < count {
                    let began = monotonicNanoseconds()
                    bytes += try body(i)
                    latencies.append(Double(monotonicNanoseconds() - began) / 1e6)
                    bar.advance()
                    i += threads
                }
            } catch {
                state.withLock { if $0.failure == nil { $0.failure = error } }
            }
            state.withLock {
                $0.latencies += latencies
                $0.bytes += bytes
            }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        bar.finish()
        let s = state.withLock { $0 }
        if let failure = s.failure { throw UsageError("\(name): \(failure)") }
        return ObjBenchResult(item: name, operations: count, bytes: s.bytes, seconds: max(seconds, 1e-9),
                              latencies: s.latencies, showsBytes: showsBytes)
    }

    /// Incompressible bytes (a xorshift stream), so compressing stores gain nothing.
    static func pattern(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = 0x9E37_79B9_7F4A_7C15 &* seed
        return [UInt8](unsafeUninitializedCapacity: n) { b, count in
            for i in 0..<n {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                b[i] = UInt8(truncatingIfNeeded: x)
            }
            count = n
        }
    }

    static func mismatch(_ key: String, _ got: Int, _ expected: Int) -> UsageError {
        UsageError("get \(key): \(got) bytes or wrong content, expected \(expected) bytes")
    }

    /// The results as a table: throughput, then average and 99th-percentile latency.
    static func table(_ results: [ObjBenchResult]) -> String {
        var rows: [(String, String, String)] = [("ITEM", "VALUE", "COST (avg / p99)")]
        for r in results {
            let value = r.showsBytes
                ? String(format: "%.2f MiB/s", Double(r.bytes) / r.seconds / 1_048_576)
                : String(format: "%.1f ops/s", Double(r.operations) / r.seconds)
            let average = r.latencies.reduce(0, +) / Double(max(1, r.latencies.count))
            rows.append((r.item, value, String(format: "%.2f / %.2f ms/op", average, r.percentile(0.99))))
        }
        return BenchReport.render(rows)
    }
}
