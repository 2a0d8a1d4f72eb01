import ArgumentParser
import Foundation
import SluiceBase
import SluiceMeta

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write a volume's whole metadata as JSON (to FILE, or standard output).")

    @Argument(help: "Metadata engine URL.")
    var metaURL: String

    @Argument(help: "Output file (default: standard output).")
    var file: String?

    func run() throws {
        let engine = try MetaEngines.open(url: metaURL, create: false)
        defer { engine.close() }
        let output: FileHandle
        var temp: String?
        if let file {
            // Written beside the target and renamed into place: a failed dump never leaves a
            // truncated file that looks like a backup.
            let t = file + ".tmp-\(getpid())"
            guard FileManager.default.createFile(atPath: t, contents: nil) else {
                throw UsageError("cannot create \(t)")
            }
            temp = t
            output = try FileHandle(forWritingTo: URL(fileURLWithPath: t))
        } else {
            output = FileHandle.standardOutput
        }
        var buffer = Data()
        do {
            try MetaDump.dump(engine) { text in
                buffer.append(contentsOf: text.utf8)
                if buffer.count >= 1 << 20 {
                    try output.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try output.write(contentsOf: buffer)
            if let temp, let file {
                try output.synchronize()
                try output.close()
                guard rename(temp, file) == 0 else { throw UsageError("cannot rename \(temp) to \(file)") }
            }
        } catch {
            if let temp { unlink(temp) }
            throw error
        }
    }
}
