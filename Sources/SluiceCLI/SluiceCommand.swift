import ArgumentParser

/// The `sluice` command and its subcommands.
public struct SluiceCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Sluice: a distributed POSIX file system on object storage.",
        subcommands: [])
    public init() {}
}
