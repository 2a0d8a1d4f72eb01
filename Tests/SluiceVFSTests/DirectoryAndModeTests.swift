import Foundation
import XCTest
import SluiceBase
import SluiceMeta
import SluiceObject
@testable import SluiceVFS

/// readdir paging and cookies; read-only volumes and handles.
final class DirectoryAndModeTests: XCTestCase {
    /// Lists `fh` from `offset` in pages of `limit`, following cookies; returns names in order.
    private func list(_ v: TestVolume, _ fh: UInt64, from offset: UInt64 = 0, limit: Int, plus: Bool,
                      check: (ListedEntry) -> Void = { _ in }) throws -> [String] {
        var names: [String] = []
        var cookie = offset
        while true {
            let page = try v.vfs.readdir(fh, offset: cookie, limit: limit, plus: plus)
            XCTAssertLessThanOrEqual(page.count, limit)
            guard let last = page.last else { return names }
            for e in page {
                names.append(String(decoding: e.name, as: UTF8.self))
                check(e)
            }
            cookie = last.offset
        }
    }

    func testReaddirPagingWithCookies() throws {
        var config = VFSConfig()
        config.directoryPageSize = 300  // several metadata pages per listing
        let v = try TestVolume(config: config)
        defer { v.close() }
        let dir = try v.vfs.mkdir(.root, fileName("d"), permissions: FilePermissions(rawValue: 0o755), by: .root).inode
        var expected = Set<String>()
        for i in 0..<2500 {
            let n = "f\(i)"
            _ = try v.vfs.mknod(dir, fileName(n), type: .regular, permissions: FilePermissions(rawValue: 0o644), rdev: 0, by: .root)
            expected.insert(n)
        }
        let fh = try v.vfs.opendir(dir)
        let names = try list(v, fh, limit: 7, plus: false) { e in
            if e.name != [UInt8(ascii: ".")] { XCTAssertNil(e.entry) }
        }
        XCTAssertEqual(names.count, 2502)
        XCTAssertEqual(Array(names.prefix(2)), [".", ".."])
        XCTAssertEqual(Set(names.dropFirst(2)), expected, "every name")
        XCTAssertEqual(Set(names).count, names.count, "each exactly once")

        // Seek back to the start on the same handle.
        let again = try list(v, fh, limit: 7, plus: false)
        XCTAssertEqual(again, names)
        // Resume from a cookie in the middle: what follows is the rest of the first listing.
        let first = try v.vfs.readdir(fh, offset: 0, limit: 1000, plus: false)
        let rest = try list(v, fh, from: first.last!.offset, limit: 50, plus: false)
        XCTAssertEqual(rest, Array(names.dropFirst(1000)))
        v.vfs.releasedir(fh)

        // A fresh handle asked to resume past its first metadata page (seekdir after reopen).
        let fresh = try v.vfs.opendir(dir)
        let tail = try list(v, fresh, from: 1800, limit: 100, plus: false)
        XCTAssertEqual(tail, Array(names.dropFirst(1800)))
        v.vfs.releasedir(fresh)

        // plus: attributes for every entry but "..".
        let plusHandle = try v.vfs.opendir(dir)
        var filled = 0
        _ = try list(v, plusHandle, limit: 7, plus: true) { e in
            let n = String(decoding: e.name, as: UTF8.self)
            if n == ".." { return }
            guard let entry = e.entry else { return XCTFail("no attributes for \(n)") }
            XCTAssertEqual(entry.inode, e.inode)
            XCTAssertEqual(entry.attributes.type, n == "." ? .directory : .regular)
            filled += 1
        }
        XCTAssertEqual(filled, 2501)
        v.vfs.releasedir(plusHandle)
    }

    func testReadOnlyConfigRefusesChanges() throws {
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "t", storage: "mem", bucket: "b"), force: false)
        let store = MemoryStore()
        let rw = VFS(meta: meta, store: store, settings: try meta.settings(), config: VFSConfig())
        rw.start()
        let (fh, entry) = try rw.create(.root, fileName("x"), permissions: FilePermissions(rawValue: 0o644),
                                        flags: Flags.readWrite, by: .root)
        _ = try [UInt8]("hello".utf8).withUnsafeBytes { try rw.write(fh, offset: 0, data: $0) }
        try rw.release(fh)
        rw.shutdown()

        var config = VFSConfig()
        config.readOnly = true
        let ro = VFS(meta: meta, store: store, settings: try meta.settings(), config: config)
        ro.start()
        defer { ro.shutdown() }
        let ino = entry.inode
        let perms = FilePermissions(rawValue: 0o644)
        assertErrno(.readOnlyFileSystem) { _ = try ro.create(.root, fileName("y"), permissions: perms, flags: Flags.readWrite, by: .root) }
        assertErrno(.readOnlyFileSystem) { _ = try ro.open(ino, flags: Flags.readWrite) }
        assertErrno(.readOnlyFileSystem) { _ = try ro.open(ino, flags: OpenFlags(raw: 0o1000)) }
        assertErrno(.readOnlyFileSystem) { _ = try ro.mkdir(.root, fileName("d"), permissions: perms, by: .root) }
        assertErrno(.readOnlyFileSystem) { try ro.unlink(.root, fileName("x")) }
        assertErrno(.readOnlyFileSystem) { _ = try ro.setattr(ino, AttributeChanges(size: 0)) }
        assertErrno(.readOnlyFileSystem) { try ro.access(ino, mask: 2, by: .root) }
        let (r, _) = try ro.open(ino, flags: Flags.readOnly)
        assertErrno(.readOnlyFileSystem) { _ = try [UInt8](repeating: 1, count: 3).withUnsafeBytes { try ro.write(r, offset: 0, data: $0) } }
        var buffer = [UInt8](repeating: 0, count: 10)
        let n = try buffer.withUnsafeMutableBytes { try ro.read(r, offset: 0, into: $0) }
        XCTAssertEqual(Array(buffer[0..<n]), Array("hello".utf8))
        try ro.release(r)
    }

    func testWriteOnReadOnlyHandleIsEBADF() throws {
        let v = try TestVolume()
        defer { v.close() }
        let (fh, ino) = try v.create("x")
        try v.write(fh, [1, 2, 3], at: 0)
        try v.vfs.release(fh)
        let r = try v.open(ino, Flags.readOnly)
        assertErrno(.badFileDescriptor) { try v.write(r, [4], at: 0) }
        XCTAssertEqual(try v.readAll(r), [1, 2, 3])
        try v.vfs.release(r)
        assertErrno(.badFileDescriptor) { try v.write(r, [4], at: 0) }
        assertErrno(.badFileDescriptor) { try v.vfs.release(r) }
    }
}
