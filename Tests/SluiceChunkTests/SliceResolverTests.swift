import SluiceBase
import SluiceTestSupport
@testable import SluiceChunk
import XCTest

final class SliceResolverTests: XCTestCase {
    /// What each byte of the chunk reads as, by brute force: (slice id, byte of its data), or
    /// nil for zeros.
    func model(_ slices: [SliceRef], from start: UInt32, to end: UInt32) -> [(SliceID, UInt32)?] {
        var winner = [Int?](repeating: nil, count: Int(end))
        for (i, s) in slices.enumerated() where s.length > 0 {
            for p in s.position..<s.end where p < end { winner[Int(p)] = i }
        }
        return (start..<end).map { p in
            guard let i = winner[Int(p)], !slices[i].id.isHole else { return nil }
            return (slices[i].id, slices[i].offset + (p - slices[i].position))
        }
    }

    func expand(_ segments: [ResolvedSegment]) -> [(SliceID, UInt32)?] {
        segments.flatMap { seg in
            (0..<seg.length).map { k -> (SliceID, UInt32)? in
                seg.source.map { ($0.id, seg.sliceOffset + k) }
            }
        }
    }

    func check(_ slices: [SliceRef], _ start: UInt32, _ end: UInt32, _ context: String) {
        let segments = SliceResolver.resolve(slices, from: start, to: end)
        // Consecutive, non-empty, exactly covering the range.
        var cursor = start
        for seg in segments {
            XCTAssertEqual(seg.position, cursor, context)
            XCTAssertGreaterThan(seg.length, 0, context)
            cursor = seg.end
            if let s = seg.source {
                XCTAssertFalse(s.id.isHole, context)
                XCTAssertLessThanOrEqual(seg.sliceOffset + seg.length, s.offset + s.length, context)
            }
        }
        XCTAssertEqual(cursor, max(start, end), context)
        for (a, b) in zip(segments, segments.dropFirst()) where a.source == nil {
            XCTAssertNotNil(b.source, "adjacent zero runs are merged: \(context)")
        }
        let got = expand(segments)
        let want = model(slices, from: start, to: end)
        XCTAssertEqual(got.count, want.count, context)
        for (i, (g, w)) in zip(got, want).enumerated() where g?.0 != w?.0 || g?.1 != w?.1 {
            XCTFail("byte \(Int(start) + i): got \(String(describing: g)) want \(String(describing: w)); \(context)")
            return
        }
    }

    func testEmptyAndUncovered() {
        XCTAssertEqual(SliceResolver.resolve([], from: 5, to: 5), [])
        XCTAssertEqual(SliceResolver.resolve([], from: 0, to: 100),
                       [ResolvedSegment(position: 0, length: 100, source: nil, sliceOffset: 0)])
        let s = SliceRef(position: 10, id: SliceID(7), size: 50, offset: 5, length: 20)
        XCTAssertEqual(SliceResolver.resolve([s], from: 0, to: 100), [
            ResolvedSegment(position: 0, length: 10, source: nil, sliceOffset: 0),
            ResolvedSegment(position: 10, length: 20, source: s, sliceOffset: 5),
            ResolvedSegment(position: 30, length: 70, source: nil, sliceOffset: 0),
        ])
        XCTAssertEqual(SliceResolver.resolve([s], from: 15, to: 20),
                       [ResolvedSegment(position: 15, length: 5, source: s, sliceOffset: 10)])
    }

    func testNewestWinsAndHoles() {
        let a = SliceRef(position: 0, id: SliceID(1), size: 100, offset: 0, length: 100)
        let b = SliceRef(position: 20, id: SliceID(2), size: 10, offset: 0, length: 10)
        let hole = SliceRef(position: 50, id: .hole, size: 0, offset: 0, length: 10)
        XCTAssertEqual(SliceResolver.resolve([a, b, hole], from: 0, to: 100), [
            ResolvedSegment(position: 0, length: 20, source: a, sliceOffset: 0),
            ResolvedSegment(position: 20, length: 10, source: b, sliceOffset: 0),
            ResolvedSegment(position: 30, length: 20, source: a, sliceOffset: 30),
            ResolvedSegment(position: 50, length: 10, source: nil, sliceOffset: 0),
            ResolvedSegment(position: 60, length: 40, source: a, sliceOffset: 60),
        ])
        // An older slice under a newer one does not split it.
        XCTAssertEqual(SliceResolver.resolve([b, a], from: 0, to: 100),
                       [ResolvedSegment(position: 0, length: 100, source: a, sliceOffset: 0)])
    }

    func testRandomAgainstByteModel() {
        for seed in UInt64(1)...400 {
            var rng = SeededRNG(seed: seed)
            let chunk = UInt32.random(in: 1...300, using: &rng)
            let count = Int.random(in: 0...(seed % 5 == 0 ? 60 : 12), using: &rng)
            let slices = (0..<count).map { _ -> SliceRef in
                let position = UInt32.random(in: 0..<chunk, using: &rng)
                let length = UInt32.random(in: 0...(chunk - position), using: &rng)
                let offset = UInt32.random(in: 0...50, using: &rng)
                let id = Int.random(in: 0..<6, using: &rng) == 0 ? SliceID.hole
                    : SliceID(UInt64.random(in: 1...8, using: &rng))
                return SliceRef(position: position, id: id, size: offset + length + 7, offset: offset, length: length)
            }
            let start = UInt32.random(in: 0..<chunk, using: &rng)
            let end = UInt32.random(in: start...chunk, using: &rng)
            check(slices, 0, chunk, "seed \(seed) whole")
            check(slices, start, end, "seed \(seed) \(start)..<\(end)")
        }
    }

    func testManySlicesIsFast() {
        var rng = SeededRNG(seed: 99)
        let slices = (0..<20_000).map { i -> SliceRef in
            let position = UInt32.random(in: 0..<UInt32(Layout.chunkSize - 4096), using: &rng)
            return SliceRef(position: position, id: SliceID(UInt64(i + 1)), size: 4096, offset: 0, length: 4096)
        }
        let t0 = monotonicNanoseconds()
        let segments = SliceResolver.resolve(slices, from: 0, to: UInt32(Layout.chunkSize))
        let seconds = Double(monotonicNanoseconds() - t0) / 1e9
        XCTAssertEqual(segments.reduce(0) { $0 + Int($1.length) }, Layout.chunkSize)
        XCTAssertLessThan(seconds, 2.0)
    }
}
