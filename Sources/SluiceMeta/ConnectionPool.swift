import Dispatch
import SluiceBase

/// A blocking connection the pool can hand out again, or must close.
protocol PooledConnection: AnyObject {
    /// Whether the connection may serve another transaction (it is open and left no state behind).
    var isReusable: Bool { get }
    func close()
}

/// The connection pool the blocking engines share (SQLite, Redis): at most `capacity`
/// connections, each serving one transaction at a time; callers beyond that wait for a slot.
/// Connections are opened outside the lock (opening touches the disk or the network) and a
/// connection that comes back unusable, or after `close()`, is closed instead of kept.
final class ConnectionPool<Connection: PooledConnection>: @unchecked Sendable {
    // @unchecked: `state` is a `Locked`; `open` is only called, never changed.
    private struct State {
        var idle: [Connection] = []
        var closed = false
    }

    private let state: Locked<State>
    /// Counts free slots so that a caller waits (rather than spins) when all are in use.
    private let slots: DispatchSemaphore
    private let open: () throws -> Connection
    private let closedMessage: String

    /// `first` is the connection the engine opened to check its settings; `closedMessage`
    /// is the error text for use after `close()`.
    init(capacity: Int, first: Connection, closedMessage: String, open: @escaping () throws -> Connection) {
        state = Locked(State(idle: [first]))
        slots = DispatchSemaphore(value: capacity)
        self.open = open
        self.closedMessage = closedMessage
    }

    /// Runs `body` with a connection of its own, returning the connection to the pool after.
    func with<T>(_ body: (Connection) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        let reused = try state.withLock { s -> Connection? in
            if s.closed { throw EngineError(closedMessage) }
            return s.idle.popLast()
        }
        let connection = try reused ?? open()
        defer { checkIn(connection) }
        return try body(connection)
    }

    private func checkIn(_ connection: Connection) {
        let keep = connection.isReusable && state.withLock { s -> Bool in
            if s.closed { return false }
            s.idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes the idle connections (after a failure that may have broken them all).
    func dropIdle() {
        let idle = state.withLock { s -> [Connection] in
            defer { s.idle.removeAll() }
            return s.idle
        }
        for connection in idle { connection.close() }
    }

    /// Refuses further use and closes idle connections; those in use close when they come back.
    func close() {
        state.withLock { $0.closed = true }
        dropIdle()
    }
}
