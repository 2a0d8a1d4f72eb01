import ArgumentParser
import Foundation
import SluiceBase
import SluiceMeta

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load metadata written by `sluice dump` into an empty engine (from FILE, or standard input).")

    @Argument(help: "Metadata engine URL of an empty engine (a new database file is created).")
    var metaURL: String

    @Argument(help: "Dump file (default: standard input).")
    var file: String?

    func run() throws {
        let input: UnsafeMutablePointer<FILE>
        if let file {
            guard let f = fopen(file, "r") else { throw UsageError("\(file): \(String(cString: strerror(errno)))") }
            input = f
        } else {
            input = fdopen(0, "r")
        }
        defer { if file != nil { fclose(input) } }
        let engine = try MetaEngines.open(url: metaURL, create: true)
        defer { engine.close() }
        try MetaLoad.load(engine, lines: LineSequence(file: input))
        let settings = try MetaClient(engine: engine).settings()
        FileHandle.standardError.write(Data("loaded volume \"\(settings.name)\" into \(MetaEngines.redactedURL(metaURL))\n".utf8))
    }
}

/// Lines of a C stream, read one at a time so a dump of any size loads in bounded memory.
struct LineSequence: Sequence, IteratorProtocol {
    let file: UnsafeMutablePointer<FILE>
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    init(file: UnsafeMutablePointer<FILE>) { self.file = file }

    mutating func next() -> Substring? {
        let n = getline(&buffer, &capacity, file)
        guard n >= 0, let buffer else { return nil }
        var line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: n), as: UTF8.self)
        if line.hasSuffix("\n") { line.removeLast() }
        return Substring(line)
    }
}
