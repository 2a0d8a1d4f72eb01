import SluiceBase
import SluiceMeta
import XCTest

final class StaleSessionTests: XCTestCase {
    func testAnotherClientCleansUpADeadSession() throws {
        let engine = MemoryEngine()
        let dead = MetaClient(engine: engine)
        try dead.format(VolumeSettings(name: "s", storage: "mem", bucket: "b"), force: false)
        let alive = MetaClient(engine: engine)
        _ = try dead.registerSession(SessionInfo(hostName: "h1", processID: 1, mountPoint: "/a", version: "t"))
        let aliveID = try alive.registerSession(SessionInfo(hostName: "h2", processID: 2, mountPoint: "/b", version: "t"))

        // The dead client held a file open when its last name went away.
        let (ino, _) = try dead.create(.root, Array("held".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)),
                                       by: .root)
        _ = try dead.write(ino, chunk: 0, slice: SliceRef(position: 0, id: try dead.newSliceID(), size: 10, offset: 0, length: 10))
        _ = try dead.open(ino)
        try dead.unlink(.root, Array("held".utf8))
        XCTAssertEqual(try alive.getattr(ino).nlink, 0, "kept alive while open")

        // A fresh heartbeat is not stale.
        XCTAssertEqual(try alive.cleanStaleSessions(maxAge: 300).count, 0)
        // Age 0 makes every other session stale; the cleaning client's own survives.
        let removed = try alive.cleanStaleSessions(maxAge: -1)
        XCTAssertEqual(removed.map(\.hostName), ["h1"])
        XCTAssertEqual(try alive.sessions().map(\.id), [aliveID.rawValue])
        XCTAssertThrowsError(try alive.getattr(ino)) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
        XCTAssertEqual(try alive.pendingSliceDeletions(limit: 10).count, 1)
    }

    func testADeadSessionsOpenUnlinkedFileGoesToTheTrash() throws {
        let engine = MemoryEngine()
        let dead = MetaClient(engine: engine)
        try dead.format(VolumeSettings(name: "s", storage: "mem", bucket: "b", trashDays: 1), force: false)
        let alive = MetaClient(engine: engine)
        _ = try dead.registerSession(SessionInfo(hostName: "h1", processID: 1, mountPoint: "/a", version: "t"))
        _ = try alive.registerSession(SessionInfo(hostName: "h2", processID: 2, mountPoint: "/b", version: "t"))
        let (ino, _) = try dead.create(.root, Array("held".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)),
                                       by: .root)
        _ = try dead.write(ino, chunk: 0, slice: SliceRef(position: 0, id: try dead.newSliceID(), size: 10, offset: 0, length: 10))
        _ = try dead.open(ino)
        try dead.unlink(.root, Array("held".utf8))
        XCTAssertEqual(try alive.getattr(ino).nlink, 0, "kept alive while open, not yet in the trash")

        XCTAssertEqual(try alive.cleanStaleSessions(maxAge: -1).map(\.hostName), ["h1"])
        XCTAssertEqual(try alive.getattr(ino).nlink, 1, "the ended session's file is in the trash")
        let hours = try alive.readdir(Trash.inode, after: nil, limit: 10, withAttributes: false)
        XCTAssertEqual(hours.count, 1)
        let files = try alive.readdir(hours[0].inode, after: nil, limit: 10, withAttributes: false)
        XCTAssertEqual(files.map { String(decoding: $0.name, as: UTF8.self) }, ["1-\(ino.rawValue)-held"])
        XCTAssertEqual(try alive.pendingSliceDeletions(limit: 10).count, 0, "its data is kept")
    }
}
