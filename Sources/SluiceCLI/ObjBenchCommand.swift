import ArgumentParser
import Foundation
import SluiceBase
import SluiceObject

/// `sluice objbench`: measures an object store on its own (no volume, no metadata): put, get,
/// head, list and delete of one big object (as blocks) and many small ones. Everything goes
/// under a fresh prefix and is deleted at the end, also after a failure.
struct ObjBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objbench",
        abstract: "Benchmark an object store: put/get/head/list/delete throughput and latency.")

    @Option(help: "Object storage: file or s3.")
    var storage = "file"

    @Option(help: "A directory for file storage; for s3 a bucket URL, http(s)://host:port/bucket[/prefix].")
    var bucket: String

    @OptionGroup var credentials: S3CredentialOptions

    @Option(help: ArgumentHelp("S3 over https: CA certificates (PEM) to verify the endpoint with (default: SLUICE_CA_FILE, "
                               + "else the system trust store).", valueName: "PEM_FILE"))
    var caFile: String?

    @Option(help: "Size of each block of the big object, e.g. 4M.")
    var blockSize = "4M"

    @Option(help: "Size of the big object, in MiB (or with a unit, e.g. 256M); 0 skips it.")
    var bigObjectSize = "1024"

    @Option(help: "Size of each small object, in KiB (or with a unit).")
    var smallObjectSize = "128"

    @Option(help: "Number of small objects; 0 skips them.")
    var smallObjects = 100

    @Option(name: [.customShort("p"), .long], help: "Concurrent threads.")
    var threads = 4

    func run() throws {
        guard ["file", "s3"].contains(storage) else { throw UsageError("unsupported storage \"\(storage)\" (file or s3)") }
        guard threads >= 1, threads <= 256 else { throw UsageError("threads must be 1-256") }
        guard smallObjects >= 0 else { throw UsageError("small objects must not be negative") }
        try credentials.check(storage: storage)
        let plan = ObjBenchPlan(
            prefix: "__sluice_objbench_\(getpid())_\(UInt32.random(in: 0...UInt32.max))/",
            blockSize: try SizeOption.parse(blockSize, unit: 1 << 20, name: "block size"),
            bigObjectSize: try SizeOption.parse(bigObjectSize, unit: 1 << 20, name: "big object size", allowZero: true),
            smallObjectSize: try SizeOption.parse(smallObjectSize, unit: 1 << 10, name: "small object size", allowZero: true),
            smallObjects: smallObjects, threads: threads)
        guard plan.blockSize <= 64 << 20 else { throw UsageError("block size \(blockSize) is too large (at most 64M)") }

        let envCA = ProcessInfo.processInfo.environment["SLUICE_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        var options = credentials.storeOptions
        options.caFile = caFile ?? envCA
        let store = try ObjectStores.open(storage: storage, bucket: bucket, options: options)
        let s3 = store as? S3Store
        defer { s3?.close() }
        try s3?.check()
        print("objbench \(store.description) under \(plan.prefix): big object \(ByteSize.format(plan.bigObjectSize)) "
              + "in \(ByteSize.format(plan.blockSize)) blocks, \(plan.smallObjects) small objects of "
              + "\(ByteSize.format(plan.smallObjectSize)), \(threads) threads")

        let runner = ObjBenchRunner(plan: plan, store: store)
        let started = Date()
        let results: [ObjBenchResult]
        do {
            results = try runner.runAll()
        } catch {
            let left = runner.cleanUp()
            throw UsageError("\(error)" + (left == 0 ? "" : " (\(left) objects under \(plan.prefix) could not be deleted)"))
        }
        let left = runner.cleanUp()
        print(ObjBenchRunner.table(results))
        print(String(format: "Time used: %.1f s, objects left behind: %d", Date().timeIntervalSince(started), left))
        if left != 0 { throw UsageError("\(left) objects under \(plan.prefix) could not be deleted") }
    }
}
