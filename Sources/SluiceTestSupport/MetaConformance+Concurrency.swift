import Foundation
import SluiceBase
import SluiceMeta

extension MetaConformance {
    // MARK: Directories

    func checkReaddirPaging(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let dir = try makeDir(meta, .root, "big")
        // Created out of order; listed in byte order.
        let names = (0..<2_500).map { String(format: "n%05d", ($0 * 7_919) % 2_500) }
        for name in names { try makeFile(meta, dir, name) }
        var listed: [[UInt8]] = []
        var pages: [Int] = []
        var after: [UInt8]?
        while true {
            let page = try meta.readdir(dir, after: after, limit: 1_000, withAttributes: false)
            if page.isEmpty { break }
            pages.append(page.count)
            listed += page.map(\.name)
            after = page.last?.name
            if pages.count > 10 { break }
        }
        expect.equal(pages, [1_000, 1_000, 500], "page sizes")
        expect.equal(listed, names.sorted().map(bytes), "every name once, in order")
        let middle = try meta.readdir(dir, after: bytes("n01233x"), limit: 2, withAttributes: false).map(\.name)
        expect.equal(middle, [bytes("n01234"), bytes("n01235")], "after need not be an existing name")
        expect.equal(try meta.getattr(dir).nlink, 2, "files do not add to nlink")
    }

    func checkReaddirAttributes(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let dir = try makeDir(meta, .root, "d")
        let file = try makeFile(meta, dir, "a")
        try writeSlice(meta, file, length: 10)
        let sub = try makeDir(meta, dir, "b")
        let (link, _) = try meta.create(dir, bytes("c"), NewInode(type: .symlink, permissions: .init(rawValue: 0o777),
                                                                   symlinkTarget: bytes("a")), by: Self.user)
        let plain = try meta.readdir(dir, after: nil, limit: 10, withAttributes: false)
        expect.equal(plain.map(\.name), [bytes("a"), bytes("b"), bytes("c")], "names")
        expect.equal(plain.map(\.inode), [file, sub, link], "inodes")
        expect.equal(plain.map(\.type), [.regular, .directory, .symlink], "types")
        expect.isTrue(plain.allSatisfy { $0.attributes == nil }, "no attributes unless asked")
        let full = try meta.readdir(dir, after: nil, limit: 10, withAttributes: true)
        for entry in full {
            expect.equal(entry.attributes, try meta.getattr(entry.inode), "attributes of \(String(decoding: entry.name, as: UTF8.self))")
        }
        expect.equal(full.first?.attributes?.size, 10, "file size in the listing")
        expect.equal(try meta.readdir(sub, after: nil, limit: 10, withAttributes: true).count, 0, "empty directory")
        expect.equal(try meta.readdir(dir, after: bytes("c"), limit: 10, withAttributes: false).count, 0, "after the last")
        expect.errno(.notDirectory, "readdir of a file") { try meta.readdir(file, after: nil, limit: 10, withAttributes: false) }
        expect.errno(.noSuchFileOrDirectory, "readdir of a missing inode") {
            try meta.readdir(InodeNumber(999_999), after: nil, limit: 10, withAttributes: false)
        }
    }

    // MARK: Sessions

    func checkSessions(_ meta: MetaClient, _ expect: MetaExpect) throws {
        expect.equal(try meta.sessions(), [], "no sessions yet")
        expect.equal(meta.sessionID.rawValue, 0, "no session before registering")
        let info = SessionInfo(hostName: "host-a", processID: 42, mountPoint: "/mnt/a", version: "test")
        let sid = try meta.registerSession(info)
        expect.isTrue(sid.rawValue != 0, "a session id")
        expect.equal(meta.sessionID, sid, "the client remembers its session")
        let other = MetaClient(engine: meta.engine)
        let otherSID = try other.registerSession(SessionInfo(hostName: "host-b", processID: 7, mountPoint: "/mnt/b",
                                                             version: "test"))
        expect.isTrue(otherSID != sid, "distinct session ids")
        let listed = try meta.sessions()
        expect.equal(listed.map(\.id).sorted(), [sid.rawValue, otherSID.rawValue].sorted(), "both listed")
        let mine = listed.first { $0.id == sid.rawValue }
        expect.equal(mine?.hostName, "host-a", "host name")
        expect.equal(mine?.processID, 42, "pid")
        expect.equal(mine?.mountPoint, "/mnt/a", "mount point")
        try meta.heartbeat()
        let beat = try meta.sessions().first { $0.id == sid.rawValue }
        expect.isTrue((beat?.heartbeatAt ?? .distantPast) >= (mine?.heartbeatAt ?? .distantFuture), "heartbeat moves forward")

        // An inode open and unlinked under this session lives until the session closes.
        let file = try makeFile(meta, .root, "f")
        let slice = try writeSlice(meta, file)
        let kept = try makeFile(meta, .root, "kept")
        _ = try meta.open(file)
        _ = try meta.open(kept)
        try meta.unlink(.root, bytes("f"))
        expect.equal(try meta.getattr(file).nlink, 0, "open and unlinked")
        try meta.closeSession()
        expect.equal(meta.sessionID.rawValue, 0, "no session after closing")
        expect.errno(.noSuchFileOrDirectory, "closing the session deletes open-unlinked inodes") { try meta.getattr(file) }
        expect.isTrue(try pendingIDs(meta).contains(slice.id), "and queues their slices")
        expect.equal(try meta.getattr(kept).nlink, 1, "open files with names stay")
        expect.equal(try meta.sessions().map(\.id), [otherSID.rawValue], "only the other session left")
        try other.closeSession()
        expect.equal(try meta.sessions(), [], "no sessions left")
    }

