import Dispatch
import PostgresNIO
import SluiceBase

/// Why a PostgreSQL operation failed, as the engine's retry loop needs to know it. Internal:
/// a transaction body can never throw one of its own, so every `PostgresFailure` seen by the
/// loop came from the engine.
enum PostgresFailure: Error, CustomStringConvertible {
    /// A serialization failure (40001) or deadlock (40P01): the transaction was rolled back and
    /// running it again may succeed.
    case conflict(String)
    /// The connection could not be made, was lost or timed out. Anything not yet committed was
    /// rolled back by the server; the connection is discarded.
    case connection(String)
    /// Authentication failed, the database is missing, … : retrying will not help.
    case refused(String)
    /// Any other error the server reported.
    case server(String)

    var description: String {
        switch self {
        case .conflict(let m), .connection(let m), .refused(let m), .server(let m): return m
        }
    }

    /// Classifies an error from postgres-nio or NIO. PSQLError's own description hides every
    /// detail, so messages are built from its server fields and code.
    init(_ error: any Error) {
        if let failure = error as? PostgresFailure {
            self = failure
            return
        }
        guard let error = error as? PSQLError else {
            self = .connection("\(error)")
            return
        }
        if error.code == .server, let info = error.serverInfo {
            let state = info[.sqlState] ?? "?????"
            let text = "\(info[.message] ?? "server error") (SQLSTATE \(state))"
            switch state {
            case "40001", "40P01":
                self = .conflict(text)
            case "28000", "28P01", "3D000", "42501":
                // Bad credentials, unknown database, missing privilege.
                self = .refused(text)
            case _ where state.hasPrefix("08") || state.hasPrefix("57"):
                // Connection exceptions; admin shutdown / crash shutdown / starting up.
                self = .connection(text)
            default:
                self = .server(text)
            }
            return
        }
        if let underlying = error.underlying, let reason = TLSFailure.describe(underlying) {
            // At open this is one error line; later, a lost connection like any other.
            self = .connection("TLS \(reason)")
            return
        }
        var text = "\(error.code)"
        if let underlying = error.underlying { text += ": \(underlying)" }
        switch error.code {
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError, .sslUnsupported:
            self = .refused(text)
        default:
            self = .connection(text)
        }
    }
}

/// Waits, from a plain thread, for a future completed on the engine's event loops. Every wait
/// is bounded: the KVEngine API is synchronous and a FUSE thread must never hang for ever on a
/// server that stopped answering.
enum PostgresBridge {
    struct TimedOut: Error {}

    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Int64) throws -> T {
        // Waiting on an event loop thread would block the loop that must complete the future.
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil,
                     "PostgresEngine must not be called from an event loop thread")
        let outcome = Locked<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        if done.wait(timeout: .now() + .seconds(Int(seconds))) == .timedOut { throw TimedOut() }
        return try outcome.withLock { $0! }.get()
    }
}

/// One connection, used by one transaction at a time.
final class PostgresSession {
    let connection: PostgresConnection
    /// Set when the connection must not be reused (lost, timed out, stuck in a transaction).
    var broken = false
    private let logger: Logger
    private let queryTimeout: Int64

    init(connection: PostgresConnection, logger: Logger, queryTimeout: Int64) {
        self.connection = connection
        self.logger = logger
        self.queryTimeout = queryTimeout
    }

    /// Runs one statement (one round trip: Parse/Bind/Describe/Execute/Sync) and collects its
    /// rows. A connection failure or a timeout marks the session broken and closes it.
    func query(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) throws -> PostgresQueryResult {
        try wait(send(sql, binds))
    }

    /// Queues one statement without waiting for it. postgres-nio runs a connection's statements
    /// one after the other, each only once the previous one has completed, so statements queued
    /// together cost one wait of the calling thread instead of one each, and a statement is
    /// never sent before the one queued ahead of it has answered.
    func send(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) throws -> EventLoopFuture<PostgresQueryResult> {
        if broken || connection.isClosed {
            broken = true
            throw PostgresFailure.connection("connection is closed")
        }
        return connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
    }

