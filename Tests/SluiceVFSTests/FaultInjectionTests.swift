import Foundation
import SluiceBase
import SluiceObject
import SluiceTestSupport
@testable import SluiceVFS
import XCTest

/// A store that fails a fraction of its calls must cost no data: uploads and reads retry, and a
/// failure that outlasts the retries is reported (EIO), never hidden.
final class FaultInjectionTests: XCTestCase {
    func testOccasionalStoreFailuresLoseNoData() throws {
        let backend = MemoryStore()
        // 10% of calls fail, 10% are slow: the chunk layer retries puts 4 times and gets 3.
        let faulty = FaultStore(backend, failureRate: 0.10, delayRate: 0.10, delay: 0.002, seed: 7)
        let volume = try TestVolume(blockSize: 64 << 10, store: CodecStore(faulty, compression: .lz4))
        defer { volume.close() }
        var models: [(InodeNumber, [UInt8])] = []
        for i in 0..<6 {
            let (fh, ino) = try volume.create("f\(i)")
            let data = randomBytes(300_000 + i * 77_777, seed: UInt64(i))
            try volume.write(fh, data, at: 0)
            try volume.vfs.fsync(fh)
            try volume.vfs.release(fh)
            models.append((ino, data))
        }
        XCTAssertGreaterThan(faulty.injectedFailures, 0, "the test must actually inject failures")
        for (ino, data) in models {
            let fh = try volume.open(ino, Flags.readOnly)
            assertBytes(try volume.readAll(fh, step: 50_000), data)
            try volume.vfs.release(fh)
        }
    }

    func testAStoreThatKeepsFailingIsAnIOErrorNotWrongBytes() throws {
        let backend = MemoryStore()
        let volume = try TestVolume(blockSize: 64 << 10, store: CodecStore(backend, compression: .none))
        let (fh, ino) = try volume.create("f")
        try volume.write(fh, randomBytes(200_000, seed: 3), at: 0)
        try volume.vfs.release(fh)
        volume.close()

        // The same metadata, now over a store where every call fails.
        let broken = FaultStore(backend, failureRate: 1.0)
        let vfs = VFS(meta: volume.meta, store: CodecStore(broken, compression: .none),
                      settings: try volume.meta.settings(), config: VFSConfig())
        let (reader, _) = try vfs.open(ino, flags: Flags.readOnly)
        var buffer = [UInt8](repeating: 0, count: 4096)
        assertErrno(.ioError) { _ = try buffer.withUnsafeMutableBytes { try vfs.read(reader, offset: 0, into: $0) } }
        let (writer, _) = try vfs.open(ino, flags: Flags.readWrite)
        try buffer.withUnsafeBytes { _ = try vfs.write(writer, offset: 0, data: $0) }
        assertErrno(.ioError) { try vfs.flush(writer) }
    }
}
