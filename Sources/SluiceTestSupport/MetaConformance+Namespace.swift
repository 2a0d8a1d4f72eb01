import SluiceBase
import SluiceMeta

extension MetaConformance {
    func checkLookup(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let dir = try makeDir(meta, .root, "d")
        let sub = try makeDir(meta, dir, "sub")
        let file = try makeFile(meta, dir, "f")
        expect.equal(try meta.lookup(.root, bytes(".")).0, .root, "root/.")
        expect.equal(try meta.lookup(.root, bytes("..")).0, .root, "root/.. is the root")
        expect.equal(try meta.lookup(dir, bytes(".")).0, dir, "d/.")
        expect.equal(try meta.lookup(dir, bytes("..")).0, .root, "d/..")
        expect.equal(try meta.lookup(sub, bytes("..")).0, dir, "d/sub/..")
        let (found, attr) = try meta.lookup(dir, bytes("f"))
        expect.equal(found, file, "d/f")
        expect.equal(attr, try meta.getattr(file), "lookup returns the attributes")
        expect.errno(.noSuchFileOrDirectory, "missing name") { try meta.lookup(dir, bytes("nope")) }
        expect.errno(.noSuchFileOrDirectory, "missing directory") { try meta.lookup(InodeNumber(999_999), bytes("x")) }
        expect.errno(.notDirectory, "name in a file") { try meta.lookup(file, bytes("x")) }
        expect.errno(.notDirectory, ".. of a file") { try meta.lookup(file, bytes("..")) }
        expect.errno(.notDirectory, ". of a file") { try meta.lookup(file, bytes(".")) }
        expect.errno(.fileNameTooLong, "256-byte name") { try meta.lookup(dir, bytes(String(repeating: "x", count: 256))) }
        expect.errno(.noSuchFileOrDirectory, "getattr of a missing inode") { try meta.getattr(InodeNumber(999_999)) }
    }

    func checkReadlink(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let target = Array(repeating: UInt8(ascii: "t"), count: Layout.maxSymlinkLength)
        let (link, _) = try meta.create(.root, bytes("l"), NewInode(type: .symlink, permissions: .init(rawValue: 0o777),
                                                                     symlinkTarget: target), by: Self.user)
        expect.equal(try meta.readlink(link), target, "longest target round-trips")
        let file = try makeFile(meta, .root, "f")
        let dir = try makeDir(meta, .root, "d")
        expect.errno(.invalidArgument, "readlink of a file") { try meta.readlink(file) }
        expect.errno(.invalidArgument, "readlink of a directory") { try meta.readlink(dir) }
        expect.errno(.noSuchFileOrDirectory, "readlink of a missing inode") { try meta.readlink(InodeNumber(999_999)) }
        expect.errno(.fileNameTooLong, "target too long") {
            try meta.create(.root, bytes("l2"), NewInode(type: .symlink, permissions: .init(rawValue: 0o777),
                                                         symlinkTarget: target + [0x74]), by: Self.user)
        }
    }

    func checkLink(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        let dir = try makeDir(meta, .root, "d")
        let before = try meta.getattr(file)
        tick()
        let after = try meta.link(file, dir, bytes("g"))
        expect.equal(after.nlink, 2, "link returns nlink 2")
        expect.isTrue(after.ctime > before.ctime, "link changes ctime")
        expect.equal(try meta.getattr(file), after, "link's attributes stored")
        expect.equal(try meta.lookup(dir, bytes("g")).0, file, "the new name finds the inode")
        expect.isTrue(try meta.getattr(dir).mtime > before.ctime, "link changes the directory's mtime")
        expect.equal(try meta.getattr(dir).nlink, 2, "a file link does not change directory nlink")
        expect.equal(try meta.link(file, .root, bytes("h")).nlink, 3, "third link")
        expect.errno(.notPermitted, "link to a directory") { try meta.link(dir, .root, bytes("d2")) }
        expect.errno(.fileExists, "link over an existing name") { try meta.link(file, .root, bytes("d")) }
        expect.errno(.fileExists, "link named .") { try meta.link(file, dir, bytes(".")) }
        expect.errno(.fileExists, "link named ..") { try meta.link(file, dir, bytes("..")) }
        expect.errno(.notDirectory, "link into a file") { try meta.link(file, file, bytes("x")) }
        expect.errno(.noSuchFileOrDirectory, "link of a missing inode") { try meta.link(InodeNumber(999_999), .root, bytes("x")) }
        expect.equal(try meta.getattr(file).nlink, 3, "failed links change nothing")
        expect.equal(try meta.statfs().usedInodes, 3, "links are not inodes")
    }

