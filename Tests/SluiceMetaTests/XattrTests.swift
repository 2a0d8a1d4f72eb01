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

final class ACLTests: XCTestCase {
    let userEntry = PosixACL.Entry(.user, 7, id: 65534)

    func make() throws -> MetaClient {
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "x", storage: "mem", bucket: "b", acl: true), force: false)
        return meta
    }

    func acl(_ owner: UInt16, named: UInt16?, group: UInt16, mask: UInt16?, other: UInt16) throws -> PosixACL {
        var es = [PosixACL.Entry(.userObj, owner)]
        if let named { es.append(PosixACL.Entry(.user, named, id: 65534)) }
        es.append(PosixACL.Entry(.groupObj, group))
        if let mask { es.append(PosixACL.Entry(.mask, mask)) }
        es.append(PosixACL.Entry(.other, other))
        return try PosixACL(entries: es)
    }

    func testAccessACLSetsModeAndChmodUpdatesACL() throws {
        let meta = try make()
        let (ino, _) = try meta.create(.root, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o4640)), by: .root)
        // Equivalent to mode bits: no attribute, only the mode (set-id bits kept).
        try meta.setxattr(ino, PosixACL.accessName, PosixACL(mode: 0o600).encoded(), mode: .createOrReplace)
        XCTAssertEqual(try meta.getattr(ino).permissions.rawValue, 0o4600)
        XCTAssertThrowsError(try meta.getxattr(ino, PosixACL.accessName)) { XCTAssertEqual($0 as? Errno, .noData) }
        // Extended: stored; the group bits are the mask.
        let ext = try acl(6, named: 7, group: 4, mask: 7, other: 0)
        try meta.setxattr(ino, PosixACL.accessName, ext.encoded(), mode: .createOrReplace)
        XCTAssertEqual(try meta.getattr(ino).permissions.rawValue, 0o4670)
        XCTAssertEqual(try meta.getxattr(ino, PosixACL.accessName), ext.encoded())
        // chmod rewrites owner, mask and other.
        _ = try meta.setattr(ino, AttributeChanges(permissions: FilePermissions(rawValue: 0o604)))
        XCTAssertEqual(try PosixACL(parsing: meta.getxattr(ino, PosixACL.accessName)), try acl(6, named: 7, group: 4, mask: 0, other: 4))
        // Malformed values are refused and change nothing.
        XCTAssertThrowsError(try meta.setxattr(ino, PosixACL.accessName, [2, 0, 0, 0, 1], mode: .createOrReplace)) {
            XCTAssertEqual($0 as? Errno, .invalidArgument)
        }
        // Removing the ACL keeps the mode.
        try meta.removexattr(ino, PosixACL.accessName)
        XCTAssertEqual(try meta.getattr(ino).permissions.rawValue, 0o604)
        // Default ACLs only on directories.
        XCTAssertThrowsError(try meta.setxattr(ino, PosixACL.defaultName, PosixACL(mode: 0o755).encoded(), mode: .createOrReplace)) {
            XCTAssertEqual($0 as? Errno, .permissionDenied)
        }
    }

    func testSetGIDClearedForCallerOutsideTheGroup() throws {
        let meta = try make()
        let owner = Caller(uid: 1000, gid: 1000)
        let (ino, _) = try meta.create(.root, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o2770)), by: owner)
        _ = try meta.setattr(ino, AttributeChanges(gid: 50))
        try meta.setxattr(ino, PosixACL.accessName, PosixACL(mode: 0o770).encoded(), mode: .createOrReplace, by: owner)
        XCTAssertEqual(try meta.getattr(ino).permissions.rawValue, 0o770)
        _ = try meta.setattr(ino, AttributeChanges(permissions: FilePermissions(rawValue: 0o2770)))
        try meta.setxattr(ino, PosixACL.accessName, PosixACL(mode: 0o770).encoded(), mode: .createOrReplace,
                          by: Caller(uid: 1000, gid: 1000, groups: [50]))
        XCTAssertEqual(try meta.getattr(ino).permissions.rawValue, 0o2770)
    }

    func testCreateInheritsDefaultACLAndIgnoresUmask() throws {
        let meta = try make()
        let (dir, _) = try meta.create(.root, Array("d".utf8), NewInode(type: .directory, permissions: FilePermissions(rawValue: 0o755)), by: .root)
        // Without a default ACL the umask applies.
        let (plain, plainAttr) = try meta.create(dir, Array("p".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o666), umask: 0o027), by: .root)
        XCTAssertEqual(plainAttr.permissions.rawValue, 0o640)
        XCTAssertEqual(try meta.listxattr(plain), [])
        let def = try acl(7, named: 7, group: 5, mask: 7, other: 0)
        try meta.setxattr(dir, PosixACL.defaultName, def.encoded(), mode: .createOrReplace)
        let (file, fileAttr) = try meta.create(dir, Array("f".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o666), umask: 0o077), by: .root)
        XCTAssertEqual(fileAttr.permissions.rawValue, 0o660)
        XCTAssertEqual(try meta.getattr(file).permissions.rawValue, 0o660)
        XCTAssertEqual(try PosixACL(parsing: meta.getxattr(file, PosixACL.accessName)), try acl(6, named: 7, group: 5, mask: 6, other: 0))
        XCTAssertThrowsError(try meta.getxattr(file, PosixACL.defaultName)) { XCTAssertEqual($0 as? Errno, .noData) }
        let (sub, subAttr) = try meta.create(dir, Array("s".utf8), NewInode(type: .directory, permissions: FilePermissions(rawValue: 0o777), umask: 0o077), by: .root)
        XCTAssertEqual(subAttr.permissions.rawValue, 0o770)
        XCTAssertEqual(try meta.getxattr(sub, PosixACL.accessName), def.encoded())
        XCTAssertEqual(try meta.getxattr(sub, PosixACL.defaultName), def.encoded())
        // Symlinks take nothing; without a umask (volumes without ACLs) nothing is inherited.
        let (link, _) = try meta.create(dir, Array("l".utf8), NewInode(type: .symlink, permissions: FilePermissions(rawValue: 0o777), symlinkTarget: [0x66], umask: 0o022), by: .root)
        XCTAssertEqual(try meta.getattr(link).permissions.rawValue, 0o777)
        XCTAssertEqual(try meta.listxattr(link), [])
        let (raw, rawAttr) = try meta.create(dir, Array("r".utf8), NewInode(type: .regular, permissions: FilePermissions(rawValue: 0o644)), by: .root)
        XCTAssertEqual(rawAttr.permissions.rawValue, 0o644)
        XCTAssertEqual(try meta.listxattr(raw), [])
    }

    func testSettingsDecodeWithoutAclField() throws {
        let meta = MetaClient(engine: MemoryEngine())
        try meta.format(VolumeSettings(name: "x", storage: "mem", bucket: "b"), force: false)
        XCTAssertFalse(try meta.settings().acl)
        let stored = try meta.engine.read { try $0.get([UInt8(ascii: "S")]) } ?? []
        XCTAssertFalse(String(decoding: stored, as: UTF8.self).contains("acl"))
        try meta.format(VolumeSettings(name: "x", storage: "mem", bucket: "b", acl: true), force: true)
        XCTAssertTrue(try meta.settings().acl)
    }
}
