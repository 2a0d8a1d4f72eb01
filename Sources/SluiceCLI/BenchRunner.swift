import Foundation
import SluiceBase

/// What one bench run does.
struct BenchPlan {
    var directory: String
    var ioSize: Int
    var bigFileSize: Int
    var smallFileSize: Int
    var smallFileCount: Int
    var threads: Int

    func bigFile(_ thread: Int) -> String { "\(directory)/big.\(thread)" }
    func smallFile(_ thread: Int, _ i: Int) -> String { "\(directory)/small.\(thread).\(i)" }
}

/// The outcome of one bench item.
struct BenchResult {
    enum Unit { case bytes, files }
    var item: String
    var unit: Unit
    /// Bytes or files done in all.
    var amount: Double
    var seconds: Double
    /// Files each thread handled (for the per-file cost).
    var filesPerThread: Int
}

/// Runs the bench items one after the other, each on `threads` threads at once.
struct BenchRunner {
    let plan: BenchPlan

    func runAll() throws -> [BenchResult] {
        var results: [BenchResult] = []
        let p = plan
        if p.bigFileSize > 0 {
            results.append(try item("Write big file", .bytes, Double(p.bigFileSize * p.threads), files: 1,
                                    steps: p.bigFileSize / max(1, p.ioSize)) { t, progress in
                try writeFile(p.bigFile(t), size: p.bigFileSize, progress: progress)
            })
            results.append(try item("Read big file", .bytes, Double(p.bigFileSize * p.threads), files: 1,
                                    steps: p.bigFileSize / max(1, p.ioSize)) { t, progress in
                try readFile(p.bigFile(t), progress: progress)
            })
        }
        if p.smallFileCount > 0 {
            let n = p.smallFileCount
            results.append(try item("Write small file", .files, Double(n * p.threads), files: n, steps: n) { t, progress in
                for i in 0..<n {
                    try writeFile(p.smallFile(t, i), size: p.smallFileSize, progress: nil)
                    progress()
                }
            })
            results.append(try item("Read small file", .files, Double(n * p.threads), files: n, steps: n) { t, progress in
                for i in 0..<n {
                    try readFile(p.smallFile(t, i), progress: nil)
                    progress()
                }
            })
            results.append(try item("Stat file", .files, Double(n * p.threads), files: n, steps: n) { t, progress in
                var st = stat()
                for i in 0..<n {
                    guard stat(p.smallFile(t, i), &st) == 0 else { throw Self.failure("stat", p.smallFile(t, i)) }
                    progress()
                }
            })
        }
        return results
    }

    private func item(_ name: String, _ unit: BenchResult.Unit, _ amount: Double, files: Int, steps: Int,
                      _ body: @escaping @Sendable (Int, @escaping @Sendable () -> Void) throws -> Void) throws -> BenchResult {
        let bar = ProgressBar(title: name, total: steps * plan.threads)
        let failures = Locked<[any Error]>([])
        let start = monotonicNanoseconds()
        DispatchQueue.concurrentPerform(iterations: plan.threads) { t in
            do { try body(t, { bar.advance() }) } catch { failures.withLock { $0.append(error) } }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        bar.finish()
        if let first = failures.withLock({ $0.first }) { throw first }
        return BenchResult(item: name, unit: unit, amount: amount, seconds: seconds, filesPerThread: files)
    }

    private func writeFile(_ path: String, size: Int, progress: (() -> Void)?) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw Self.failure("create", path) }
        defer { close(fd) }
        let chunk = min(plan.ioSize, max(size, 1))
        let buffer = [UInt8](unsafeUninitializedCapacity: chunk) { b, n in
            for i in 0..<chunk { b[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
            n = chunk
        }
        var done = 0
        while done < size {
            let n = min(chunk, size - done)
            let w = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, n) }
            guard w == n else { throw Self.failure("write", path) }
            done += n
            progress?()
        }
        guard close(dup(fd)) == 0 else { throw Self.failure("close", path) }
    }

    private func readFile(_ path: String, progress: (() -> Void)?) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Self.failure("open", path) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: max(plan.ioSize, 4096))
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw Self.failure("read", path) }
            if n == 0 { break }
            progress?()
        }
    }

    static func failure(_ what: String, _ path: String) -> UsageError {
        UsageError("\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
