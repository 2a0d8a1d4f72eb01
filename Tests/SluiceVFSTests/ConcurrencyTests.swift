import Foundation
import XCTest
import SluiceBase
import SluiceChunk
import SluiceMeta
import SluiceObject
import SluiceTestSupport
@testable import SluiceVFS

/// Many threads at once (as FUSE workers call the VFS), back-pressure, and one run over the
/// on-disk engine and store.
final class ConcurrencyTests: XCTestCase {
    /// Runs `body(i)` on `count` threads at once; collects the errors they throw.
    private func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
        let errors = Locked<[String]>([])
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let t = Thread {
                do { try body(i) } catch { errors.withLock { $0.append("thread \(i): \(error)") } }
                group.leave()
            }
            t.start()
        }
        group.wait()
        return errors.withLock { $0 }
    }

    func testThreadsWritingTheirOwnFiles() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let sizes = (0..<8).map { 1 << 20 + $0 * 400_000 }
        let errors = concurrently(8) { i in
            let data = randomBytes(sizes[i], seed: UInt64(40 + i))
            let (fh, ino) = try v.create("file\(i)")
            var offset = 0
            while offset < data.count {  // FUSE-sized writes of varying length
                let n = min(data.count - offset, 4096 * (1 + (offset / 4096) % 37))
                try v.write(fh, Array(data[offset..<(offset + n)]), at: offset)
                offset += n
            }
            try v.vfs.release(fh)
            let r = try v.open(ino, Flags.readOnly)
            let back = try v.readAll(r, step: 131_072)
            try v.vfs.release(r)
            if back != data { throw UsageError("file\(i) differs") }
        }
        XCTAssertEqual(errors, [])
        for i in 0..<8 {
            let e = try v.vfs.lookup(.root, fileName("file\(i)"))
            XCTAssertEqual(Int(e.attributes.size), sizes[i])
        }
    }

    func testThreadsWritingDisjointRegionsOfOneFile() throws {
        let v = try TestVolume(blockSize: 64 << 10)
        defer { v.close() }
        let region = 1_500_007
        let data = randomBytes(region * 4, seed: 50)
        let (fh, ino) = try v.create("shared")
        let errors = concurrently(4) { i in
            let h = try v.open(ino, Flags.writeOnly)
            var offset = i * region
            let end = offset + region
            while offset < end {
                let n = min(end - offset, 65_000)
                try v.write(h, Array(data[offset..<(offset + n)]), at: offset)
                offset += n
                if offset % 7 == 0 { try v.vfs.flush(h) }
            }
            try v.vfs.release(h)
        }
        XCTAssertEqual(errors, [])
        XCTAssertEqual(try v.size(ino), data.count)
        assertBytes(try v.readAll(fh), data)
        try v.vfs.release(fh)
    }

    func testBackPressureBoundsBufferedBytes() throws {
        var config = VFSConfig()
        config.bufferSize = 8 << 20
        let v = try TestVolume(blockSize: 1 << 20, config: config)
        defer { v.close() }
        let (fh, ino) = try v.create("big")
        let piece = 256 << 10
        let total = 64 << 20
        // A watcher samples the gauge while uploads run, not only between writes.
        let peak = Locked(0), done = Locked(false)
        let watcher = Thread {
            while !done.withLock({ $0 }) {
                let b = v.vfs.chunks.bufferedBytes
                peak.withLock { $0 = max($0, b) }
                usleep(200)
            }
        }
        watcher.start()
        for offset in stride(from: 0, to: total, by: piece) {
            try v.write(fh, randomBytes(piece, seed: UInt64(offset / piece)), at: offset)
            let b = v.vfs.chunks.bufferedBytes
            peak.withLock { $0 = max($0, b) }
        }
        done.withLock { $0 = true }
        XCTAssertLessThanOrEqual(peak.withLock { $0 }, 2 * config.bufferSize, "buffered bytes stay near the budget")
        try v.vfs.release(fh)
        XCTAssertEqual(v.vfs.chunks.bufferedBytes, 0)
        XCTAssertEqual(try v.size(ino), total)
        let r = try v.open(ino, Flags.readOnly)
        for offset in stride(from: 0, to: total, by: piece) {
            let got = try v.read(r, offset, piece)
            if got != randomBytes(piece, seed: UInt64(offset / piece)) { return XCTFail("data differs at \(offset)") }
        }
        try v.vfs.release(r)
    }

    func testSQLiteEngineAndLocalStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-vfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model: FileModel
        let ino: InodeNumber
        do {
            let engine = try SQLiteEngine(path: dir + "/meta.db", create: true)
            let v = try TestVolume(blockSize: 64 << 10, engine: engine, store: LocalStore(root: dir + "/data"))
            var m = FileModel()
            let (fh, i) = try v.create("f")
            ino = i
            var rng = SeededRNG(seed: 60)
            for step in 0..<300 {
                let length = Int.random(in: 1...30_000, using: &rng)
                let offset = Int.random(in: 0...1_000_000, using: &rng)
                let data = randomBytes(length, seed: rng.next())
                try v.write(fh, data, at: offset)
                m.write(data, at: offset)
                if step % 50 == 0 { try v.vfs.fsync(fh) }
            }
            _ = try v.vfs.setattr(ino, AttributeChanges(size: 900_000))
            m.truncate(900_000)
            assertBytes(try v.readAll(fh), m.bytes)
            try v.vfs.release(fh)
            let (doomed, _) = try v.create("doomed")
            try v.write(doomed, randomBytes(300_000, seed: 61), at: 0)
            try v.vfs.release(doomed)
            try v.vfs.unlink(.root, fileName("doomed"))
            v.vfs.runBackgroundWorkNow()
            v.close()
            model = m
        }
        // A new client over the same files sees the same bytes.
        let engine = try SQLiteEngine(path: dir + "/meta.db", create: false)
        let meta = MetaClient(engine: engine)
        let vfs = VFS(meta: meta, store: LocalStore(root: dir + "/data"), settings: try meta.settings(), config: VFSConfig())
        vfs.start()
        defer { vfs.shutdown() }
        let (r, entry) = try vfs.open(ino, flags: Flags.readOnly)
        XCTAssertEqual(Int(entry.attributes.size), model.bytes.count)
        var buffer = [UInt8](repeating: 0, count: model.bytes.count + 10)
        let n = try buffer.withUnsafeMutableBytes { try vfs.read(r, offset: 0, into: $0) }
        assertBytes(Array(buffer[0..<n]), model.bytes, "reopened")
        try vfs.release(r)
        assertErrno(.noSuchFileOrDirectory) { _ = try vfs.lookup(.root, fileName("doomed")) }
    }
}
