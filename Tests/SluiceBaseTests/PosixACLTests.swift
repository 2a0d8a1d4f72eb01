import SluiceBase
import XCTest

final class PosixACLTests: XCTestCase {
    typealias E = PosixACL.Entry

    /// u::rw-, u:1000:rwx, g::r--, g:50:r-x, m::rwx, o::---
    func extended() throws -> PosixACL {
        try PosixACL(entries: [E(.userObj, 6), E(.user, 7, id: 1000), E(.groupObj, 4), E(.group, 5, id: 50),
                               E(.mask, 7), E(.other, 0)])
    }

    func testRoundTripMatchesLinuxLayout() throws {
        let acl = try extended()
        let bytes = acl.encoded()
        XCTAssertEqual(bytes.count, 4 + 6 * 8)
        XCTAssertEqual(Array(bytes[0..<4]), [2, 0, 0, 0])
        // Second entry: tag ACL_USER (2), perm 7, id 1000 (0x3E8), little-endian.
        XCTAssertEqual(Array(bytes[12..<20]), [2, 0, 7, 0, 0xE8, 3, 0, 0])
        // The owner entry: tag 1, perm 6, id -1 (unnamed entries carry no id).
        XCTAssertEqual(Array(bytes[4..<12]), [1, 0, 6, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(try PosixACL(parsing: bytes), acl)
        XCTAssertEqual(try PosixACL(parsing: PosixACL(mode: 0o754).encoded()), PosixACL(mode: 0o754))
    }

    func testMalformedIsEINVAL() throws {
        let good = try extended().encoded()
        func bad(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try PosixACL(parsing: bytes), file: file, line: line) {
                XCTAssertEqual($0 as? Errno, .invalidArgument, file: file, line: line)
            }
        }
        bad([])
        bad([2, 0, 0, 0])                         // no entries
        bad(Array(good.dropLast()))               // partial entry
        var v = good; v[0] = 1; bad(v)            // version
        v = good; v[4] = 0x40; bad(v)             // unknown tag
        v = good; v[6] = 8; bad(v)                // permission bit beyond rwx
        func entries(_ es: [E]) -> [UInt8] {
            var out: [UInt8] = [2, 0, 0, 0]
            for e in es {
                out += [UInt8(e.tag.rawValue), 0, UInt8(e.perm), 0]
                out += withUnsafeBytes(of: e.id.littleEndian, Array.init)
            }
            return out
        }
        // Named entries without a mask; no other entry; two owners; out of order; named ids
        // not increasing, or repeated.
        bad(entries([E(.userObj, 6), E(.user, 7, id: 1), E(.groupObj, 4), E(.other, 0)]))
        bad(entries([E(.userObj, 6), E(.groupObj, 4)]))
        bad(entries([E(.userObj, 6), E(.userObj, 6), E(.groupObj, 4), E(.other, 0)]))
        bad(entries([E(.groupObj, 4), E(.userObj, 6), E(.other, 0)]))
        bad(entries([E(.userObj, 6), E(.user, 7, id: 9), E(.user, 7, id: 3), E(.groupObj, 4), E(.mask, 7), E(.other, 0)]))
        bad(entries([E(.userObj, 6), E(.user, 7, id: 3), E(.user, 5, id: 3), E(.groupObj, 4), E(.mask, 7), E(.other, 0)]))
        // A mask without named entries is valid (and makes the ACL extended).
        let masked = try PosixACL(parsing: entries([E(.userObj, 6), E(.groupObj, 4), E(.mask, 6), E(.other, 0)]))
        XCTAssertNil(masked.equivalentMode)
        XCTAssertEqual(masked.modeBits, 0o660)
    }

    func testModeInterplay() throws {
        XCTAssertEqual(PosixACL(mode: 0o640).equivalentMode, 0o640)
        let acl = try extended()
        XCTAssertNil(acl.equivalentMode)
        // The group bits of the mode are the mask.
        XCTAssertEqual(acl.modeBits, 0o670)
        // chmod: owner, mask and other follow; the owning group and named entries stay.
        let c = acl.chmod(0o751)
        XCTAssertEqual(c.entries.map(\.perm), [7, 7, 4, 5, 5, 1])
        XCTAssertEqual(c.modeBits, 0o751)
        // Without a mask chmod sets the owning group.
        XCTAssertEqual(PosixACL(mode: 0o644).chmod(0o710), PosixACL(mode: 0o710))
    }

    func testInheritanceFromDefaultACL() throws {
        let def = try extended()
        // A file created with 0666: owner rw, mask rw (named entries keep theirs, limited by
        // the mask), other nothing; the mode is 0660.
        let file = def.inherited(mode: 0o666)
        XCTAssertEqual(file.mode, 0o660)
        XCTAssertEqual(file.access?.entries.map(\.perm), [6, 7, 4, 5, 6, 0])
        // A directory created with 0777 keeps the default entries whole; set-id bits stay.
        let dir = def.inherited(mode: 0o2777)
        XCTAssertEqual(dir.mode, 0o2670)
        XCTAssertEqual(dir.access, def)
        // A minimal default ACL yields no access ACL, only a mode: the umask plays no part.
        let plain = PosixACL(mode: 0o755).inherited(mode: 0o666)
        XCTAssertNil(plain.access)
        XCTAssertEqual(plain.mode, 0o644)
        XCTAssertEqual(PosixACL(mode: 0o777).inherited(mode: 0o777).mode, 0o777)
    }
}
