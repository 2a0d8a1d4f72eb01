import SluiceBase
@testable import SluiceMeta
import XCTest

final class LockTests: XCTestCase {
    private func volume() throws -> (MemoryEngine, MetaClient, InodeNumber) {
        let engine = MemoryEngine()
        let meta = MetaClient(engine: engine)
        try meta.format(VolumeSettings(name: "l", storage: "mem", bucket: "b"), force: false)
        _ = try meta.registerSession(SessionInfo(hostName: "a", processID: 1, mountPoint: "/a", version: "t"))
        let (ino, _) = try meta.create(.root, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: .root)
        return (engine, meta, ino)
    }

    private func lock(_ kind: RangeLock.Kind, _ start: UInt64, _ end: UInt64) -> RangeLock {
        RangeLock(kind: kind, start: start, end: end, pid: 7)
    }

    func testRangesSplitAndMergeForOneOwner() {
        var held = MetaClient.applying(lock(.write, 0, 99), to: [])
        held = MetaClient.applying(lock(.unlock, 10, 19), to: held)
        XCTAssertEqual(held.map { [$0.start, $0.end] }, [[0, 9], [20, 99]])
        held = MetaClient.applying(lock(.read, 5, 25), to: held)
        XCTAssertEqual(held.map { [$0.start, $0.end] }, [[0, 4], [5, 25], [26, 99]])
        XCTAssertEqual(held.map(\.kind), [.write, .read, .write])
        held = MetaClient.applying(lock(.write, 5, 25), to: held)
        XCTAssertEqual(held.map { [$0.start, $0.end] }, [[0, 99]], "adjacent ranges of one kind merge")
        held = MetaClient.applying(lock(.unlock, 0, .max), to: held)
        XCTAssertTrue(held.isEmpty)
    }

    func testPosixConflictsBetweenOwnersAndClients() throws {
        let (engine, a, ino) = try volume()
        let b = MetaClient(engine: engine)
        _ = try b.registerSession(SessionInfo(hostName: "b", processID: 2, mountPoint: "/b", version: "t"))
        try a.setlk(ino, owner: 1, lock: lock(.write, 0, 9))
        // Same owner id on another client is another owner.
        XCTAssertThrowsError(try b.setlk(ino, owner: 1, lock: lock(.read, 5, 5))) {
            XCTAssertEqual($0 as? Errno, .resourceTemporarilyUnavailable)
        }
        XCTAssertNoThrow(try b.setlk(ino, owner: 1, lock: lock(.write, 10, 20)))
        XCTAssertEqual(try b.getlk(ino, owner: 1, probe: lock(.read, 0, 100))?.start, 0)
        XCTAssertNil(try a.getlk(ino, owner: 1, probe: lock(.write, 0, 9)), "own locks never conflict")
        // Readers share.
        try a.setlk(ino, owner: 1, lock: lock(.read, 0, 9))
        XCTAssertNoThrow(try a.setlk(ino, owner: 2, lock: lock(.read, 0, 9)))
        XCTAssertThrowsError(try a.setlk(ino, owner: 3, lock: lock(.write, 9, 9)))
        try a.releasePosixLocks(ino, owner: 1)
        try a.releasePosixLocks(ino, owner: 2)
        XCTAssertNoThrow(try a.setlk(ino, owner: 3, lock: lock(.write, 0, 9)))
    }

    func testFlockAndSessionEndReleasesLocks() throws {
        let (engine, a, ino) = try volume()
        let b = MetaClient(engine: engine)
        _ = try b.registerSession(SessionInfo(hostName: "b", processID: 2, mountPoint: "/b", version: "t"))
        try a.flock(ino, owner: 1, kind: .read, pid: 1)
        XCTAssertNoThrow(try b.flock(ino, owner: 1, kind: .read, pid: 2))
        XCTAssertThrowsError(try b.flock(ino, owner: 2, kind: .write, pid: 2))
        try b.flock(ino, owner: 1, kind: .unlock, pid: 2)
        try a.setlk(ino, owner: 5, lock: lock(.write, 0, .max))
        // a dies: b cleans its session and every lock a held goes with it.
        XCTAssertEqual(try b.cleanStaleSessions(maxAge: -1).count, 1)
        XCTAssertNoThrow(try b.flock(ino, owner: 2, kind: .write, pid: 2))
        XCTAssertNoThrow(try b.setlk(ino, owner: 9, lock: lock(.write, 0, 10)))
    }
}
