import Foundation
import SluiceBase
import SluiceMeta

extension KVEngineConformance {
    /// 8 threads each increment one counter 200 times in separate write transactions: a lost
    /// update would leave fewer than 1,600.
    func checkConcurrentWriters(_ engine: any KVEngine, _ expect: Expect) throws {
        let key = bytes("shared-counter")
        let errors = Self.onThreads(8) { _ in
            for _ in 0..<200 { _ = try engine.write { try $0.increment(key, by: 1) } }
        }
        expect.equal(errors, [], "writer errors")
        expect.equal(try engine.read { try $0.counter(key) }, 1_600, "no lost update")
    }

    /// Writers always change two keys together; readers, running at the same time, must always
    /// see them equal, by point reads and by a scan.
    func checkSnapshotReads(_ engine: any KVEngine, _ expect: Expect) throws {
        let a = bytes("pair/a"), b = bytes("pair/b")
        try engine.write { tx in
            try tx.increment(a, by: 0)
            try tx.increment(b, by: 0)
        }
        let writersDone = Locked(0)
        let reads = Locked(0)
        let errors = Self.onThreads(4) { thread in
            if thread < 2 {
                defer { writersDone.withLock { $0 += 1 } }
                for _ in 0..<200 {
                    try engine.write { tx in
                        try tx.increment(a, by: 1)
                        try tx.increment(b, by: 1)
                    }
                }
                return
            }
            // At least a few reads even if the writers finish first (a serial engine may let them).
            var mine = 0
            while writersDone.withLock({ $0 }) < 2 || mine < 20 {
                mine += 1
                let (first, second, scanned) = try engine.read { tx in
                    let first = try tx.counter(a)
                    usleep(100)  // give writers a chance to commit between the two reads
                    let second = try tx.counter(b)
                    let scanned = try tx.scan(prefix: bytes("pair/"), after: nil, limit: 10).map(\.value)
                    return (first, second, scanned)
                }
                if first != second { throw InconsistentRead(detail: "a=\(first) b=\(second)") }
                if scanned.count != 2 || scanned[0] != scanned[1] {
                    throw InconsistentRead(detail: "scan saw \(scanned)")
                }
                reads.withLock { $0 += 1 }
            }
        }
        expect.equal(errors, [], "readers see one snapshot")
        expect.equal(try engine.read { try $0.counter(a) }, 400, "all pair updates applied")
        expect.isTrue(reads.withLock { $0 } > 0, "readers ran")
    }

    /// Write transactions decide on what a scan saw: each finds the prefix `slot/` empty and
    /// fills it, or finds one key there and removes it. A scan that did not conflict with a key
    /// created in its range by another transaction (a phantom) would let two of them fill the
    /// empty prefix. Meanwhile other threads create and delete keys next to the range
    /// (`slou/`, `sloa/`), which must not disturb it.
    func checkScanPhantoms(_ engine: any KVEngine, _ expect: Expect) throws {
        let prefix = bytes("slot/")
        let filled = Locked(0)
        let emptied = Locked(0)
        let errors = Self.onThreads(6) { thread in
            if thread >= 4 {
                let neighbour = bytes(thread == 4 ? "slou/" : "sloa/")
                for i in 0..<100 {
                    try engine.write { try $0.set(neighbour + bytes("\(i)"), [1]) }
                    try engine.write { try $0.delete(neighbour + bytes("\(i)")) }
                }
                return
            }
            for i in 0..<50 {
                let didFill = try engine.write { tx -> Bool in
                    let page = try tx.scan(prefix: prefix, after: nil, limit: 10)
                    if page.count > 1 { throw InconsistentRead(detail: "\(page.count) keys in slot/") }
                    if let only = page.first {
                        try tx.delete(only.key)
                        return false
                    }
                    try tx.set(prefix + bytes("\(thread)-\(i)"), [UInt8(thread)])
                    return true
                }
                if didFill { filled.withLock { $0 += 1 } } else { emptied.withLock { $0 += 1 } }
            }
        }
        expect.equal(errors, [], "no two transactions filled the empty prefix")
        let left = try engine.read { try $0.scan(prefix: prefix, after: nil, limit: 10).count }
        expect.equal(filled.withLock { $0 } - emptied.withLock { $0 }, left, "every fill and removal applied once")
        expect.isTrue(left <= 1, "at most one key in slot/ (\(left))")
    }

    /// Two engines on one store (as two processes would have) increment one counter at once.
    func checkSharedStore(reopen: () throws -> any KVEngine, _ expect: Expect) throws {
        let first = try make()
        defer { first.close() }
        try first.reset()
        let second = try reopen()
        defer { second.close() }
        let key = bytes("cross-counter")
        let engines = [first, second]
        let errors = Self.onThreads(4) { thread in
            let engine = engines[thread % 2]
            for _ in 0..<100 { _ = try engine.write { try $0.increment(key, by: 1) } }
        }
        expect.equal(errors, [], "writer errors")
        expect.equal(try first.read { try $0.counter(key) }, 400, "no lost update across engines")
        expect.equal(try second.read { try $0.counter(key) }, 400, "both engines agree")
    }

    /// Runs `body` on `count` real threads at once (not a pool sized to the cores, so that
    /// transactions really overlap) and returns the descriptions of the errors they threw.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
        let errors = Locked<[String]>([])
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do { try body(index) } catch { errors.withLock { $0.append("thread \(index): \(error)") } }
            }
            thread.start()
        }
        group.wait()
        return errors.withLock { $0 }
    }
}

private struct InconsistentRead: Error, CustomStringConvertible {
    var detail: String
    var description: String { "inconsistent read: \(detail)" }
}
