import SluiceBase
import SluiceMeta
import XCTest

/// The behaviour every `KVEngine` must show, as one reusable suite. An engine's tests get all
/// of it with a few lines:
///
///     func testConformance() throws {
///         KVEngineConformance(make: { try MyEngine(fresh store) },
///                             reopen: { try MyEngine(same store) }).runAll()
///     }
///
/// Each check opens its own engine with `make`, resets it, and closes it at the end. Failures
/// are reported at the caller's file and line, prefixed with the check's name.
public struct KVEngineConformance {
    /// Opens an engine on a new (or reset-able) store.
    public var make: () throws -> any KVEngine
    /// Opens another engine on the store that `make` opened last, as a restarted or second
    /// process would; nil for engines that keep nothing (memory), which skips the checks of
    /// persistence and of several clients on one store.
    public var reopen: (() throws -> any KVEngine)?

    public init(make: @escaping () throws -> any KVEngine, reopen: (() throws -> any KVEngine)? = nil) {
        self.make = make
        self.reopen = reopen
    }

    /// The individual checks, runnable one at a time with `run(_:)`.
    public enum Check: String, CaseIterable, Sendable {
        case basics, readYourWrites, rollbackOnThrow, readOnlyTransactions
        case prefixScans, paging, scanLimits, binaryKeys, largeValues, counters, getMany
        case concurrentWriters, snapshotReads, scanPhantoms, reset, persistence, sharedStore
    }

    /// Runs every check; a failing or throwing check is reported and the others still run.
    public func runAll(file: StaticString = #filePath, line: UInt = #line) {
        for check in Check.allCases { run(check, file: file, line: line) }
    }

    /// Runs one check.
    public func run(_ check: Check, file: StaticString = #filePath, line: UInt = #line) {
        let expect = Expect(check: check, file: file, line: line)
        do {
            switch check {
            case .persistence, .sharedStore:
                // These manage their own engines (they open the same store twice).
                guard let reopen else { return }
                if check == .persistence {
                    try checkPersistence(reopen: reopen, expect)
                } else {
                    try checkSharedStore(reopen: reopen, expect)
                }
            default:
                let engine = try make()
                defer { engine.close() }
                try engine.reset()
                try run(check, on: engine, expect)
            }
        } catch {
            XCTFail("[\(check.rawValue)] threw \(error)", file: file, line: line)
        }
    }

    private func run(_ check: Check, on engine: any KVEngine, _ expect: Expect) throws {
        switch check {
        case .basics: try checkBasics(engine, expect)
        case .readYourWrites: try checkReadYourWrites(engine, expect)
        case .rollbackOnThrow: try checkRollback(engine, expect)
        case .readOnlyTransactions: try checkReadOnly(engine, expect)
        case .prefixScans: try checkPrefixScans(engine, expect)
        case .paging: try checkPaging(engine, expect)
        case .scanLimits: try checkScanLimits(engine, expect)
        case .binaryKeys: try checkBinaryKeys(engine, expect)
        case .largeValues: try checkLargeValues(engine, expect)
        case .counters: try checkCounters(engine, expect)
        case .getMany: try checkGetMany(engine, expect)
        case .concurrentWriters: try checkConcurrentWriters(engine, expect)
        case .snapshotReads: try checkSnapshotReads(engine, expect)
        case .scanPhantoms: try checkScanPhantoms(engine, expect)
        case .reset: try checkReset(engine, expect)
        case .persistence, .sharedStore: break
        }
    }

    // MARK: Point operations

    private func checkBasics(_ engine: any KVEngine, _ expect: Expect) throws {
        let a = bytes("a"), b = bytes("b")
        expect.equal(try engine.read { try $0.get(a) }, nil, "absent key reads nil")
        try engine.write { try $0.set(a, bytes("1")); try $0.set(b, bytes("2")) }
        expect.equal(try engine.read { try $0.get(a) }, bytes("1"), "get after set")
        try engine.write { try $0.set(a, bytes("one")) }
        expect.equal(try engine.read { try $0.get(a) }, bytes("one"), "overwrite")
        try engine.write { try $0.delete(a) }
        expect.equal(try engine.read { try $0.get(a) }, nil, "get after delete")
        try engine.write { try $0.delete(a) }  // deleting an absent key is not an error
        expect.equal(try engine.read { try $0.get(b) }, bytes("2"), "other key untouched")
        let returned = try engine.write { tx -> Int in try tx.set(a, []); return 42 }
        expect.equal(returned, 42, "write returns the body's result")
        expect.equal(try engine.read { try $0.get(a) }, [], "empty value is not absent")
    }

