import SluiceBase
import SluiceMeta

extension MetaConformance {
    func checkRenameSimple(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "a")
        let dir = try makeDir(meta, .root, "d")
        let before = try meta.getattr(file)
        tick()
        expect.equal(try meta.rename(.root, bytes("a"), .root, bytes("b")), nil, "nothing replaced")
        expect.equal(try inode(meta, .root, "a"), nil, "old name gone")
        expect.equal(try inode(meta, .root, "b"), file, "new name finds the inode")
        let after = try meta.getattr(file)
        expect.isTrue(after.ctime > before.ctime, "rename changes the inode's ctime")
        expect.equal(after.nlink, 1, "nlink unchanged")
        try meta.rename(.root, bytes("d"), .root, bytes("e"))
        expect.equal(try inode(meta, .root, "e"), dir, "directory renamed in place")
        expect.equal(try meta.getattr(dir).parent, .root, "same parent")
        expect.equal(try meta.getattr(.root).nlink, 3, "root nlink unchanged")
        expect.isTrue(try meta.getattr(.root).mtime > before.ctime, "parent mtime changed")
        expect.equal(try meta.readdir(.root, after: nil, limit: 10, withAttributes: false).map(\.name),
                     [bytes("b"), bytes("e")], "exactly the new names")
        expect.errno(.noSuchFileOrDirectory, "missing source") { try meta.rename(.root, bytes("a"), .root, bytes("c")) }
        expect.errno(.noSuchFileOrDirectory, "missing target directory") {
            try meta.rename(.root, bytes("b"), InodeNumber(999_999), bytes("c"))
        }
        expect.errno(.notDirectory, "target directory is a file") { try meta.rename(.root, bytes("b"), file, bytes("c")) }
        expect.errno(.invalidArgument, "renaming .") { try meta.rename(dir, bytes("."), .root, bytes("c")) }
        expect.errno(.fileNameTooLong, "256-byte target") {
            try meta.rename(.root, bytes("b"), .root, bytes(String(repeating: "x", count: 256)))
        }
        expect.equal(try inode(meta, .root, "b"), file, "failed renames change nothing")
    }

    func checkRenameAcrossDirectories(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let a = try makeDir(meta, .root, "A")
        let b = try makeDir(meta, .root, "B")
        let sub = try makeDir(meta, a, "sub")
        let inner = try makeFile(meta, sub, "f")
        let file = try makeFile(meta, a, "file")
        expect.equal(try meta.getattr(a).nlink, 3, "A before")
        try meta.rename(a, bytes("sub"), b, bytes("moved"))
        expect.equal(try meta.getattr(a).nlink, 2, "old parent lost a subdirectory")
        expect.equal(try meta.getattr(b).nlink, 3, "new parent gained a subdirectory")
        expect.equal(try meta.getattr(.root).nlink, 4, "root unchanged")
        expect.equal(try meta.getattr(sub).parent, b, "parent field follows the move")
        expect.equal(try meta.lookup(sub, bytes("..")).0, b, ".. of the moved directory is the new parent")
        expect.equal(try meta.getattr(sub).nlink, 2, "the moved directory's own nlink unchanged")
        expect.equal(try inode(meta, a, "sub"), nil, "old name gone")
        expect.equal(try inode(meta, b, "moved"), sub, "new name")
        expect.equal(try inode(meta, sub, "f"), inner, "contents move along")
        try meta.rename(a, bytes("file"), b, bytes("file"))
        expect.equal(try inode(meta, b, "file"), file, "file moved across")
        expect.equal(try meta.getattr(a).nlink, 2, "moving a file leaves A's nlink")
        expect.equal(try meta.getattr(b).nlink, 3, "moving a file leaves B's nlink")
        expect.equal(try meta.getattr(file).parent, InodeNumber(0), "files keep no parent")
    }

    func checkRenameReplacing(_ meta: MetaClient, _ expect: MetaExpect) throws {
        // Over a file that keeps another name: it loses one link.
        let a = try makeFile(meta, .root, "a")
        let b = try makeFile(meta, .root, "b")
        let slice = try writeSlice(meta, b)
        _ = try meta.link(b, .root, bytes("c"))
        expect.equal(try meta.rename(.root, bytes("a"), .root, bytes("b")), nil, "b still has a name")
        expect.equal(try inode(meta, .root, "b"), a, "the name now finds the source")
        expect.equal(try inode(meta, .root, "a"), nil, "the source name is gone")
        expect.equal(try meta.getattr(b).nlink, 1, "the replaced inode lost a link")
        // Over its last name: it is deleted and its slices queued.
        let used = try meta.statfs().usedInodes
        try makeFile(meta, .root, "x")
        expect.equal(try meta.rename(.root, bytes("x"), .root, bytes("c")), b, "the replaced inode is reported")
        expect.errno(.noSuchFileOrDirectory, "the replaced inode is deleted") { try meta.getattr(b) }
        expect.isTrue(try pendingIDs(meta).contains(slice.id), "its slices are queued")
        expect.equal(try meta.statfs().usedInodes, used, "one created, one deleted")

        // Over an empty directory.
        let d1 = try makeDir(meta, .root, "d1")
        try makeFile(meta, d1, "content")
        let d2 = try makeDir(meta, .root, "d2")
        expect.equal(try meta.getattr(.root).nlink, 4, "root with two subdirectories")
        expect.equal(try meta.rename(.root, bytes("d1"), .root, bytes("d2")), d2, "the empty directory is replaced")
        expect.equal(try inode(meta, .root, "d2"), d1, "the name finds the source")
        expect.errno(.noSuchFileOrDirectory, "the replaced directory is deleted") { try meta.getattr(d2) }
        expect.equal(try meta.getattr(.root).nlink, 3, "root lost one subdirectory")
        let other = try makeDir(meta, .root, "other")
        let d3 = try makeDir(meta, other, "d3")
        try meta.rename(.root, bytes("d2"), other, bytes("d3"))
        expect.equal(try meta.getattr(.root).nlink, 3, "root lost d1, gained nothing")
        expect.equal(try meta.getattr(other).nlink, 3, "other: d3 replaced by d1")
        expect.equal(try meta.getattr(d1).parent, other, "parent field of the moved directory")
        expect.errno(.noSuchFileOrDirectory, "the replaced directory is deleted") { try meta.getattr(d3) }

        // Refused replacements change nothing.
        let e1 = try makeDir(meta, .root, "e1")
        let e2 = try makeDir(meta, .root, "e2")
        try makeFile(meta, e2, "x")
        let file = try makeFile(meta, .root, "file")
        let rootBefore = try meta.getattr(.root).nlink
        expect.errno(.directoryNotEmpty, "over a non-empty directory") { try meta.rename(.root, bytes("e1"), .root, bytes("e2")) }
        expect.errno(.isDirectory, "a file over a directory") { try meta.rename(.root, bytes("file"), .root, bytes("e1")) }
        expect.errno(.notDirectory, "a directory over a file") { try meta.rename(.root, bytes("e1"), .root, bytes("file")) }
        expect.equal(try inode(meta, .root, "e1"), e1, "e1 stays")
        expect.equal(try inode(meta, .root, "e2"), e2, "e2 stays")
        expect.equal(try inode(meta, .root, "file"), file, "file stays")
        expect.equal(try meta.getattr(.root).nlink, rootBefore, "root nlink unchanged")
    }

    func checkRenameIntoSubtree(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let p = try makeDir(meta, .root, "p")
        let q = try makeDir(meta, p, "q")
        let r = try makeDir(meta, q, "r")
        expect.errno(.invalidArgument, "into itself") { try meta.rename(.root, bytes("p"), p, bytes("p")) }
        expect.errno(.invalidArgument, "into its child") { try meta.rename(.root, bytes("p"), q, bytes("p")) }
        expect.errno(.invalidArgument, "into its grandchild") { try meta.rename(.root, bytes("p"), r, bytes("p")) }
        expect.errno(.invalidArgument, "q into r") { try meta.rename(p, bytes("q"), r, bytes("x")) }
        expect.equal(try inode(meta, .root, "p"), p, "p stays")
        expect.equal(try meta.getattr(p).parent, .root, "p's parent unchanged")
        expect.equal(try meta.getattr(.root).nlink, 3, "root unchanged")
        // Moving upwards is fine.
        try meta.rename(q, bytes("r"), .root, bytes("r"))
        expect.equal(try meta.getattr(r).parent, .root, "r moved up")
        expect.equal(try meta.getattr(q).nlink, 2, "q lost r")
        expect.equal(try meta.getattr(.root).nlink, 4, "root gained r")
    }

    func checkRenameNoReplace(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let a = try makeFile(meta, .root, "a")
        let b = try makeFile(meta, .root, "b")
        expect.errno(.fileExists, "target exists") { try meta.rename(.root, bytes("a"), .root, bytes("b"), flags: .noReplace) }
        expect.equal(try inode(meta, .root, "a"), a, "a stays")
        expect.equal(try inode(meta, .root, "b"), b, "b stays")
        expect.errno(.invalidArgument, "noReplace with exchange") {
            try meta.rename(.root, bytes("a"), .root, bytes("b"), flags: [.noReplace, .exchange])
        }
        try meta.rename(.root, bytes("a"), .root, bytes("c"), flags: .noReplace)
        expect.equal(try inode(meta, .root, "c"), a, "free target")
    }

    func checkRenameExchange(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let a = try makeFile(meta, .root, "a")
        let b = try makeFile(meta, .root, "b")
        expect.equal(try meta.rename(.root, bytes("a"), .root, bytes("b"), flags: .exchange), nil, "nothing removed")
        expect.equal(try inode(meta, .root, "a"), b, "a now names b")
        expect.equal(try inode(meta, .root, "b"), a, "b now names a")
        expect.equal(try meta.getattr(a).nlink, 1, "nlink unchanged")

        let x = try makeDir(meta, .root, "X")
        let y = try makeDir(meta, .root, "Y")
        let file = try makeFile(meta, x, "f")
        let dir = try makeDir(meta, y, "D")
        try makeFile(meta, dir, "inside")
        try meta.rename(x, bytes("f"), y, bytes("D"), flags: .exchange)
        expect.equal(try inode(meta, x, "f"), dir, "X/f is the directory")
        expect.equal(try inode(meta, y, "D"), file, "Y/D is the file")
        expect.equal(try meta.getattr(x).nlink, 3, "X gained a subdirectory")
        expect.equal(try meta.getattr(y).nlink, 2, "Y lost a subdirectory")
        expect.equal(try meta.getattr(dir).parent, x, "parent field of the exchanged directory")
        expect.equal(try meta.lookup(dir, bytes("..")).0, x, ".. of the exchanged directory")
        expect.equal(try meta.getattr(.root).nlink, 4, "root unchanged")
        let other = try makeDir(meta, y, "E")
        try meta.rename(x, bytes("f"), y, bytes("E"), flags: .exchange)
        expect.equal(try meta.getattr(x).nlink, 3, "two directories exchanged: X keeps its count")
        expect.equal(try meta.getattr(y).nlink, 3, "two directories exchanged: Y keeps its count")
        expect.equal(try meta.getattr(dir).parent, y, "D back in Y")
        expect.equal(try meta.getattr(other).parent, x, "E now in X")

        expect.errno(.noSuchFileOrDirectory, "exchange with a missing target") {
            try meta.rename(.root, bytes("a"), .root, bytes("none"), flags: .exchange)
        }
        expect.equal(try inode(meta, .root, "a"), b, "a unchanged")
        expect.equal(try inode(meta, .root, "none"), nil, "no target created")
        expect.errno(.invalidArgument, "exchange a directory into its own subtree") {
            try meta.rename(.root, bytes("Y"), dir, bytes("inside"), flags: .exchange)
        }
        expect.equal(try inode(meta, .root, "Y"), y, "Y stays")
    }

    func checkRenameSameInode(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "a")
        _ = try meta.link(file, .root, bytes("b"))
        expect.equal(try meta.rename(.root, bytes("a"), .root, bytes("b")), nil, "nothing replaced")
        expect.equal(try inode(meta, .root, "a"), file, "both names stay (a)")
        expect.equal(try inode(meta, .root, "b"), file, "both names stay (b)")
        expect.equal(try meta.getattr(file).nlink, 2, "nlink unchanged")
        try meta.rename(.root, bytes("a"), .root, bytes("a"))
        expect.equal(try inode(meta, .root, "a"), file, "rename onto itself keeps the name")
        expect.equal(try meta.getattr(file).nlink, 2, "and the links")
        let dir = try makeDir(meta, .root, "d")
        try meta.rename(.root, bytes("d"), .root, bytes("d"))
        expect.equal(try inode(meta, .root, "d"), dir, "a directory onto itself")
        expect.equal(try meta.getattr(.root).nlink, 3, "root nlink unchanged")
        expect.equal(try meta.readdir(.root, after: nil, limit: 10, withAttributes: false).count, 3, "three names")
    }
}
