import Synchronization

/// A reference-type mutex around a value, for state that FUSE threads and background workers
/// share. Keep critical sections short: never do I/O while holding it.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched while `mutex` is held.
    private let mutex = Mutex<Void>(())
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { _ in try body(&value) }
    }
}