    private func checkReadYourWrites(_ engine: any KVEngine, _ expect: Expect) throws {
        try engine.write { try $0.set(bytes("k/old"), bytes("x")) }
        try engine.write { tx in
            try tx.set(bytes("k/new"), bytes("v1"))
            expect.equal(try tx.get(bytes("k/new")), bytes("v1"), "own set visible")
            try tx.set(bytes("k/new"), bytes("v2"))
            expect.equal(try tx.get(bytes("k/new")), bytes("v2"), "own overwrite visible")
            try tx.delete(bytes("k/old"))
            expect.equal(try tx.get(bytes("k/old")), nil, "own delete visible")
            let pairs = try tx.scan(prefix: bytes("k/"), after: nil, limit: 10)
            expect.equal(pairs, [KVPair(key: bytes("k/new"), value: bytes("v2"))], "own writes in scan")
            expect.equal(try tx.get(many: [bytes("k/new"), bytes("k/old")]), [bytes("v2"), nil], "own writes in get(many:)")
        }
        expect.equal(try engine.read { try $0.get(bytes("k/new")) }, bytes("v2"), "committed")
    }

    private func checkRollback(_ engine: any KVEngine, _ expect: Expect) throws {
        try engine.write { tx in
            try tx.set(bytes("x"), bytes("1"))
            try tx.set(bytes("z"), bytes("3"))
        }
        do {
            try engine.write { tx in
                try tx.set(bytes("x"), bytes("2"))
                try tx.set(bytes("y"), bytes("new"))
                try tx.delete(bytes("z"))
                try tx.increment(bytes("n"), by: 1)
                throw Errno.noSuchFileOrDirectory
            }
            expect.fail("a throwing body must make write throw")
        } catch let error as Errno {
            expect.equal(error, .noSuchFileOrDirectory, "the body's error propagates unchanged")
        }
        let after = try engine.read { tx in try tx.scan(prefix: [], after: nil, limit: 10) }
        expect.equal(after, [KVPair(key: bytes("x"), value: bytes("1")), KVPair(key: bytes("z"), value: bytes("3"))],
                     "a throwing body leaves no trace")
    }

    private func checkReadOnly(_ engine: any KVEngine, _ expect: Expect) throws {
        do {
            try engine.read { tx in try tx.set(bytes("ro"), bytes("1")) }
            expect.fail("set inside read must throw")
        } catch {}
        expect.equal(try engine.read { try $0.get(bytes("ro")) }, nil, "nothing written by a read")
        do {
            try engine.read { _ in throw Errno.permissionDenied }
            expect.fail("a throwing read body must make read throw")
        } catch let error as Errno {
            expect.equal(error, .permissionDenied, "a read body's error propagates unchanged")
        }
    }

    private func checkBinaryKeys(_ engine: any KVEngine, _ expect: Expect) throws {
        let keys: [[UInt8]] = [[0], [0, 0], [0, 0, 0], [0, 1], [1, 0, 0], [0xFF, 0, 0xFF]]
        try engine.write { tx in
            for (i, key) in keys.enumerated() { try tx.set(key, [0, UInt8(i), 0]) }
        }
        for (i, key) in keys.enumerated() {
            expect.equal(try engine.read { try $0.get(key) }, [0, UInt8(i), 0], "key \(key)")
        }
        let zeros = try engine.read { try $0.scan(prefix: [0], after: nil, limit: 10) }.map(\.key)
        expect.equal(zeros, [[0], [0, 0], [0, 0, 0], [0, 1]], "zero bytes order as the smallest byte")
        let afterZero = try engine.read { try $0.scan(prefix: [0], after: [0], limit: 10) }.map(\.key)
        expect.equal(afterZero, [[0, 0], [0, 0, 0], [0, 1]], "after [0] excludes [0] itself")
    }

