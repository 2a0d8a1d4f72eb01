import ArgumentParser
import Foundation
import SluiceBase
import SluiceMeta

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a volume's settings, usage and live sessions as JSON.")

    @Argument(help: "Metadata engine URL.")
    var metaURL: String

    struct Report: Encodable {
        var setting: VolumeSettings
        var usage: Usage
        var sessions: [SessionInfo]
    }

    struct Usage: Encodable {
        var usedBytes: UInt64
        var usedInodes: UInt64
    }

    func run() throws {
        let engine = try MetaEngines.open(url: metaURL, create: false)
        defer { engine.close() }
        let meta = MetaClient(engine: engine)
        let settings = try meta.settings()
        let usage = try meta.statfs()
        let report = Report(setting: settings.redacted, usage: Usage(usedBytes: usage.usedBytes, usedInodes: usage.usedInodes),
                            sessions: try meta.sessions())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
