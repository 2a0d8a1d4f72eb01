import SluiceBase
import SluiceMeta
import XCTest

/// The POSIX metadata behaviour `MetaClient` must show on every `KVEngine`, as one reusable
/// suite. An engine's tests get all of it with a few lines:
///
///     func testMetaConformance() {
///         MetaConformance(make: { try MyEngine(fresh store) }).runAll()
///     }
///
/// Each check opens its own engine with `make`, resets it, formats a fresh volume on it (except
/// `.format`, which starts from the empty engine) and closes the engine at the end. Outcomes
/// are asserted exactly, POSIX failures as their `Errno`. Failures are reported at the caller's
/// file and line, prefixed with the check's name.
public struct MetaConformance {
    /// Opens an engine on a new (or reset-able) store.
    public var make: () throws -> any KVEngine

    public init(make: @escaping () throws -> any KVEngine) {
        self.make = make
    }

    /// The individual checks, runnable one at a time with `run(_:)`.
    public enum Check: String, CaseIterable, Sendable {
        case format
        case createAttributes, createErrors, setgidDirectories
        case lookup, readlink, link, unlink, openUnlinked, rmdir
        case renameSimple, renameAcrossDirectories, renameReplacing, renameIntoSubtree
        case renameNoReplace, renameExchange, renameSameInode
        case setattr, truncate, writeAndRead, writeBatch, compaction
        case readdirPaging, readdirAttributes, statfs, sessions
        case racingCreates, parallelCreates, racingRenames, sliceIDs
        case trashUnlink, trashRename, trashOff, trashEmpty
    }

    /// The settings every check formats its volume with.
    public static var testSettings: VolumeSettings {
        VolumeSettings(name: "test", storage: "mem", bucket: "b")
    }

    /// The identity checks create with (not root, so that uid/gid are seen to be taken from it).
    static let user = Caller(uid: 1000, gid: 100)

    /// Runs every check; a failing or throwing check is reported and the others still run.
    public func runAll(file: StaticString = #filePath, line: UInt = #line) {
        for check in Check.allCases { run(check, file: file, line: line) }
    }

    /// Runs one check.
    public func run(_ check: Check, file: StaticString = #filePath, line: UInt = #line) {
        let expect = MetaExpect(check: check, file: file, line: line)
        do {
            let engine = try make()
            defer { engine.close() }
            try engine.reset()
            let meta = MetaClient(engine: engine)
            if check != .format { try meta.format(Self.testSettings, force: false) }
            try run(check, on: meta, expect)
        } catch {
            XCTFail("[\(check.rawValue)] threw \(error)", file: file, line: line)
        }
    }

    private func run(_ check: Check, on meta: MetaClient, _ expect: MetaExpect) throws {
        switch check {
        case .format: try checkFormat(meta, expect)
        case .createAttributes: try checkCreateAttributes(meta, expect)
        case .createErrors: try checkCreateErrors(meta, expect)
        case .setgidDirectories: try checkSetgidDirectories(meta, expect)
        case .lookup: try checkLookup(meta, expect)
        case .readlink: try checkReadlink(meta, expect)
        case .link: try checkLink(meta, expect)
        case .unlink: try checkUnlink(meta, expect)
        case .openUnlinked: try checkOpenUnlinked(meta, expect)
        case .rmdir: try checkRmdir(meta, expect)
        case .renameSimple: try checkRenameSimple(meta, expect)
        case .renameAcrossDirectories: try checkRenameAcrossDirectories(meta, expect)
        case .renameReplacing: try checkRenameReplacing(meta, expect)
        case .renameIntoSubtree: try checkRenameIntoSubtree(meta, expect)
        case .renameNoReplace: try checkRenameNoReplace(meta, expect)
        case .renameExchange: try checkRenameExchange(meta, expect)
        case .renameSameInode: try checkRenameSameInode(meta, expect)
        case .setattr: try checkSetattr(meta, expect)
        case .truncate: try checkTruncate(meta, expect)
        case .writeAndRead: try checkWriteAndRead(meta, expect)
        case .writeBatch: try checkWriteBatch(meta, expect)
        case .compaction: try checkCompaction(meta, expect)
        case .readdirPaging: try checkReaddirPaging(meta, expect)
        case .readdirAttributes: try checkReaddirAttributes(meta, expect)
        case .statfs: try checkStatfs(meta, expect)
        case .sessions: try checkSessions(meta, expect)
        case .racingCreates: try checkRacingCreates(meta, expect)
        case .parallelCreates: try checkParallelCreates(meta, expect)
        case .racingRenames: try checkRacingRenames(meta, expect)
        case .sliceIDs: try checkSliceIDs(meta, expect)
        case .trashUnlink: try checkTrashUnlink(meta, expect)
        case .trashRename: try checkTrashRename(meta, expect)
        case .trashOff: try checkTrashOff(meta, expect)
        case .trashEmpty: try checkTrashEmpty(meta, expect)
        }
    }