    private func checkLargeValues(_ engine: any KVEngine, _ expect: Expect) throws {
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        try engine.write { try $0.set(bytes("big"), big) }
        expect.isTrue(try engine.read { try $0.get(bytes("big")) } == big, "1 MiB value round-trips")
        let bigger = big + [7]
        try engine.write { try $0.set(bytes("big"), bigger) }
        let scanned = try engine.read { try $0.scan(prefix: bytes("big"), after: nil, limit: 1) }
        expect.isTrue(scanned.count == 1 && scanned[0].value == bigger, "overwritten large value in scan")
    }

    private func checkCounters(_ engine: any KVEngine, _ expect: Expect) throws {
        let key = bytes("counter")
        expect.equal(try engine.read { try $0.counter(key) }, 0, "absent counter is 0")
        expect.equal(try engine.write { try $0.increment(key, by: 5) }, 5, "increment returns the new value")
        expect.equal(try engine.write { try $0.increment(key, by: -2) }, 3, "negative delta")
        expect.equal(try engine.read { try $0.get(key) }, [0, 0, 0, 0, 0, 0, 0, 3], "stored big-endian")
        let twice = try engine.write { tx -> Int64 in
            try tx.increment(key, by: 10)
            return try tx.increment(key, by: 10)
        }
        expect.equal(twice, 23, "increments within one transaction accumulate")
    }

    private func checkGetMany(_ engine: any KVEngine, _ expect: Expect) throws {
        try engine.write { try $0.set(bytes("a"), bytes("A")); try $0.set(bytes("c"), bytes("C")) }
        let values = try engine.read { try $0.get(many: [bytes("a"), bytes("b"), bytes("c"), bytes("a")]) }
        expect.equal(values, [bytes("A"), nil, bytes("C"), bytes("A")], "values in key order, nil where absent")
        expect.equal(try engine.read { try $0.get(many: []) }, [], "no keys, no values")
    }

    private func checkReset(_ engine: any KVEngine, _ expect: Expect) throws {
        try engine.write { tx in for i in 0..<50 { try tx.set(bytes("r/\(i)"), bytes("v")) } }
        try engine.reset()
        expect.equal(try engine.read { try $0.scan(prefix: [], after: nil, limit: 10) }, [], "reset empties")
        expect.equal(try engine.read { try $0.get(bytes("r/1")) }, nil, "reset removes keys")
        try engine.write { try $0.set(bytes("r/1"), bytes("again")) }
        expect.equal(try engine.read { try $0.get(bytes("r/1")) }, bytes("again"), "usable after reset")
    }

    // MARK: Persistence

    private func checkPersistence(reopen: () throws -> any KVEngine, _ expect: Expect) throws {
        let first = try make()
        try first.reset()
        try first.write { tx in
            try tx.set(bytes("persist/a"), bytes("1"))
            try tx.set(bytes("persist/b"), [0, 0xFF])
            try tx.increment(bytes("persist/n"), by: 7)
        }
        try first.write { try $0.delete(bytes("persist/b")) }
        try first.sync()
        first.close()
        let second = try reopen()
        defer { second.close() }
        let pairs = try second.read { try $0.scan(prefix: bytes("persist/"), after: nil, limit: 10) }
        expect.equal(pairs.map(\.key), [bytes("persist/a"), bytes("persist/n")], "keys survive close and reopen")
        expect.equal(try second.read { try $0.counter(bytes("persist/n")) }, 7, "counter survives")
    }
}

/// Assertions that report at the suite's caller and name the check.
struct Expect {
    let check: KVEngineConformance.Check
    let file: StaticString
    let line: UInt

    func equal<T: Equatable>(_ actual: T?, _ expected: T?, _ what: String) {
        XCTAssertEqual(actual, expected, "[\(check.rawValue)] \(what)", file: file, line: line)
    }

    func isTrue(_ condition: Bool, _ what: String) {
        XCTAssertTrue(condition, "[\(check.rawValue)] \(what)", file: file, line: line)
    }

    func fail(_ what: String) {
        XCTFail("[\(check.rawValue)] \(what)", file: file, line: line)
    }
}

/// The UTF-8 bytes of `text`, for readable test keys.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
