import Foundation
import SluiceBase
import SluiceMeta

/// The trash (`trashDays` > 0): files losing their last name move to `/.trash/<hour>/`.
extension MetaConformance {
    /// Turns the trash on for the check's volume.
    func enableTrash(_ meta: MetaClient, days: Int = 1) throws {
        var settings = Self.testSettings
        settings.trashDays = days
        try meta.format(settings, force: true)
    }

    /// The current hour's trash directory name, `YYYY-MM-DD-HH` in UTC.
    func currentHourName() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd-HH"
        return f.string(from: Date())
    }

    /// Every (hour directory, entry) in the trash.
    func trashListing(_ meta: MetaClient) throws -> [(hour: String, entry: DirectoryEntry)] {
        guard let trash = try inode(meta, .root, ".trash") else { return [] }
        var out: [(String, DirectoryEntry)] = []
        for hour in try meta.readdir(trash, after: nil, limit: 10_000, withAttributes: false) {
            for e in try meta.readdir(hour.inode, after: nil, limit: 10_000, withAttributes: true) {
                out.append((String(decoding: hour.name, as: UTF8.self), e))
            }
        }
        return out
    }

    func checkTrashUnlink(_ meta: MetaClient, _ expect: MetaExpect) throws {
        try enableTrash(meta)
        let dir = try makeDir(meta, .root, "d")
        let file = try makeFile(meta, dir, "f")
        let slice = try writeSlice(meta, file)
        let used = try meta.statfs().usedInodes
        let (ino, attr) = try meta.unlink(dir, bytes("f"))
        expect.equal(ino, file, "unlink names the inode")
        expect.equal(attr.nlink, 1, "the trash entry is its one link")
        expect.equal(try inode(meta, dir, "f"), nil, "the name is gone")
        let trash = try inode(meta, .root, ".trash")
        expect.equal(trash, Trash.inode, ".trash is created at its reserved inode")
        let t = try meta.getattr(Trash.inode)
        expect.equal(t.type, .directory, ".trash is a directory")
        expect.equal(t.uid, 0, "owned by root")
        expect.equal(t.permissions.rawValue & 0o222, 0, "writable by nobody through mode bits")
        let listing = try trashListing(meta)
        expect.equal(listing.count, 1, "one file in the trash")
        expect.equal(listing.first?.hour, currentHourName(), "under the current UTC hour")
        expect.equal(listing.first.map { String(decoding: $0.entry.name, as: UTF8.self) }, "\(dir.rawValue)-\(file.rawValue)-f",
                     "named <parent>-<inode>-<name>")
        expect.equal(listing.first?.entry.inode, file, "the same inode")
        expect.equal(listing.first?.entry.attributes?.nlink, 1, "nlink 1")
        expect.equal(try meta.readChunk(file, 0), [slice], "its data is kept")
        expect.isTrue(!(try pendingIDs(meta).contains(slice.id)), "its slices are not queued for deletion")
        expect.equal(try meta.statfs().usedInodes, used + 2, "the file still counts; .trash and the hour are new")

        // Nobody creates in the trash.
        let hour = try meta.lookup(Trash.inode, bytes(currentHourName())).0
        expect.errno(.notPermitted, "create in .trash") { try makeFile(meta, Trash.inode, "x") }
        expect.errno(.notPermitted, "create in an hour directory") { try makeFile(meta, hour, "x") }
        expect.errno(.notPermitted, "mkdir in .trash") { try makeDir(meta, Trash.inode, "x") }
        expect.errno(.notPermitted, "link into the trash") { try meta.link(try makeFile(meta, .root, "l"), hour, bytes("x")) }
        expect.errno(.notPermitted, "rename into the trash") { try meta.rename(.root, bytes("l"), hour, bytes("x")) }
        expect.errno(.notPermitted, "rename .trash") { try meta.rename(.root, bytes(".trash"), .root, bytes("t")) }
        try makeDir(meta, .root, "x")
        expect.errno(.notPermitted, "replace .trash") { try meta.rename(.root, bytes("x"), .root, bytes(".trash")) }
        expect.errno(.notPermitted, "rename an hour directory out") {
            try meta.rename(Trash.inode, bytes(currentHourName()), .root, bytes("h"))
        }
        expect.errno(.notPermitted, "rmdir .trash") { try meta.rmdir(.root, bytes(".trash")) }

        // Restored by renaming it out.
        let trashName = listing.first?.entry.name ?? []
        try meta.rename(hour, trashName, dir, bytes("restored"))
        expect.equal(try inode(meta, dir, "restored"), file, "restored under a new name")
        expect.equal(try meta.getattr(file).nlink, 1, "one name again")
        expect.equal(try meta.readChunk(file, 0), [slice], "with its data")
        expect.equal(try trashListing(meta).count, 0, "the trash is empty again")

        // Hard links: only the last name sends the file to the trash.
        _ = try meta.link(file, .root, bytes("second"))
        try meta.unlink(dir, bytes("restored"))
        expect.equal(try trashListing(meta).count, 0, "a file with another name stays out of the trash")
        try meta.unlink(.root, bytes("second"))
        expect.equal(try trashListing(meta).map(\.entry.inode), [file], "its last name sends it")

        // A long name is cut to fit.
        let long = String(repeating: "n", count: 255)
        let lf = try makeFile(meta, .root, long)
        try meta.unlink(.root, bytes(long))
        let cut = try trashListing(meta).first { $0.entry.inode == lf }?.entry.name
        expect.equal(cut?.count, 255, "the trash name is cut to 255 bytes")

        // Removing a file inside the trash deletes it for good; an rmdir'd directory is deleted.
        try meta.unlink(hour, bytes("1-\(file.rawValue)-second"))
        expect.errno(.noSuchFileOrDirectory, "unlink in the trash deletes") { try meta.getattr(file) }
        expect.isTrue(try pendingIDs(meta).contains(slice.id), "and queues its slices")
        let sub = try makeDir(meta, dir, "sub")
        try meta.rmdir(dir, bytes("sub"))
        expect.errno(.noSuchFileOrDirectory, "rmdir deletes the directory") { try meta.getattr(sub) }
        expect.isTrue(!(try trashListing(meta).contains { $0.entry.inode == sub }), "directories skip the trash")
    }

    func checkTrashRename(_ meta: MetaClient, _ expect: MetaExpect) throws {
        try enableTrash(meta)
        let old = try makeFile(meta, .root, "target")
        let slice = try writeSlice(meta, old)
        try makeFile(meta, .root, "new")
        expect.equal(try meta.rename(.root, bytes("new"), .root, bytes("target")), nil,
                     "no inode lost its last link: the replaced one is in the trash")
        let listing = try trashListing(meta)
        expect.equal(listing.map(\.entry.inode), [old], "the replaced file is in the trash")
        expect.equal(listing.first.map { String(decoding: $0.entry.name, as: UTF8.self) }, "1-\(old.rawValue)-target",
                     "under its replaced name")
        expect.equal(try meta.readChunk(old, 0), [slice], "with its data")
        expect.isTrue(!(try pendingIDs(meta).contains(slice.id)), "its slices are not queued")

        // Open while replaced: alive with nlink 0, to the trash at the last close.
        let open = try makeFile(meta, .root, "open")
        let os = try writeSlice(meta, open)
        try makeFile(meta, .root, "other")
        _ = try meta.open(open)
        expect.equal(try meta.rename(.root, bytes("other"), .root, bytes("open")), open, "its last name is gone")
        expect.equal(try meta.getattr(open).nlink, 0, "nlink 0 while open")
        expect.isTrue(!(try trashListing(meta).contains { $0.entry.inode == open }), "not in the trash while open")
        try meta.close(open)
        expect.equal(try meta.getattr(open).nlink, 1, "the last close trashes it")
        expect.isTrue(try trashListing(meta).contains { $0.entry.inode == open }, "listed in the trash")
        expect.isTrue(!(try pendingIDs(meta).contains(os.id)), "its slices are kept")

        // Unlinked while open: the same.
        let u = try makeFile(meta, .root, "u")
        _ = try meta.open(u)
        try meta.unlink(.root, bytes("u"))
        expect.equal(try meta.getattr(u).nlink, 0, "nlink 0 while open")
        try meta.close(u)
        expect.isTrue(try trashListing(meta).contains { $0.entry.inode == u && $0.entry.name == bytes("1-\(u.rawValue)-u") },
                      "unlinked while open: trashed at the last close")
    }

    func checkTrashOff(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        let slice = try writeSlice(meta, file)
        try meta.unlink(.root, bytes("f"))
        expect.errno(.noSuchFileOrDirectory, "deleted at once") { try meta.getattr(file) }
        expect.isTrue(try pendingIDs(meta).contains(slice.id), "slices queued")
        let old = try makeFile(meta, .root, "target")
        try makeFile(meta, .root, "new")
        expect.equal(try meta.rename(.root, bytes("new"), .root, bytes("target")), old, "replaced and deleted")
        expect.equal(try inode(meta, .root, ".trash"), nil, "no trash directory")
        expect.equal(try meta.emptyTrash(olderThan: Date(timeIntervalSinceNow: 86400)), 0, "nothing to empty")
        expect.equal(try meta.statfs().usedInodes, 2, "the root and the renamed file")
    }

    func checkTrashEmpty(_ meta: MetaClient, _ expect: MetaExpect) throws {
        try enableTrash(meta)
        let a = try makeFile(meta, .root, "a")
        let sa = try writeSlice(meta, a)
        let b = try makeFile(meta, .root, "b")
        let sb = try writeSlice(meta, b, chunk: 1)
        try meta.unlink(.root, bytes("a"))
        try meta.unlink(.root, bytes("b"))
        let used = try meta.statfs().usedInodes
        expect.equal(try meta.emptyTrash(olderThan: Date(timeIntervalSinceNow: -3600)), 0, "this hour is not expired yet")
        expect.equal(try trashListing(meta).count, 2, "both stay")
        expect.equal(try meta.emptyTrash(olderThan: Date(timeIntervalSinceNow: 3600)), 2, "an expired hour is emptied")
        expect.equal(try trashListing(meta).count, 0, "the trash is empty")
        expect.errno(.noSuchFileOrDirectory, "the hour directory is gone") {
            try meta.lookup(Trash.inode, bytes(currentHourName()))
        }
        expect.equal(try meta.getattr(Trash.inode).nlink, 2, ".trash has no subdirectories left")
        expect.errno(.noSuchFileOrDirectory, "a deleted") { try meta.getattr(a) }
        expect.errno(.noSuchFileOrDirectory, "b deleted") { try meta.getattr(b) }
        expect.isTrue(try pendingIDs(meta).isSuperset(of: [sa.id, sb.id]), "their slices are queued for deletion")
        expect.equal(try meta.statfs().usedInodes, used - 3, "two files and the hour directory fewer")
        // The trash comes back for the next deletion.
        let c = try makeFile(meta, .root, "c")
        try meta.unlink(.root, bytes("c"))
        expect.equal(try trashListing(meta).map(\.entry.inode), [c], "a new hour directory")
    }
}