    // MARK: Format

    private func checkFormat(_ meta: MetaClient, _ expect: MetaExpect) throws {
        expect.usageError("settings() of an empty engine") { try meta.settings() }
        var first = Self.testSettings
        first.trashDays = 1
        try meta.format(first, force: false)
        let root = try meta.getattr(.root)
        expect.equal(root.type, .directory, "root is a directory")
        expect.equal(root.nlink, 2, "root nlink")
        expect.equal(root.permissions.rawValue, 0o777, "root permissions")
        expect.equal(root.size, Layout.directorySize, "root size")
        expect.equal(root.parent, .root, "root is its own parent")
        expect.equal(try meta.settings().uuid, first.uuid, "settings read back")
        let (kept, _) = try meta.create(.root, bytes("kept"), NewInode(type: .regular, permissions: .init(rawValue: 0o644)),
                                        by: Self.user)

        expect.usageError("formatting again without force") { try meta.format(Self.testSettings, force: false) }
        expect.equal(try meta.settings().trashDays, 1, "a refused format changes nothing")

        var update = Self.testSettings  // a new uuid of its own, which must not win
        update.trashDays = 7
        update.capacity = 1 << 30
        try meta.format(update, force: true)
        let now = try meta.settings()
        expect.equal(now.trashDays, 7, "force updates settings")
        expect.equal(now.capacity, 1 << 30, "force updates capacity")
        expect.equal(now.uuid, first.uuid, "force keeps the uuid")
        expect.equal(try meta.lookup(.root, bytes("kept")).0, kept, "force keeps the namespace")
        expect.equal(try meta.getattr(.root).nlink, 2, "force leaves the root alone")

        var blocks = Self.testSettings
        blocks.blockSize = 1 << 20
        expect.usageError("changing the block size") { try meta.format(blocks, force: true) }
        var renamed = Self.testSettings
        renamed.name = "other"
        expect.usageError("changing the name") { try meta.format(renamed, force: true) }
        expect.equal(try meta.settings().blockSize, Layout.defaultBlockSize, "block size unchanged")
        expect.equal(try meta.settings().name, "test", "name unchanged")
        expect.equal(try meta.statfs().usedInodes, 2, "root and one file")
    }

    // MARK: Create

