import ArgumentParser
import Foundation
import SluiceBase

/// The `sluice` command and its subcommands (one file each).
public struct SluiceCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Sluice: a distributed POSIX file system on object storage.",
        version: sluiceVersion,
        subcommands: [FormatCommand.self, MountCommand.self, UmountCommand.self, StatusCommand.self, InfoCommand.self,
                      BenchCommand.self, DumpCommand.self, LoadCommand.self, GcCommand.self,
                      FsckCommand.self, ObjBenchCommand.self, WarmupCommand.self])
    public init() {}

    /// Runs the command line; every failure ends as one line on stderr and a non-zero exit.
    public static func run() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch let error as UsageError {
            fail(error.message)
        } catch let error as EngineError {
            fail(error.message)
        } catch let error as Errno {
            fail(error.description)
        } catch {
            exit(withError: error)
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("sluice: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

public let sluiceVersion = "0.1.0"
