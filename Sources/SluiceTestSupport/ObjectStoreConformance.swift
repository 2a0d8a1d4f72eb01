import Foundation
import SluiceBase
import SluiceObject
import XCTest

/// The checks every `ObjectStore` must pass. A store's test case runs them all with
///
///     func testConformance() throws {
///         ObjectStoreConformance.runAll(on: try makeStore())
///     }
///
/// Each check works under its own fresh key prefix (`prefix` + run id + check name + "/"), so
/// a shared, non-empty bucket (a real S3 bucket) works as well as a new store. Failures are
/// reported through XCTest with the check's name.
public enum ObjectStoreConformance {
    /// One named check: it gets the store and the key prefix it must keep to.
    public struct Check: Sendable {
        public let name: String
        public let run: @Sendable (_ store: any ObjectStore, _ prefix: String) throws -> Void
    }

    /// Runs every check against `store`, each under `prefix` + a random run id + its name.
    public static func runAll(on store: any ObjectStore, prefix: String = "conformance/",
                              file: StaticString = #filePath, line: UInt = #line) {
        let run = "\(prefix)\(UInt32.random(in: 0...UInt32.max))/"
        for check in checks {
            do {
                try check.run(store, "\(run)\(check.name)/")
            } catch {
                XCTFail("[\(store.description)] \(check.name) threw \(error)", file: file, line: line)
            }
        }
    }

    /// All checks, in the order `runAll` runs them.
    public static let checks: [Check] = [
        Check(name: "putGet", run: putGet),
        Check(name: "rangeGet", run: rangeGet),
        Check(name: "overwrite", run: overwrite),
        Check(name: "head", run: head),
        Check(name: "delete", run: delete),
        Check(name: "missing", run: missing),
        Check(name: "emptyObject", run: emptyObject),
        Check(name: "largeObject", run: largeObject),
        Check(name: "nestedKeys", run: nestedKeys),
        Check(name: "listOrder", run: listOrder),
        Check(name: "listPaging", run: listPaging),
        Check(name: "concurrent", run: concurrent),
    ]

