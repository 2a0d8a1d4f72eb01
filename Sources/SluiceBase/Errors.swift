@_exported import SystemPackage

/// A failure of an engine (metadata or object store) that is not a POSIX outcome: the engine
/// was unreachable, answered with something unexpected, or its data is damaged. At the edges it
/// becomes EIO, with the message logged.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A problem with what a user asked for (a bad URL, an option out of range, an unformatted
/// volume). The CLI prints the message on one line and exits non-zero.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Errno {
    /// Maps any error to the errno reported at an edge: POSIX outcomes keep their value,
    /// everything else is an I/O error.
    public static func from(_ error: any Error) -> Errno {
        if let e = error as? Errno { return e }
        return .ioError
    }
}