    /// Queues `statements` in order and waits once until every one has completed, returning
    /// each outcome (a statement after a failed one still runs; see `send`). All of them are
    /// handed to the event loop in one task and completion wakes the caller once, so a batch
    /// costs two thread wake-ups however many statements it holds — on a busy machine each
    /// wake-up waits for a core. A timeout closes the connection; a failure is classified as
    /// by `query` and marks the session broken when the connection went away.
    func run(_ statements: [(sql: String, binds: PostgresBindings)]) throws -> [Result<PostgresQueryResult, PostgresFailure>] {
        if broken || connection.isClosed {
            broken = true
            throw PostgresFailure.connection("connection is closed")
        }
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil,
                     "PostgresEngine must not be called from an event loop thread")
        let connection = self.connection
        let logger = self.logger
        let outcomes = Locked<[Result<PostgresQueryResult, any Error>?]>(Array(repeating: nil, count: statements.count))
        let done = DispatchSemaphore(value: 0)
        connection.eventLoop.execute {
            for (index, statement) in statements.enumerated() {
                connection.query(PostgresQuery(unsafeSQL: statement.sql, binds: statement.binds), logger: logger)
                    .whenComplete { result in
                        let last = outcomes.withLock { outcomes -> Bool in
                            outcomes[index] = result
                            return !outcomes.contains { $0 == nil }
                        }
                        if last { done.signal() }
                    }
            }
        }
        if done.wait(timeout: .now() + .seconds(Int(queryTimeout))) == .timedOut {
            close()
            throw PostgresFailure.connection("no answer within \(queryTimeout) s")
        }
        return outcomes.withLock { $0 }.map { outcome in
            switch outcome! {
            case .success(let rows):
                return .success(rows)
            case .failure(let error):
                let failure = PostgresFailure(error)
                if case .connection = failure { broken = true }
                if connection.isClosed { broken = true }
                return .failure(failure)
            }
        }
    }

    /// Waits for a future of this session's connection, classifying its failure as `query`
    /// does.
    func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        do {
            return try PostgresBridge.wait(future, seconds: queryTimeout)
        } catch is PostgresBridge.TimedOut {
            close()
            throw PostgresFailure.connection("no answer within \(queryTimeout) s")
        } catch {
            let failure = PostgresFailure(error)
            if case .connection = failure { broken = true }
            if connection.isClosed { broken = true }
            throw failure
        }
    }

    /// Closes `connection` without waiting. The callback keeps it alive until the channel has
    /// closed: postgres-nio asserts that a connection is never freed while still open.
    static func closeInBackground(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    func close() {
        broken = true
        Self.closeInBackground(connection)
    }
}

/// A small pool of connections, created on demand up to `size`. A session taken out belongs
/// to one transaction until it is given back; broken sessions are closed, never reused.
final class PostgresPool: @unchecked Sendable {
    // @unchecked: mutable state is behind `state`'s lock; sessions are handed to one caller at
    // a time.
    let group: MultiThreadedEventLoopGroup
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let slots: DispatchSemaphore
    private let state = Locked(State())
    private let connectTimeout: Int64
    private let queryTimeout: Int64
    private let slotTimeout: Int64

    private struct State {
        var idle: [PostgresSession] = []
        var closed = false
        var nextID = 0
    }

    init(configuration: PostgresConnection.Configuration, size: Int,
         connectTimeout: Int64, queryTimeout: Int64, slotTimeout: Int64) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        self.configuration = configuration
        var logger = Logger(label: "sluice.postgres")
        logger.logLevel = .critical
        self.logger = logger
        slots = DispatchSemaphore(value: size)
        self.connectTimeout = connectTimeout
        self.queryTimeout = queryTimeout
        self.slotTimeout = slotTimeout
    }

    /// Runs `body` with a session of its own, giving it back (or closing it if broken) after.
    func withSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        if slots.wait(timeout: .now() + .seconds(Int(slotTimeout))) == .timedOut {
            throw PostgresFailure.connection("no free connection within \(slotTimeout) s")
        }
        defer { slots.signal() }
        let session = try checkOut()
        defer { checkIn(session) }
        return try body(session)
    }

    /// Opens a new connection (outside the pool's accounting), for the engine's first check.
    func connect() throws -> PostgresSession {
        let id = try state.withLock { state -> Int in
            if state.closed { throw PostgresFailure.refused("engine is closed") }
            state.nextID += 1
            return state.nextID
        }
        let future = PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger)
        do {
            // NIO's own connect timeout fires first; the extra seconds cover authentication.
            let connection = try PostgresBridge.wait(future, seconds: connectTimeout + 5)
            return PostgresSession(connection: connection, logger: logger, queryTimeout: queryTimeout)
        } catch is PostgresBridge.TimedOut {
            future.whenSuccess { PostgresSession.closeInBackground($0) }
            throw PostgresFailure.connection("no answer within \(connectTimeout + 5) s")
        } catch {
            throw PostgresFailure(error)
        }
    }

    private func checkOut() throws -> PostgresSession {
        while true {
            let reused = try state.withLock { state -> PostgresSession? in
                if state.closed { throw PostgresFailure.refused("engine is closed") }
                return state.idle.popLast()
            }
            guard let reused else { return try connect() }
            // The server closes idle connections when it shuts down: skip those it already did.
            if !reused.connection.isClosed { return reused }
            reused.close()
        }
    }

    func checkIn(_ session: PostgresSession) {
        let keep = !session.broken && !session.connection.isClosed && state.withLock { state -> Bool in
            if state.closed { return false }
            state.idle.append(session)
            return true
        }
        if !keep { session.close() }
    }

    /// Closes idle connections and stops the event loops. Sessions still in use fail and are
    /// closed when they come back.
    func close() {
        let idle = state.withLock { state -> [PostgresSession]? in
            if state.closed { return nil }
            state.closed = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        guard let idle else { return }
        for session in idle {
            _ = try? PostgresBridge.wait(session.connection.close(), seconds: 5)
        }
        let stopped = DispatchSemaphore(value: 0)
        group.shutdownGracefully { _ in stopped.signal() }
        _ = stopped.wait(timeout: .now() + .seconds(10))
    }
}
