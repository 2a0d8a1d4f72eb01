import Foundation
import SluiceBase
import SluiceMeta
import XCTest

final class DumpLoadTests: XCTestCase {
    private func dump(_ engine: any KVEngine) throws -> String {
        var out = ""
        try MetaDump.dump(engine) { out += $0 }
        return out
    }

    private func populate(_ meta: MetaClient) throws {
        try meta.format(VolumeSettings(name: "dumped", storage: "mem", bucket: "b/with/slashes"), force: false)
        let caller = Caller(uid: 1000, gid: 100)
        let (dir, _) = try meta.create(.root, Array("dir".utf8), NewInode(type: .directory, permissions: FilePermissions(rawValue: 0o755)), by: caller)
        let (file, _) = try meta.create(dir, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: caller)
        _ = try meta.write(file, chunk: 0, slice: SliceRef(position: 0, id: try meta.newSliceID(), size: 100, offset: 0, length: 100))
        _ = try meta.write(file, chunk: 2, slice: SliceRef(position: 5, id: try meta.newSliceID(), size: 10, offset: 2, length: 8))
        _ = try meta.link(file, .root, Array("hard".utf8))
        _ = try meta.create(dir, Array("link".utf8), NewInode(type: .symlink, permissions: FilePermissions(rawValue: 0o777),
                                                            symlinkTarget: Array("../x/y".utf8)), by: caller)
        // A name that is not UTF-8 must survive too.
        _ = try meta.create(dir, [0x66, 0xff, 0xfe], NewInode(type: .fifo, permissions: FilePermissions(rawValue: 0o600)), by: caller)
        _ = try meta.create(dir, Array("dev".utf8), NewInode(type: .characterDevice, permissions: FilePermissions(rawValue: 0o600), rdev: 0x0105), by: caller)
        let (gone, _) = try meta.create(.root, Array("gone".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: caller)
        _ = try meta.write(gone, chunk: 0, slice: SliceRef(position: 0, id: try meta.newSliceID(), size: 3, offset: 0, length: 3))
        try meta.unlink(.root, Array("gone".utf8))
    }

    func testRoundTripMemorySQLiteMemoryIsExact() throws {
        let source = MemoryEngine()
        try populate(MetaClient(engine: source))
        let first = try dump(source)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(first.utf8)), "a dump is one JSON document")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dumpload-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let sqlite = try SQLiteEngine(path: dir.appendingPathComponent("m.db").path, create: true)
        defer { sqlite.close() }
        try MetaLoad.load(sqlite, lines: first.split(separator: "\n", omittingEmptySubsequences: false))
        let second = try dump(sqlite)
        XCTAssertEqual(first, second)

        let back = MemoryEngine()
        try MetaLoad.load(back, lines: second.split(separator: "\n"))
        XCTAssertEqual(try dump(back), first)

        // The loaded volume works: the same attributes, links, symlink and pending deletions.
        let meta = MetaClient(engine: back)
        let (dirIno, _) = try meta.lookup(.root, Array("dir".utf8))
        let (file, attr) = try meta.lookup(dirIno, Array("f".utf8))
        XCTAssertEqual(attr.nlink, 2)
        XCTAssertEqual(attr.size, 2 * UInt64(Layout.chunkSize) + 13)
        XCTAssertEqual(try meta.readChunk(file, 2).first?.offset, 2)
        let (link, _) = try meta.lookup(dirIno, Array("link".utf8))
        XCTAssertEqual(try meta.readlink(link), Array("../x/y".utf8))
        XCTAssertNoThrow(try meta.lookup(dirIno, [0x66, 0xff, 0xfe]))
        XCTAssertEqual(try meta.pendingSliceDeletions(limit: 10).count, 1)
        XCTAssertEqual(try meta.settings().bucket, "b/with/slashes")
    }

    /// The trash is ordinary inodes and entries: a dump carries it and the loaded volume can
    /// restore from it and empty it.
    func testTrashSurvivesDumpAndLoad() throws {
        let source = MemoryEngine()
        let meta = MetaClient(engine: source)
        try meta.format(VolumeSettings(name: "trashed", storage: "mem", bucket: "b", trashDays: 1), force: false)
        let caller = Caller(uid: 1000, gid: 100)
        let (file, _) = try meta.create(.root, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: caller)
        let slice = SliceRef(position: 0, id: try meta.newSliceID(), size: 100, offset: 0, length: 100)
        _ = try meta.write(file, chunk: 0, slice: slice)
        try meta.unlink(.root, Array("f".utf8))
        let first = try dump(source)

        let back = MemoryEngine()
        try MetaLoad.load(back, lines: first.split(separator: "\n"))
        XCTAssertEqual(try dump(back), first)
        let loaded = MetaClient(engine: back)
        let (trash, _) = try loaded.lookup(.root, Array(".trash".utf8))
        XCTAssertEqual(trash, Trash.inode)
        let hours = try loaded.readdir(trash, after: nil, limit: 10, withAttributes: false)
        XCTAssertEqual(hours.count, 1)
        let files = try loaded.readdir(hours[0].inode, after: nil, limit: 10, withAttributes: true)
        XCTAssertEqual(files.map(\.inode), [file])
        XCTAssertEqual(try loaded.readChunk(file, 0), [slice])
        XCTAssertEqual(try loaded.emptyTrash(olderThan: Date(timeIntervalSinceNow: 7200)), 1)
        XCTAssertEqual(try loaded.pendingSliceDeletions(limit: 10).map(\.id), [slice.id])
    }

    func testLoadRefusesANonEmptyEngineAndGarbage() throws {
        let engine = MemoryEngine()
        try populate(MetaClient(engine: engine))
        let text = try dump(engine)
        XCTAssertThrowsError(try MetaLoad.load(engine, lines: text.split(separator: "\n"))) { XCTAssert($0 is UsageError) }
        XCTAssertThrowsError(try MetaLoad.load(MemoryEngine(), lines: ["hello", "world"])) { XCTAssert($0 is UsageError) }
        // A dump cut short has no root record or no closing: nothing that looks like a volume.
        let cut = MemoryEngine()
        let lines = text.split(separator: "\n")
        XCTAssertThrowsError(try MetaLoad.load(cut, lines: lines.prefix(5)))
        XCTAssertThrowsError(try MetaClient(engine: cut).settings())
    }
}
