import SluiceBase
@testable import SluiceMeta
import XCTest

/// A Redis scan conflicts with exactly the changes inside the range it read: the engine checks
/// the range's digest at commit instead of watching the whole index. Each test changes the store
/// from a second engine (another client, as another mount would be) while the first engine's
/// transaction is between its scan and its commit, and counts how often the body ran.
final class RedisScanConflictTests: XCTestCase {
    private var server: RedisTestServer!
    private var engine: RedisEngine!
    private var other: RedisEngine!

    override func setUpWithError() throws {
        server = try RedisTestServer()
        engine = try RedisEngine(url: server.url)
        other = try RedisEngine(url: server.url)
        try engine.reset()
        try engine.write { tx in
            for name in ["dirA/a", "dirA/m", "dirB/a"] { try tx.set(Array(name.utf8), [0]) }
        }
    }

    override func tearDown() {
        engine?.close()
        other?.close()
        engine = nil
        other = nil
        server = nil
    }

    private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Runs a write transaction that scans `dirA/` (at most `limit` keys) and then sets
    /// `dirA/new`; during its first run only, `interfere` changes the store through the other
    /// engine. Returns how many times the body ran.
    private func scanThenWrite(limit: Int, interfere: (RedisEngine) throws -> Void) throws -> Int {
        var runs = 0
        try engine.write { tx in
            runs += 1
            _ = try tx.scan(prefix: key("dirA/"), after: nil, limit: limit)
            if runs == 1 { try interfere(other) }
            try tx.set(key("dirA/new"), [1])
        }
        return runs
    }

    func testCreateInAnotherPrefixDoesNotConflict() throws {
        let runs = try scanThenWrite(limit: 100) { try $0.write { try $0.set(Array("dirB/b".utf8), [2]) } }
        XCTAssertEqual(runs, 1, "a create in another directory leaves the scan valid")
        XCTAssertEqual(try engine.read { try $0.get(key("dirB/b")) }, [2])
    }

    func testDeleteInAnotherPrefixDoesNotConflict() throws {
        let runs = try scanThenWrite(limit: 100) { try $0.write { try $0.delete(Array("dirB/a".utf8)) } }
        XCTAssertEqual(runs, 1)
    }

    func testCreateInTheScannedRangeConflicts() throws {
        let runs = try scanThenWrite(limit: 100) { try $0.write { try $0.set(Array("dirA/c".utf8), [2]) } }
        XCTAssertEqual(runs, 2, "the scan missed dirA/c: the body must run again")
        let names = try engine.read { try $0.scan(prefix: key("dirA/"), after: nil, limit: 10).map(\.key) }
        XCTAssertEqual(names, ["dirA/a", "dirA/c", "dirA/m", "dirA/new"].map(key))
    }

    func testDeleteInTheScannedRangeConflicts() throws {
        let runs = try scanThenWrite(limit: 100) { try $0.write { try $0.delete(Array("dirA/m".utf8)) } }
        XCTAssertEqual(runs, 2)
    }

    func testChangedValueInTheScannedRangeConflicts() throws {
        let runs = try scanThenWrite(limit: 100) { try $0.write { try $0.set(Array("dirA/a".utf8), [9]) } }
        XCTAssertEqual(runs, 2, "the scan returned a value that changed")
    }

    /// A page cut by its limit covers only up to its last key: a create after it is outside
    /// what was read.
    func testCreateAfterAFullPageDoesNotConflict() throws {
        let runs = try scanThenWrite(limit: 1) { try $0.write { try $0.set(Array("dirA/z".utf8), [2]) } }
        XCTAssertEqual(runs, 1)
        let before = try scanThenWrite(limit: 1) { try $0.write { try $0.set(Array("dirA/0".utf8), [2]) } }
        XCTAssertEqual(before, 2, "a create before the page's last key is inside it")
    }

    /// A read-only transaction that read in several round trips validates its scans as well.
    func testReadOnlyScanIsValidated() throws {
        var runs = 0
        let seen = try engine.read { tx -> Int in
            runs += 1
            let page = try tx.scan(prefix: key("dirA/"), after: nil, limit: 100)
            if runs == 1 { try other.write { try $0.set(Array("dirA/b".utf8), [2]) } }
            _ = try tx.get(key("dirB/a"))
            return page.count
        }
        XCTAssertEqual(runs, 2)
        XCTAssertEqual(seen, 3)
    }

    /// The index is not watched: a scan leaves no WATCH on it, and a create elsewhere does not
    /// void a read-only transaction either.
    func testReadOnlyScanIgnoresOtherPrefixes() throws {
        var runs = 0
        _ = try engine.read { tx -> Int in
            runs += 1
            let page = try tx.scan(prefix: key("dirA/"), after: nil, limit: 100)
            if runs == 1 { try other.write { try $0.set(Array("dirB/z".utf8), [2]) } }
            _ = try tx.get(key("dirA/a"))
            return page.count
        }
        XCTAssertEqual(runs, 1)
    }
}
