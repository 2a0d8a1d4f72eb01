import Foundation
import XCTest
import SluiceBase
import SluiceCache
import SluiceMeta
import SluiceObject
import SluiceTestSupport
@testable import SluiceVFS

/// Write-back as a mount assembles it: `VolumeStore.openStack` with a local cache that asks for
/// it, under a VFS.
final class WritebackTests: XCTestCase {
    func testCloseReturnsOnceStagedAndUnmountUploads() throws {
        let dir = NSTemporaryDirectory() + "sluice-vfs-writeback-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "wb", storage: "file", bucket: dir + "/bucket"), force: false)
        let settings = try meta.settings()
        let cache = LocalCacheConfig(roots: [dir + "/cache"], volumeUUID: settings.uuid, capacity: 0,
                                     writeback: true, uploadDelay: 3600)
        let stack = try VolumeStore.openStack(settings, localCache: cache, maxUploads: 3)
        let writeback = try XCTUnwrap(stack.writeback)
        XCTAssertEqual(writeback.config.uploadThreads, 3)
        var config = VFSConfig()
        config.maxUploads = 3
        let vfs = VFS(meta: meta, store: stack.store, settings: settings, config: config)
        XCTAssertEqual(vfs.chunks.config.maxUploads, 3, "--max-uploads sizes the chunk layer's upload pool too")
        vfs.start()

        let data = randomBytes(9 << 20 | 7, seed: 6)
        let (fh, ino) = try vfs.create(.root, fileName("f"), permissions: FilePermissions(rawValue: 0o644),
                                       flags: Flags.readWrite, by: .root)
        _ = try data.withUnsafeBytes { try vfs.write(fh, offset: 0, data: $0) }
        try vfs.fsync(fh)
        try vfs.release(fh)
        let backend = LocalStore(root: dir + "/bucket")
        XCTAssertEqual(try backend.list(prefix: "", after: nil, limit: 100), [], "closed and synced, nothing uploaded")
        XCTAssertEqual(writeback.stagedCount, 3, "three blocks staged")

        let reader = try vfs.open(ino.inode, flags: Flags.readOnly).0
        var back = [UInt8](repeating: 0, count: data.count + 10)
        let n = try back.withUnsafeMutableBytes { try vfs.read(reader, offset: 0, into: $0) }
        assertBytes(Array(back[0..<n]), data, "read from staging")
        try vfs.release(reader)

        vfs.shutdown()
        XCTAssertEqual(writeback.shutdown(timeout: 30), 0, "unmount uploads everything")
        XCTAssertEqual(try backend.list(prefix: "", after: nil, limit: 100).count, 3)

        // Another client without write-back reads it all from the bucket.
        let plain = VFS(meta: meta, store: try VolumeStore.open(settings), settings: settings, config: VFSConfig())
        let again = try plain.open(ino.inode, flags: Flags.readOnly).0
        var copy = [UInt8](repeating: 0, count: data.count + 10)
        let m = try copy.withUnsafeMutableBytes { try plain.read(again, offset: 0, into: $0) }
        assertBytes(Array(copy[0..<m]), data, "read from the bucket")
        try plain.release(again)
    }
}