    // MARK: Concurrency

    func checkRacingCreates(_ meta: MetaClient, _ expect: MetaExpect) throws {
        // One client per thread, as separate processes would have.
        let clients = (0..<8).map { _ in MetaClient(engine: meta.engine) }
        let winners = Locked<[InodeNumber]>([])
        let errors = Self.onThreads(8) { i in
            do {
                let (ino, _) = try clients[i].create(.root, bytes("same"), NewInode(type: .directory,
                                                                                     permissions: .init(rawValue: 0o755)),
                                                     by: Self.user)
                winners.withLock { $0.append(ino) }
            } catch Errno.fileExists {}
        }
        expect.equal(errors, [], "the losers get EEXIST, nothing else")
        let won = winners.withLock { $0 }
        expect.equal(won.count, 1, "exactly one create succeeds")
        expect.equal(try inode(meta, .root, "same"), won.first, "the winner's inode holds the name")
        expect.equal(try meta.getattr(.root).nlink, 3, "one subdirectory counted")
        expect.equal(try meta.statfs().usedInodes, 2, "one inode created")
    }

    func checkParallelCreates(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let dir = try makeDir(meta, .root, "d")
        let clients = (0..<8).map { _ in MetaClient(engine: meta.engine) }
        let inodes = Locked<[InodeNumber]>([])
        let errors = Self.onThreads(8) { t in
            var mine: [InodeNumber] = []
            for i in 0..<100 {
                let name = "t\(t)-\(i)"
                let type: FileType = i % 10 == 0 ? .directory : .regular
                mine.append(try clients[t].create(dir, bytes(name), NewInode(type: type, permissions: .init(rawValue: 0o755)),
                                                  by: Self.user).0)
            }
            inodes.withLock { $0 += mine }
        }
        expect.equal(errors, [], "no errors")
        let all = inodes.withLock { $0 }
        expect.equal(Set(all).count, 800, "800 distinct inode numbers")
        let listed = try meta.readdir(dir, after: nil, limit: 10_000, withAttributes: false)
        expect.equal(listed.count, 800, "800 entries")
        expect.equal(Set(listed.map(\.inode)), Set(all), "the entries name the created inodes")
        expect.equal(listed.filter { $0.type == .directory }.count, 80, "80 subdirectories")
        expect.equal(try meta.getattr(dir).nlink, 2 + 80, "parent nlink counts every subdirectory")
        expect.equal(try meta.statfs().usedInodes, 1 + 1 + 800, "inode count exact")
    }

    func checkRacingRenames(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let dir = try makeDir(meta, .root, "d")
        let source = try makeDir(meta, .root, "src")
        let clients = (0..<8).map { _ in MetaClient(engine: meta.engine) }
        let winners = Locked<[Int]>([])
        let errors = Self.onThreads(8) { i in
            do {
                try clients[i].rename(.root, bytes("src"), i % 2 == 0 ? .root : dir, bytes("dst\(i)"))
                winners.withLock { $0.append(i) }
            } catch Errno.noSuchFileOrDirectory {}
        }
        expect.equal(errors, [], "the losers get ENOENT, nothing else")
        let won = winners.withLock { $0 }
        expect.equal(won.count, 1, "exactly one rename succeeds")
        guard let w = won.first else { return }
        let parent = w % 2 == 0 ? InodeNumber.root : dir
        expect.equal(try inode(meta, parent, "dst\(w)"), source, "the winner's name")
        expect.equal(try inode(meta, .root, "src"), nil, "the source name is gone")
        let names = try meta.readdir(.root, after: nil, limit: 100, withAttributes: false).count
            + meta.readdir(dir, after: nil, limit: 100, withAttributes: false).count
        expect.equal(names, 2, "d and the one moved name")
        expect.equal(try meta.getattr(source).parent, parent, "parent field of the winner")
        expect.equal(try meta.getattr(.root).nlink + meta.getattr(dir).nlink, 4 + 2, "nlinks agree with one move")
    }

    // MARK: IDs

    func checkSliceIDs(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let clients = [meta, MetaClient(engine: meta.engine)]
        let ids = Locked<[SliceID]>([])
        let errors = Self.onThreads(4) { t in
            var mine: [SliceID] = []
            for _ in 0..<2_500 { mine.append(try clients[t % 2].newSliceID()) }
            ids.withLock { $0 += mine }
        }
        expect.equal(errors, [], "no errors")
        let all = ids.withLock { $0 }
        expect.equal(all.count, 10_000, "10,000 ids")
        expect.equal(Set(all).count, 10_000, "all unique across clients")
        expect.isTrue(!all.contains(.hole), "never the hole id")
    }

    /// Runs `body` on `count` real threads at once and returns the descriptions of the errors
    /// they threw.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
        let errors = Locked<[String]>([])
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread {
                defer { group.leave() }
                do { try body(index) } catch { errors.withLock { $0.append("thread \(index): \(error)") } }
            }.start()
        }
        group.wait()
        return errors.withLock { $0 }
    }
}
