import ArgumentParser
import Foundation
import SluiceBase
import SluiceFUSE

/// `sluice bench PATH`: the benchmark JuiceFS users know, with the same items and flags, so the
/// numbers compare directly.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark a directory: big and small file write/read and stat.")

    @Argument(help: "A directory to run in (a mounted Sluice volume, or any file system).")
    var path: String

    @Option(help: "I/O size of the big-file items, in MiB (or with a unit, e.g. 1M).")
    var blockSize = "1"

    @Option(help: "Size of each big file, in MiB (or with a unit).")
    var bigFileSize = "1024"

    @Option(help: "Size of each small file, in KiB (or with a unit).")
    var smallFileSize = "128"

    @Option(help: "Small files per thread.")
    var smallFileCount = 100

    @Option(name: [.customShort("p"), .long], help: "Concurrent threads.")
    var threads = 1

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw UsageError("\(path) is not a directory")
        }
        guard threads >= 1, threads <= 256 else { throw UsageError("threads must be 1-256") }
        guard smallFileCount >= 0 else { throw UsageError("small file count must not be negative") }
        let plan = BenchPlan(
            directory: (path as NSString).appendingPathComponent("__sluice_bench_\(getpid())"),
            ioSize: try SizeOption.parse(blockSize, unit: 1 << 20, name: "block size"),
            bigFileSize: try SizeOption.parse(bigFileSize, unit: 1 << 20, name: "big file size", allowZero: true),
            smallFileSize: try SizeOption.parse(smallFileSize, unit: 1 << 10, name: "small file size", allowZero: true),
            smallFileCount: smallFileCount, threads: threads)
        let statsBefore = MountPointControl.stats(path)
        try FileManager.default.createDirectory(atPath: plan.directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: plan.directory) }
        let cpuBefore = ProcessUsage.cpuSeconds()
        let started = Date()
        let results = try BenchRunner(plan: plan).runAll()
        let elapsed = Date().timeIntervalSince(started)
        let statsAfter = MountPointControl.stats(path)
        print(BenchReport.table(results: results, plan: plan))
        print(BenchReport.usage(elapsed: elapsed, benchCPU: ProcessUsage.cpuSeconds() - cpuBefore,
                                statsBefore: statsBefore, statsAfter: statsAfter))
    }
}