    private func checkCreateAttributes(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let before = Timespec.now()
        let (file, fa) = try meta.create(.root, bytes("file"), NewInode(type: .regular, permissions: .init(rawValue: 0o640)),
                                         by: Self.user)
        expect.equal(fa.type, .regular, "file type")
        expect.equal(fa.permissions.rawValue, 0o640, "file permissions")
        expect.equal(fa.uid, 1000, "uid from the caller")
        expect.equal(fa.gid, 100, "gid from the caller")
        expect.equal(fa.nlink, 1, "file nlink")
        expect.equal(fa.size, 0, "file size")
        expect.isTrue(fa.atime >= before && fa.mtime >= before && fa.ctime >= before, "times set at creation")
        expect.equal(try meta.getattr(file), fa, "getattr returns what create returned")
        expect.equal(try meta.getattr(.root).nlink, 2, "a file does not add to the parent's nlink")

        let (dir, da) = try meta.create(.root, bytes("dir"), NewInode(type: .directory, permissions: .init(rawValue: 0o755)),
                                        by: Self.user)
        expect.equal(da.type, .directory, "dir type")
        expect.equal(da.nlink, 2, "dir nlink")
        expect.equal(da.size, 4096, "dir size")
        expect.equal(da.parent, .root, "dir parent")
        let root = try meta.getattr(.root)
        expect.equal(root.nlink, 3, "parent nlink +1 per subdirectory")
        expect.isTrue(root.mtime >= da.ctime && root.ctime >= da.ctime, "parent mtime/ctime updated")
        expect.equal(try meta.readdir(dir, after: nil, limit: 10, withAttributes: false).count, 0, "new dir is empty")

        let target = bytes("../some/target")
        let (link, la) = try meta.create(dir, bytes("link"), NewInode(type: .symlink, permissions: .init(rawValue: 0o777),
                                                                       symlinkTarget: target), by: Self.user)
        expect.equal(la.type, .symlink, "symlink type")
        expect.equal(la.size, UInt64(target.count), "symlink size is the target length")
        expect.equal(try meta.readlink(link), target, "symlink target")

        let (fifo, pa) = try meta.create(dir, bytes("fifo"), NewInode(type: .fifo, permissions: .init(rawValue: 0o600)),
                                         by: Self.user)
        expect.equal(pa.type, .fifo, "fifo type")
        expect.equal(pa.rdev, 0, "fifo rdev")
        let devices: [(String, FileType, UInt32)] = [("chr", .characterDevice, 0x0105), ("blk", .blockDevice, 0x0801)]
        for (name, type, rdev) in devices {
            let (ino, a) = try meta.create(dir, bytes(name), NewInode(type: type, permissions: .init(rawValue: 0o660), rdev: rdev),
                                           by: Self.user)
            expect.equal(a.type, type, "\(name) type")
            expect.equal(try meta.getattr(ino).rdev, rdev, "\(name) rdev stored")
        }
        expect.equal(try meta.lookup(.root, bytes("file")).0, file, "lookup file")
        expect.equal(try meta.lookup(dir, bytes("fifo")).0, fifo, "lookup fifo")
        expect.equal(try meta.getattr(dir).nlink, 2, "non-directories do not add to nlink")
        expect.equal(Set([file, dir, link, fifo]).count, 4, "distinct inode numbers")
    }

    private func checkCreateErrors(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        _ = try makeDir(meta, .root, "d")
        let used = try meta.statfs().usedInodes
        expect.errno(.fileExists, "duplicate file") { try makeFile(meta, .root, "f") }
        expect.errno(.fileExists, "directory over an existing name") { try makeDir(meta, .root, "f") }
        expect.errno(.fileExists, "file over an existing directory") { try makeFile(meta, .root, "d") }
        expect.errno(.notDirectory, "parent is a file") { try makeFile(meta, file, "x") }
        expect.errno(.noSuchFileOrDirectory, "parent missing") { try makeFile(meta, InodeNumber(999_999), "x") }
        expect.errno(.fileNameTooLong, "256-byte name") { try makeFile(meta, .root, String(repeating: "n", count: 256)) }
        expect.errno(.invalidArgument, "name with a slash") { try makeFile(meta, .root, "a/b") }
        expect.errno(.invalidArgument, "empty name") { try makeFile(meta, .root, "") }
        expect.errno(.fileExists, "creating .") { try makeDir(meta, .root, ".") }
        expect.errno(.fileExists, "creating ..") { try makeFile(meta, .root, "..") }
        expect.equal(try meta.statfs().usedInodes, used, "failed creates leave no inode")
        expect.equal(try meta.getattr(.root).nlink, 3, "failed creates leave parent nlink")
        let long = String(repeating: "n", count: 255)
        let ino = try makeFile(meta, .root, long)
        expect.equal(try meta.lookup(.root, bytes(long)).0, ino, "255-byte name is fine")
    }

