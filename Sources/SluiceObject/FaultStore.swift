import Foundation
import SluiceBase

/// Injects failures and delays into a store, for tests of what the layers above do when the
/// store misbehaves: each call fails (with an `EngineError`, as a network error would) with
/// probability `failureRate`, and waits `delay` seconds first with probability `delayRate`.
/// The random sequence is seeded, so a failing run can be repeated.
public final class FaultStore: ObjectStore, @unchecked Sendable {
    // @unchecked: `generator` is only touched under `lock`.
    public let base: any ObjectStore
    public let failureRate: Double
    public let delayRate: Double
    public let delay: Double
    private let lock = NSLock()
    private var generator: SplitMix
    private(set) public var injectedFailures = 0

    public init(_ base: any ObjectStore, failureRate: Double, delayRate: Double = 0, delay: Double = 0, seed: UInt64 = 1) {
        self.base = base
        self.failureRate = failureRate
        self.delayRate = delayRate
        self.delay = delay
        generator = SplitMix(seed)
    }

    public var description: String { "faulty(\(base.description))" }

    private func disturb(_ what: String) throws {
        lock.lock()
        let fail = Double(generator.next() % 1_000_000) / 1_000_000 < failureRate
        let slow = Double(generator.next() % 1_000_000) / 1_000_000 < delayRate
        if fail { injectedFailures += 1 }
        lock.unlock()
        if slow { Thread.sleep(forTimeInterval: delay) }
        if fail { throw EngineError("injected failure of \(what)") }
    }

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        try disturb("get")
        return try base.get(key, offset: offset, length: length)
    }

    public func put(_ key: String, _ data: [UInt8]) throws {
        try disturb("put")
        try base.put(key, data)
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        try disturb("head")
        return try base.head(key)
    }

    public func delete(_ key: String) throws {
        try disturb("delete")
        try base.delete(key)
    }

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        try disturb("list")
        return try base.list(prefix: prefix, after: after, limit: limit)
    }

    public func sync(_ keys: [String]) throws {
        try disturb("sync")
        try base.sync(keys)
    }

    public func dropCachedCopy(_ key: String) -> Bool { base.dropCachedCopy(key) }
    public func warm(_ key: String) throws -> Bool { try base.warm(key) }
}

/// A small seeded generator (SplitMix64).
struct SplitMix {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