    func checkUnlink(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        let s0 = try writeSlice(meta, file, chunk: 0)
        let s2 = try writeSlice(meta, file, chunk: 2, at: 100, length: 50)
        _ = try meta.link(file, .root, bytes("g"))
        let dir = try makeDir(meta, .root, "d")
        let used = try meta.statfs().usedInodes
        tick()
        let (ino, first) = try meta.unlink(.root, bytes("f"))
        expect.equal(ino, file, "unlink names the inode")
        expect.equal(first.nlink, 1, "one link left")
        expect.equal(try meta.getattr(file).nlink, 1, "stored nlink decreased")
        expect.equal(try inode(meta, .root, "f"), nil, "the name is gone")
        expect.equal(try inode(meta, .root, "g"), file, "the other name stays")
        expect.isTrue(try pendingIDs(meta).isDisjoint(with: [s0.id, s2.id]), "a linked inode keeps its slices")
        let (_, last) = try meta.unlink(.root, bytes("g"))
        expect.equal(last.nlink, 0, "last link")
        expect.errno(.noSuchFileOrDirectory, "inode deleted with its last link") { try meta.getattr(file) }
        expect.equal(try meta.readChunk(file, 0), [], "chunk records deleted")
        expect.isTrue(try pendingIDs(meta).isSuperset(of: [s0.id, s2.id]), "all its slices are due for deletion")
        expect.equal(try meta.statfs().usedInodes, used - 1, "inode count decreased")
        expect.errno(.isDirectory, "unlink of a directory") { try meta.unlink(.root, bytes("d")) }
        expect.errno(.noSuchFileOrDirectory, "unlink of a missing name") { try meta.unlink(.root, bytes("f")) }
        expect.errno(.isDirectory, "unlink of .") { try meta.unlink(dir, bytes(".")) }
        expect.errno(.isDirectory, "unlink of ..") { try meta.unlink(dir, bytes("..")) }
        expect.errno(.notDirectory, "unlink in a file's place") {
            try meta.unlink(try makeFile(meta, .root, "x"), bytes("y"))
        }
        expect.equal(try meta.getattr(dir).nlink, 2, "the directory is untouched")
        let pending = try meta.pendingSliceDeletions(limit: 10_000)
        try meta.confirmSliceDeletions(pending)
        expect.equal(try pendingIDs(meta), [], "confirmed deletions are forgotten")
    }

    func checkOpenUnlinked(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        let slice = try writeSlice(meta, file)
        _ = try meta.open(file)
        _ = try meta.open(file)
        let (_, attr) = try meta.unlink(.root, bytes("f"))
        expect.equal(attr.nlink, 0, "no names left")
        expect.equal(try meta.getattr(file).nlink, 0, "the open inode lives on with nlink 0")
        expect.equal(try meta.getattr(file).size, 4096, "with its data")
        expect.equal(try meta.readChunk(file, 0), [slice], "and its slices")
        expect.equal(try inode(meta, .root, "f"), nil, "the name is gone")
        expect.isTrue(!(try pendingIDs(meta).contains(slice.id)), "its slices are not queued while open")
        expect.errno(.noSuchFileOrDirectory, "no new link to an unlinked inode") { try meta.link(file, .root, bytes("again")) }
        try meta.close(file)
        expect.equal(try meta.getattr(file).nlink, 0, "still held by the second handle")
        try meta.close(file)
        expect.errno(.noSuchFileOrDirectory, "the last close deletes it") { try meta.getattr(file) }
        expect.isTrue(try pendingIDs(meta).contains(slice.id), "its slices are queued at the last close")
        expect.equal(try meta.statfs().usedInodes, 1, "only the root is left")

        // Closing a file that still has names deletes nothing.
        let kept = try makeFile(meta, .root, "kept")
        _ = try meta.open(kept)
        try meta.close(kept)
        expect.equal(try meta.getattr(kept).nlink, 1, "closing a linked file keeps it")

        // Replaced by a rename while open: the same as unlinked while open.
        let replaced = try makeFile(meta, .root, "replaced")
        let rs = try writeSlice(meta, replaced)
        try makeFile(meta, .root, "new")
        _ = try meta.open(replaced)
        expect.equal(try meta.rename(.root, bytes("new"), .root, bytes("replaced")), replaced, "its last name is gone")
        expect.equal(try meta.getattr(replaced).nlink, 0, "kept while open")
        expect.isTrue(!(try pendingIDs(meta).contains(rs.id)), "slices kept while open")
        try meta.close(replaced)
        expect.errno(.noSuchFileOrDirectory, "deleted at the last close") { try meta.getattr(replaced) }
        expect.isTrue(try pendingIDs(meta).contains(rs.id), "slices queued at the last close")
    }

    func checkRmdir(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let dir = try makeDir(meta, .root, "d")
        try makeFile(meta, dir, "f")
        try makeFile(meta, .root, "file")
        expect.equal(try meta.getattr(.root).nlink, 3, "root with one subdirectory")
        expect.errno(.directoryNotEmpty, "rmdir of a non-empty directory") { try meta.rmdir(.root, bytes("d")) }
        expect.errno(.notDirectory, "rmdir of a file") { try meta.rmdir(.root, bytes("file")) }
        expect.errno(.noSuchFileOrDirectory, "rmdir of a missing name") { try meta.rmdir(.root, bytes("nope")) }
        expect.errno(.invalidArgument, "rmdir of .") { try meta.rmdir(dir, bytes(".")) }
        expect.errno(.directoryNotEmpty, "rmdir of ..") { try meta.rmdir(dir, bytes("..")) }
        expect.equal(try meta.getattr(.root).nlink, 3, "failed rmdirs change nothing")
        try meta.unlink(dir, bytes("f"))
        let used = try meta.statfs().usedInodes
        try meta.rmdir(.root, bytes("d"))
        expect.equal(try meta.getattr(.root).nlink, 2, "parent nlink decreased")
        expect.errno(.noSuchFileOrDirectory, "the directory inode is gone") { try meta.getattr(dir) }
        expect.equal(try inode(meta, .root, "d"), nil, "its name is gone")
        expect.equal(try meta.statfs().usedInodes, used - 1, "inode count decreased")
        let a = try makeDir(meta, .root, "a")
        try makeDir(meta, a, "b")
        expect.equal(try meta.getattr(a).nlink, 3, "a with one subdirectory")
        try meta.rmdir(a, bytes("b"))
        expect.equal(try meta.getattr(a).nlink, 2, "nested rmdir lowers the nested parent")
        expect.equal(try meta.getattr(.root).nlink, 3, "and not the root")
    }
}