    private func checkSetgidDirectories(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let sg = try makeDir(meta, .root, "sg", perms: 0o2775)
        _ = try meta.setattr(sg, AttributeChanges(gid: 500))
        let (sub, sa) = try meta.create(sg, bytes("sub"), NewInode(type: .directory, permissions: .init(rawValue: 0o755)),
                                        by: Self.user)
        expect.equal(sa.gid, 500, "subdirectory takes the setgid directory's group")
        expect.equal(sa.permissions.rawValue, 0o2755, "subdirectory inherits the setgid bit")
        let (_, fa) = try meta.create(sg, bytes("file"), NewInode(type: .regular, permissions: .init(rawValue: 0o644)),
                                      by: Self.user)
        expect.equal(fa.gid, 500, "file takes the setgid directory's group")
        expect.equal(fa.permissions.rawValue, 0o644, "a file does not get the setgid bit")
        let (_, deeper) = try meta.create(sub, bytes("deeper"), NewInode(type: .directory, permissions: .init(rawValue: 0o700)),
                                          by: Self.user)
        expect.equal(deeper.gid, 500, "inheritance continues down the tree")
        expect.equal(deeper.permissions.rawValue, 0o2700, "setgid bit continues down the tree")
        let plain = try makeDir(meta, .root, "plain")
        let (_, pa) = try meta.create(plain, bytes("x"), NewInode(type: .directory, permissions: .init(rawValue: 0o755)),
                                      by: Self.user)
        expect.equal(pa.gid, 100, "without setgid the caller's group")
        expect.equal(pa.permissions.rawValue, 0o755, "without setgid no setgid bit")
    }

    // MARK: Helpers

    @discardableResult
    func makeFile(_ meta: MetaClient, _ parent: InodeNumber, _ name: String, perms: UInt16 = 0o644) throws -> InodeNumber {
        try meta.create(parent, bytes(name), NewInode(type: .regular, permissions: .init(rawValue: perms)), by: Self.user).0
    }

    @discardableResult
    func makeDir(_ meta: MetaClient, _ parent: InodeNumber, _ name: String, perms: UInt16 = 0o755) throws -> InodeNumber {
        try meta.create(parent, bytes(name), NewInode(type: .directory, permissions: .init(rawValue: perms)), by: Self.user).0
    }

    /// Commits a fresh slice of `length` bytes at `position` of chunk `index`.
    @discardableResult
    func writeSlice(_ meta: MetaClient, _ ino: InodeNumber, chunk index: UInt32 = 0, at position: UInt32 = 0,
                    length: UInt32 = 4096) throws -> SliceRef {
        let slice = SliceRef(position: position, id: try meta.newSliceID(), size: length, offset: 0, length: length)
        _ = try meta.write(ino, chunk: index, slice: slice)
        return slice
    }

    /// The ids of the slices due for deletion now.
    func pendingIDs(_ meta: MetaClient) throws -> Set<SliceID> {
        Set(try meta.pendingSliceDeletions(limit: 10_000).map(\.id))
    }

    /// The inode `name` in `parent` names, or nil when it names nothing (ENOENT).
    func inode(_ meta: MetaClient, _ parent: InodeNumber, _ name: String) throws -> InodeNumber? {
        do { return try meta.lookup(parent, bytes(name)).0 } catch Errno.noSuchFileOrDirectory { return nil }
    }

    /// Sleeps long enough for the wall clock to move past any timestamp already taken.
    func tick() { usleep(2_000) }
}

/// Assertions that report at the suite's caller and name the check.
struct MetaExpect {
    let check: MetaConformance.Check
    let file: StaticString
    let line: UInt

    func equal<T: Equatable>(_ actual: T?, _ expected: T?, _ what: String) {
        XCTAssertEqual(actual, expected, "[\(check.rawValue)] \(what)", file: file, line: line)
    }

    func isTrue(_ condition: Bool, _ what: String) {
        XCTAssertTrue(condition, "[\(check.rawValue)] \(what)", file: file, line: line)
    }

    func fail(_ what: String) {
        XCTFail("[\(check.rawValue)] \(what)", file: file, line: line)
    }

    /// `body` must throw exactly `expected`.
    func errno<T>(_ expected: Errno, _ what: String, _ body: () throws -> T) {
        do {
            _ = try body()
            fail("\(what): succeeded, expected \(expected)")
        } catch let error as Errno {
            if error != expected { fail("\(what): got \(error), expected \(expected)") }
        } catch {
            fail("\(what): threw \(error), expected \(expected)")
        }
    }

    /// `body` must throw a `UsageError`.
    func usageError<T>(_ what: String, _ body: () throws -> T) {
        do {
            _ = try body()
            fail("\(what): succeeded, expected a UsageError")
        } catch is UsageError {
        } catch {
            fail("\(what): threw \(error), expected a UsageError")
        }
    }
}
