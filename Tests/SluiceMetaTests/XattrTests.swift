import SluiceBase
import SluiceMeta
import XCTest

final class XattrTests: XCTestCase {
    func testSetGetListRemoveWithFlagsAndLimits() throws {
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "x", storage: "mem", bucket: "b"), force: false)
        let (ino, before) = try meta.create(.root, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: .root)
        let name = Array("user.k".utf8)
        XCTAssertThrowsError(try meta.getxattr(ino, name)) { XCTAssertEqual($0 as? Errno, .noData) }
        XCTAssertThrowsError(try meta.setxattr(ino, name, [1], mode: .replace)) { XCTAssertEqual($0 as? Errno, .noData) }
        try meta.setxattr(ino, name, [1, 0, 2], mode: .create)
        XCTAssertEqual(try meta.getxattr(ino, name), [1, 0, 2])
        XCTAssertGreaterThan(try meta.getattr(ino).ctime, before.ctime)
        XCTAssertThrowsError(try meta.setxattr(ino, name, [9], mode: .create)) { XCTAssertEqual($0 as? Errno, .fileExists) }
        try meta.setxattr(ino, name, [], mode: .replace)
        XCTAssertEqual(try meta.getxattr(ino, name), [])
        try meta.setxattr(ino, Array("user.a".utf8), [7], mode: .createOrReplace)
        XCTAssertEqual(try meta.listxattr(ino), [Array("user.a".utf8), name])
        XCTAssertThrowsError(try meta.setxattr(ino, Array(repeating: 0x61, count: 256), [], mode: .createOrReplace)) {
            XCTAssertEqual($0 as? Errno, .outOfRange)
        }
        XCTAssertThrowsError(try meta.setxattr(ino, name, Array(repeating: 0, count: 65537), mode: .createOrReplace)) {
            XCTAssertEqual($0 as? Errno, .argListTooLong)
        }
        try meta.removexattr(ino, name)
        XCTAssertThrowsError(try meta.removexattr(ino, name)) { XCTAssertEqual($0 as? Errno, .noData) }
        XCTAssertEqual(try meta.listxattr(ino), [Array("user.a".utf8)])
        // Attributes die with their inode.
        try meta.unlink(.root, Array("f".utf8))
        XCTAssertThrowsError(try meta.listxattr(ino)) { XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory) }
        let (again, _) = try meta.create(.root, Array("g".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: .root)
        XCTAssertEqual(try meta.listxattr(again), [])
    }
}
