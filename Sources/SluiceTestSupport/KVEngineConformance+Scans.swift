import SluiceBase
import SluiceMeta

extension KVEngineConformance {
    /// Keys chosen to sit on prefix boundaries: shared prefixes, 0x00 and 0xFF bytes.
    private static let boundaryKeys: [[UInt8]] = [
        [0x00], [0x01], [0x01, 0x00], [0x01, 0x7F], [0x01, 0xFF], [0x01, 0xFF, 0xFF], [0x01, 0xFF, 0xFF, 0x00],
        [0x02], [0x02, 0x00], [0x7F, 0xFF], [0x80], [0xFE, 0xFF], [0xFF], [0xFF, 0x00], [0xFF, 0xFF],
        [0xFF, 0xFF, 0x01], [0xFF, 0xFF, 0xFF],
    ]

    /// Compares every scan over a grid of prefixes, resume points and limits with the answer
    /// computed from a plain sorted list.
    func checkPrefixScans(_ engine: any KVEngine, _ expect: Expect) throws {
        let keys = Self.boundaryKeys
        try engine.write { tx in
            for key in keys { try tx.set(key, key + [0xAA]) }
        }
        let sorted = keys.sorted { $0.lexicographicallyPrecedes($1) }
        let prefixes: [[UInt8]] = [[], [0x00], [0x01], [0x01, 0xFF], [0x01, 0xFF, 0xFF], [0x02], [0x7F],
                                   [0x80], [0xFE], [0xFF], [0xFF, 0xFF], [0xFF, 0xFF, 0xFF], [0x03]]
        let afters: [[UInt8]?] = [nil, [], [0x00], [0x01], [0x01, 0xFF], [0x01, 0xFF, 0xFF, 0x00], [0x02],
                                  [0xFF], [0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF]]
        try engine.read { tx in
            for prefix in prefixes {
                for after in afters {
                    for limit in [1, 2, 100] {
                        let expected = sorted.filter { key in
                            key.starts(with: prefix) && (after.map { $0.lexicographicallyPrecedes(key) } ?? true)
                        }.prefix(limit).map { KVPair(key: $0, value: $0 + [0xAA]) }
                        let actual = try tx.scan(prefix: prefix, after: after, limit: limit)
                        expect.equal(actual, Array(expected), "scan prefix \(prefix) after \(String(describing: after)) limit \(limit)")
                    }
                }
            }
        }
    }

    /// Pages through 2,500 keys 1,000 at a time; every key comes back once, in order, and keys
    /// just outside the prefix never appear.
    func checkPaging(_ engine: any KVEngine, _ expect: Expect) throws {
        func key(_ i: Int) -> [UInt8] {
            var w = ByteWriter()
            w.raw("page/")
            w.u32(UInt32(i))
            return w.bytes
        }
        try engine.write { tx in
            // Neighbours of the prefix on both sides.
            try tx.set(bytes("page."), bytes("before"))
            try tx.set(bytes("page0"), bytes("after"))
            try tx.set(bytes("page"), bytes("shorter"))
            for i in 0..<2_500 { try tx.set(key(i), w32(i)) }
        }
        var seen: [[UInt8]] = []
        var cursor: [UInt8]?
        var pages: [Int] = []
        while true {
            let page = try engine.read { try $0.scan(prefix: bytes("page/"), after: cursor, limit: 1_000) }
            if page.isEmpty { break }
            pages.append(page.count)
            for pair in page {
                var reader = ByteReader(pair.key, at: 5)
                if pair.value != w32(Int(reader.u32())) { expect.fail("value of \(pair.key) does not match its key") }
            }
            seen += page.map(\.key)
            cursor = page.last!.key
            if pages.count > 10 { expect.fail("paging does not end"); break }
        }
        expect.equal(pages, [1_000, 1_000, 500], "page sizes")
        expect.equal(seen, (0..<2_500).map(key), "every key once, in order")
    }

    func checkScanLimits(_ engine: any KVEngine, _ expect: Expect) throws {
        try engine.write { tx in for i in 0..<10 { try tx.set(bytes("lim/\(i)"), w32(i)) } }
        try engine.read { tx in
            for limit in [1, 3, 9, 10, 11, 1_000] {
                let count = try tx.scan(prefix: bytes("lim/"), after: nil, limit: limit).count
                expect.equal(count, min(limit, 10), "limit \(limit)")
            }
            expect.equal(try tx.scan(prefix: bytes("lim/"), after: nil, limit: 0), [], "limit 0 returns nothing")
            expect.equal(try tx.scan(prefix: bytes("lim/"), after: bytes("lim/9"), limit: 5), [], "after the last key")
        }
    }

    private func w32(_ i: Int) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(i))
        return w.bytes
    }
}
