import Foundation
import SluiceBase
import SluiceObject
import SluiceTestSupport

/// A memory store that counts calls and can fail or slow down puts and gets on demand.
final class InstrumentedStore: ObjectStore {
    struct Settings {
        var failPuts = 0          // this many next puts fail
        var failAllPuts = false
        var putDelay: Double = 0  // seconds
        var getDelay: Double = 0
        var puts = 0
        var gets = 0
    }

    let inner = MemoryStore()
    let settings = Locked(Settings())

    var description: String { "instrumented" }
    var gets: Int { settings.withLock { $0.gets } }
    var puts: Int { settings.withLock { $0.puts } }

    func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        let delay = settings.withLock { s -> Double in
            s.gets += 1
            return s.getDelay
        }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return try inner.get(key, offset: offset, length: length)
    }

    func put(_ key: String, _ data: [UInt8]) throws {
        let (fail, delay) = settings.withLock { s -> (Bool, Double) in
            s.puts += 1
            if s.failAllPuts { return (true, s.putDelay) }
            if s.failPuts > 0 {
                s.failPuts -= 1
                return (true, s.putDelay)
            }
            return (false, s.putDelay)
        }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        if fail { throw EngineError("injected put failure") }
        try inner.put(key, data)
    }

    func head(_ key: String) throws -> ObjectInfo? { try inner.head(key) }
    func delete(_ key: String) throws { try inner.delete(key) }
    func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try inner.list(prefix: prefix, after: after, limit: limit)
    }
    func sync(_ keys: [String]) throws {}
}