    /// Deterministic bytes, different for each seed, so misplaced ranges show.
    public static func pattern(_ count: Int, seed: Int) -> [UInt8] {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func expect(_ ok: @autoclosure () throws -> Bool, _ message: @autoclosure () -> String,
                       _ check: String = #function, file: StaticString = #filePath, line: UInt = #line) {
        do {
            if try !ok() { XCTFail("\(check): \(message())", file: file, line: line) }
        } catch {
            XCTFail("\(check): \(message()) threw \(error)", file: file, line: line)
        }
    }

    /// Whether `body` throws exactly `Errno.noSuchFileOrDirectory`.
    static func throwsMissing(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let e as Errno {
            return e == .noSuchFileOrDirectory
        } catch {
            return false
        }
    }

    static func byteSorted(_ keys: [String]) -> [String] {
        keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    @Sendable static func putGet(_ store: any ObjectStore, _ p: String) throws {
        let data = pattern(1000, seed: 1)
        try store.put(p + "a", data)
        expect(try store.get(p + "a", offset: 0, length: nil) == data, "get returns what put stored")
    }

    @Sendable static func rangeGet(_ store: any ObjectStore, _ p: String) throws {
        let data = pattern(1000, seed: 2)
        try store.put(p + "r", data)
        expect(try store.get(p + "r", offset: 100, length: 50) == Array(data[100..<150]), "middle range")
        expect(try store.get(p + "r", offset: 900, length: nil) == Array(data[900...]), "to the end")
        expect(try store.get(p + "r", offset: 990, length: 100) == Array(data[990...]), "range past end is cut")
        expect(try store.get(p + "r", offset: 1000, length: 10) == [], "range at end is empty")
        expect(try store.get(p + "r", offset: 5000, length: 10) == [], "range beyond end is empty")
        expect(try store.get(p + "r", offset: 0, length: 0) == [], "empty range")
    }

    @Sendable static func overwrite(_ store: any ObjectStore, _ p: String) throws {
        try store.put(p + "o", pattern(5000, seed: 3))
        let second = pattern(10, seed: 4)
        try store.put(p + "o", second)
        expect(try store.get(p + "o", offset: 0, length: nil) == second, "overwrite replaces the whole object")
        expect(try store.head(p + "o")?.size == 10, "head sees the new size")
    }

    @Sendable static func head(_ store: any ObjectStore, _ p: String) throws {
        try store.put(p + "h", pattern(123, seed: 5))
        expect(try store.head(p + "h") == ObjectInfo(key: p + "h", size: 123), "head of present object")
        expect(try store.head(p + "nothing") == nil, "head of missing object is nil")
        expect(try store.head(p + "nothing/deeper") == nil, "head of missing nested object is nil")
    }

    @Sendable static func delete(_ store: any ObjectStore, _ p: String) throws {
        try store.put(p + "d/x", pattern(10, seed: 6))
        try store.delete(p + "d/x")
        expect(try store.head(p + "d/x") == nil, "deleted object is gone")
        expect(throwsMissing { _ = try store.get(p + "d/x", offset: 0, length: nil) }, "get after delete")
        try store.delete(p + "d/x")
        try store.delete(p + "never/was")
        expect(try store.list(prefix: p, after: nil, limit: 10).isEmpty, "nothing listed after delete")
        try store.put(p + "d/x", pattern(10, seed: 7))
        expect(try store.head(p + "d/x")?.size == 10, "put after delete works")
    }

    @Sendable static func missing(_ store: any ObjectStore, _ p: String) throws {
        expect(throwsMissing { _ = try store.get(p + "missing", offset: 0, length: nil) }, "missing object")
        expect(throwsMissing { _ = try store.get(p + "missing/x/y", offset: 5, length: 5) }, "missing nested")
    }

    @Sendable static func emptyObject(_ store: any ObjectStore, _ p: String) throws {
        try store.put(p + "empty", [])
        expect(try store.get(p + "empty", offset: 0, length: nil) == [], "empty object reads empty")
        expect(try store.head(p + "empty")?.size == 0, "empty object has size 0")
        expect(try store.list(prefix: p, after: nil, limit: 10).map(\.key) == [p + "empty"], "empty object listed")
    }

    @Sendable static func largeObject(_ store: any ObjectStore, _ p: String) throws {
        let data = pattern(5 << 20, seed: 8)
        try store.put(p + "big", data)
        expect(try store.get(p + "big", offset: 0, length: nil) == data, "5 MiB object round trip")
        let mid = (4 << 20) - 7
        expect(try store.get(p + "big", offset: mid, length: 1 << 20) == Array(data[mid..<mid + (1 << 20)]),
               "range of a large object")
        expect(try store.head(p + "big")?.size == 5 << 20, "head of large object")
    }

    @Sendable static func nestedKeys(_ store: any ObjectStore, _ p: String) throws {
        let keys = ["v/chunks/0/0/1_0_10", "v/chunks/0/0/1_1_10", "v/chunks/0/1/1000_0_3", "v/other"]
        for (i, k) in keys.enumerated() { try store.put(p + k, pattern(3 + i, seed: 10 + i)) }
        for (i, k) in keys.enumerated() {
            expect(try store.get(p + k, offset: 0, length: nil) == pattern(3 + i, seed: 10 + i), "nested \(k)")
        }
        let all = try store.list(prefix: p, after: nil, limit: 100)
        expect(all.map(\.key) == keys.map { p + $0 }, "nested keys listed in order: \(all.map(\.key))")
        // A store that transforms objects lists what its backend holds.
        if !(store is any TransformingStore) { expect(all.map(\.size) == [3, 4, 5, 6], "listed sizes") }
        let chunk = try store.list(prefix: p + "v/chunks/0/0/", after: nil, limit: 100)
        expect(chunk.map(\.key) == [p + keys[0], p + keys[1]], "list under a directory prefix")
    }

    @Sendable static func listOrder(_ store: any ObjectStore, _ p: String) throws {
        // '-' < '.' < '/' < '0': a tree walk that sorts names alone would get this wrong.
        let keys = ["a/b", "a-c", "a.b", "a0", "a/a/z", "b", "ab"]
        for k in keys { try store.put(p + k, [1]) }
        let expected = byteSorted(keys.map { p + $0 })
        expect(try store.list(prefix: p, after: nil, limit: 100).map(\.key) == expected, "byte order")
        expect(try store.list(prefix: p + "a", after: nil, limit: 100).map(\.key)
               == expected.filter { $0.hasPrefix(p + "a") }, "partial-name prefix")
        expect(try store.list(prefix: p, after: p + "a.b", limit: 2).map(\.key) == [p + "a/a/z", p + "a/b"],
               "after and limit")
        expect(try store.list(prefix: p, after: p + "a/", limit: 100).map(\.key) == Array(expected.dropFirst(2)),
               "after a directory-like string")
        expect(try store.list(prefix: p, after: p + "zzz", limit: 100).isEmpty, "after everything")
        expect(try store.list(prefix: p + "nothing", after: nil, limit: 100).isEmpty, "prefix matching nothing")
        expect(try store.list(prefix: p, after: nil, limit: 0).isEmpty, "limit 0")
    }

    @Sendable static func listPaging(_ store: any ObjectStore, _ p: String) throws {
        let count = 2500
        // Unpadded numbers in nested directories, so byte order differs from numeric order.
        let keys = (0..<count).map { "\(p)\($0 % 7)/\($0 / 100)/\($0)" }
        let failures = Locked<[any Error]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            do {
                for i in stride(from: part, to: count, by: 4) { try store.put(keys[i], [UInt8(i & 0xFF)]) }
            } catch {
                failures.withLock { $0.append(error) }
            }
        }
        if let error = failures.withLock({ $0.first }) { throw error }
        let expected = byteSorted(keys)
        for pageSize in [1000, 333] {
            var seen: [String] = []
            var after: String? = nil
            while seen.count <= count * 2 {
                let page = try store.list(prefix: p, after: after, limit: pageSize)
                expect(page.count <= pageSize, "page larger than limit")
                guard let last = page.last else { break }
                seen.append(contentsOf: page.map(\.key))
                after = last.key
            }
            expect(seen == expected, "paging by \(pageSize) lists each key once, in order (got \(seen.count))")
        }
        let sub = try store.list(prefix: p + "3/1", after: nil, limit: 5000).map(\.key)
        expect(sub == expected.filter { $0.hasPrefix(p + "3/1") }, "prefix inside the tree")
    }

    @Sendable static func concurrent(_ store: any ObjectStore, _ p: String) throws {
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            do {
                for i in 0..<40 {
                    let key = "\(p)t\(t)/\(i % 5)"
                    let data = pattern(1000 + i, seed: t * 1000 + i)
                    try store.put(key, data)
                    let back = try store.get(key, offset: 0, length: nil)
                    if back != data { errors.withLock { $0.append("\(key) read back wrong") } }
                    // Another thread's key: any complete version is fine, never a torn one.
                    let other = "\(p)t\((t + 1) % 8)/\(i % 5)"
                    if let seen = try? store.get(other, offset: 0, length: nil) {
                        let n = seen.count - 1000
                        if n < 0 || n >= 40 || seen != pattern(seen.count, seed: ((t + 1) % 8) * 1000 + n) {
                            errors.withLock { $0.append("\(other) torn or wrong") }
                        }
                    }
                }
            } catch {
                errors.withLock { $0.append("thread \(t): \(error)") }
            }
        }
        for e in errors.withLock({ $0 }) { expect(false, e) }
        expect(try store.list(prefix: p, after: nil, limit: 100).count == 40, "all concurrent keys listed")
    }
}
