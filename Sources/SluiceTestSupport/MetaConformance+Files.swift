import SluiceBase
import SluiceMeta

extension MetaConformance {
    func checkSetattr(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        let created = try meta.getattr(file)
        tick()
        let changed = try meta.setattr(file, AttributeChanges(permissions: .init(rawValue: 0o4711), uid: 7, gid: 8))
        expect.equal(changed.permissions.rawValue, 0o4711, "mode")
        expect.equal(changed.uid, 7, "uid")
        expect.equal(changed.gid, 8, "gid")
        expect.isTrue(changed.ctime > created.ctime, "ctime changes")
        expect.equal(changed.mtime, created.mtime, "mtime untouched by a mode change")
        expect.equal(try meta.getattr(file), changed, "stored")

        let atime = Timespec(seconds: 1_000_000_000, nanoseconds: 123_456_789)
        let mtime = Timespec(seconds: 1_234_567_890, nanoseconds: 987_654_321)
        let explicit = try meta.setattr(file, AttributeChanges(atime: .at(atime), mtime: .at(mtime)))
        expect.equal(try meta.getattr(file).atime, atime, "explicit atime with nanoseconds")
        expect.equal(try meta.getattr(file).mtime, mtime, "explicit mtime with nanoseconds")
        expect.isTrue(explicit.ctime >= changed.ctime, "ctime is the time of the change")
        let before = Timespec.now()
        let now = try meta.setattr(file, AttributeChanges(atime: .now, mtime: .now))
        expect.isTrue(now.atime >= before && now.mtime >= before, "UTIME_NOW")
        let ctime = Timespec(seconds: 1_500_000_000, nanoseconds: 5)
        expect.equal(try meta.setattr(file, AttributeChanges(ctime: ctime)).ctime, ctime, "explicit ctime")
        expect.equal(try meta.getattr(file).ctime, ctime, "explicit ctime stored")
        expect.equal(try meta.getattr(file).permissions.rawValue, 0o4711, "earlier changes kept")

        let dir = try makeDir(meta, .root, "d")
        expect.equal(try meta.setattr(dir, AttributeChanges(permissions: .init(rawValue: 0o700))).permissions.rawValue, 0o700,
                     "directory mode")
        expect.errno(.isDirectory, "size of a directory") { try meta.setattr(dir, AttributeChanges(size: 0)) }
        expect.equal(try meta.getattr(dir).size, 4096, "directory size unchanged")
        let (link, _) = try meta.create(.root, bytes("l"), NewInode(type: .symlink, permissions: .init(rawValue: 0o777),
                                                                     symlinkTarget: bytes("f")), by: Self.user)
        expect.errno(.invalidArgument, "size of a symlink") { try meta.setattr(link, AttributeChanges(size: 0)) }
        expect.errno(.noSuchFileOrDirectory, "setattr of a missing inode") {
            try meta.setattr(InodeNumber(999_999), AttributeChanges(uid: 1))
        }
    }

    func checkTruncate(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let chunk = UInt64(Layout.chunkSize)
        let file = try makeFile(meta, .root, "f")
        let s0 = try writeSlice(meta, file, chunk: 0, length: 1 << 20)
        let s1 = try writeSlice(meta, file, chunk: 1, length: 4096)
        let s2 = try writeSlice(meta, file, chunk: 2, at: 10, length: 90)
        expect.equal(try meta.getattr(file).size, 2 * chunk + 100, "size before")
        let before = try meta.getattr(file)
        tick()
        let shrunk = try meta.setattr(file, AttributeChanges(size: 1000))
        expect.equal(shrunk.size, 1000, "size after shrinking")
        expect.isTrue(shrunk.mtime > before.mtime && shrunk.ctime > before.ctime, "truncate changes mtime and ctime")
        // The old size ran past chunk 0, so the hole covers the rest of the chunk.
        let hole = SliceRef(position: 1000, id: .hole, size: 0, offset: 0, length: UInt32(chunk) - 1000)
        expect.equal(try meta.readChunk(file, 0), [s0, hole], "boundary chunk ends with a hole over the tail")
        expect.equal(try meta.readChunk(file, 1), [], "chunk 1 removed")
        expect.equal(try meta.readChunk(file, 2), [], "chunk 2 removed")
        let pending = try pendingIDs(meta)
        expect.isTrue(pending.isSuperset(of: [s1.id, s2.id]), "slices of removed chunks queued")
        expect.isTrue(!pending.contains(s0.id), "the boundary chunk's slice is kept")
        let usage = try meta.statfs().usedBytes
        expect.equal(usage, 4096, "space follows the size")

        let grown = try meta.setattr(file, AttributeChanges(size: 3 * chunk))
        expect.equal(grown.size, 3 * chunk, "size after extending")
        expect.equal(try meta.readChunk(file, 0), [s0, hole], "extending adds no slices")
        expect.equal(try meta.readChunk(file, 2), [], "extended chunks stay unwritten (zeros)")
        expect.equal(try meta.statfs().usedBytes, 3 * chunk, "space of the extended size")

        // Shrinking to a chunk boundary removes whole chunks and leaves no hole behind.
        let t1 = try writeSlice(meta, file, chunk: 1, length: 8192)
        expect.equal(try meta.setattr(file, AttributeChanges(size: chunk)).size, chunk, "size at a boundary")
        expect.equal(try meta.readChunk(file, 0), [s0, hole], "chunk 0 untouched at a boundary")
        expect.equal(try meta.readChunk(file, 1), [], "chunk 1 removed at a boundary")
        expect.isTrue(try pendingIDs(meta).contains(t1.id), "its slice queued")
        _ = try meta.setattr(file, AttributeChanges(size: 0))
        expect.equal(try meta.readChunk(file, 0), [], "truncating to 0 removes every chunk")
        expect.isTrue(try pendingIDs(meta).contains(s0.id), "and queues every slice")
        expect.equal(try meta.statfs().usedBytes, 0, "no space used")

        // Within one chunk the hole ends at the old size.
        let small = try makeFile(meta, .root, "small")
        let s = try writeSlice(meta, small, at: 0, length: 10_000)
        _ = try meta.setattr(small, AttributeChanges(size: 3_000))
        let tail = SliceRef(position: 3_000, id: .hole, size: 0, offset: 0, length: 7_000)
        expect.equal(try meta.readChunk(small, 0), [s, tail], "hole up to the old size")
        expect.equal(try meta.setattr(small, AttributeChanges(size: 3_000)).size, 3_000, "same size is a no-op")
        expect.equal(try meta.readChunk(small, 0), [s, tail], "no second hole for an unchanged size")
    }

    func checkWriteAndRead(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let chunk = UInt64(Layout.chunkSize)
        let file = try makeFile(meta, .root, "f")
        expect.equal(try meta.readChunk(file, 0), [], "unwritten chunk")
        var slices: [SliceRef] = []
        for (i, (position, length)) in [(0, 4096), (4096, 8192), (100, 10)].enumerated() {
            let s = SliceRef(position: UInt32(position), id: try meta.newSliceID(), size: UInt32(length), offset: 0,
                             length: UInt32(length))
            let (attr, count) = try meta.write(file, chunk: 0, slice: s)
            slices.append(s)
            expect.equal(count, i + 1, "slice count after write \(i)")
            expect.equal(attr.size, i == 0 ? 4096 : 12288, "size after write \(i) is the furthest slice end")
        }
        expect.equal(try meta.readChunk(file, 0), slices, "slices in commit order")
        expect.equal(try meta.getattr(file).size, 12288, "size is the furthest end")
        let far = SliceRef(position: 10, id: try meta.newSliceID(), size: 100, offset: 20, length: 5)
        let mtime = Timespec(seconds: 1_600_000_000, nanoseconds: 42)
        let (attr, count) = try meta.write(file, chunk: 3, slice: far, mtime: mtime)
        expect.equal(count, 1, "a new chunk starts a new list")
        expect.equal(attr.size, 3 * chunk + 15, "size is chunk index × chunk size + slice end")
        expect.equal(attr.mtime, mtime, "explicit mtime")
        expect.equal(try meta.readChunk(file, 3), [far], "offset and size kept")
        expect.equal(try meta.readChunk(file, 1), [], "chunks in between stay unwritten")
        let dir = try makeDir(meta, .root, "d")
        expect.errno(.badFileDescriptor, "write to a directory") { try meta.write(dir, chunk: 0, slice: far) }
        expect.errno(.noSuchFileOrDirectory, "write to a missing inode") { try meta.write(InodeNumber(999_999), chunk: 0, slice: far) }
    }

    func checkWriteBatch(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let chunk = UInt64(Layout.chunkSize)
        let file = try makeFile(meta, .root, "f")
        func slice(_ position: Int, _ length: Int) throws -> SliceRef {
            SliceRef(position: UInt32(position), id: try meta.newSliceID(), size: UInt32(length), offset: 0,
                     length: UInt32(length))
        }
        let first = try slice(0, 4096)
        _ = try meta.write(file, chunk: 0, slice: first)
        let before = try meta.getattr(file)
        tick()
        // Overlapping slices of two chunks, interleaved: each chunk keeps the given order.
        let a = try slice(0, 8192), b = try slice(100, 10), c = try slice(5, 50), d = try slice(4096, 100)
        let (attr, counts) = try meta.write(file, slices: [(0, a), (2, c), (0, b), (2, d)])
        expect.equal(try meta.readChunk(file, 0), [first, a, b], "chunk 0 appended in batch order")
        expect.equal(try meta.readChunk(file, 2), [c, d], "chunk 2 appended in batch order")
        expect.equal(try meta.readChunk(file, 1), [], "chunks not in the batch untouched")
        expect.equal(counts.map(\.chunk), [0, 2], "counts per chunk, in the order first written")
        expect.equal(counts.map(\.count), [3, 2], "slice counts after the batch")
        expect.equal(attr.size, 2 * chunk + 4196, "size is the furthest end in the batch")
        expect.equal(try meta.getattr(file), attr, "attributes stored")
        expect.isTrue(attr.mtime > before.mtime && attr.ctime > before.ctime, "mtime and ctime set")
        expect.equal(try meta.statfs().usedBytes, 2 * chunk + 8192, "space follows the size")

        // A batch ending before the size leaves the size; an explicit mtime is kept.
        let mtime = Timespec(seconds: 1_600_000_000, nanoseconds: 7)
        let e = try slice(0, 10)
        let (same, single) = try meta.write(file, slices: [(1, e)], mtime: mtime)
        expect.equal(same.size, 2 * chunk + 4196, "size kept by a batch within it")
        expect.equal(same.mtime, mtime, "explicit mtime")
        expect.equal(single.map(\.count), [1], "a new chunk starts a new list")

        let (unchanged, none) = try meta.write(file, slices: [])
        expect.equal(none.count, 0, "an empty batch writes no chunk")
        expect.equal(unchanged, try meta.getattr(file), "an empty batch changes nothing")

        // All or nothing: a failing batch leaves every chunk as it was.
        let dir = try makeDir(meta, .root, "d")
        expect.errno(.badFileDescriptor, "batch to a directory") { try meta.write(dir, slices: [(0, try slice(0, 1))]) }
        expect.errno(.noSuchFileOrDirectory, "batch to a missing inode") {
            try meta.write(InodeNumber(999_999), slices: [(0, try slice(0, 1))])
        }
        expect.equal(try meta.readChunk(dir, 0), [], "nothing written to the directory")
        expect.equal(try meta.readChunk(file, 0), [first, a, b], "other files untouched")
    }

    func checkCompaction(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let file = try makeFile(meta, .root, "f")
        let s1 = try writeSlice(meta, file, at: 0, length: 4096)
        let s2 = try writeSlice(meta, file, at: 4096, length: 4096)
        let s3 = try writeSlice(meta, file, at: 100, length: 10)
        let merged = SliceRef(position: 0, id: try meta.newSliceID(), size: 8192, offset: 0, length: 8192)
        expect.isTrue(try meta.compact(file, chunk: 0, replacing: [s1, s2], with: merged), "compaction applies")
        expect.equal(try meta.readChunk(file, 0), [merged, s3], "prefix replaced, later slices kept")
        let stale = SliceRef(position: 0, id: try meta.newSliceID(), size: 8192, offset: 0, length: 8192)
        expect.isTrue(!(try meta.compact(file, chunk: 0, replacing: [s1, s2], with: stale)), "a stale prefix is refused")
        expect.isTrue(!(try meta.compact(file, chunk: 0, replacing: [s3], with: stale)), "a non-prefix is refused")
        expect.isTrue(!(try meta.compact(file, chunk: 5, replacing: [], with: stale)), "an unwritten chunk is refused")
        expect.equal(try meta.readChunk(file, 0), [merged, s3], "refusals change nothing")
        expect.equal(try meta.getattr(file).size, 8192, "compaction keeps the size")
        expect.equal(try pendingIDs(meta), [], "replaced slices are not due during the grace period")

        // Let the grace period pass: rewrite the due times of the queued slices (`L<id><size>`,
        // value: due time in seconds, see MetaKeys) into the past.
        let queue = try meta.engine.read { try $0.scan(prefix: [UInt8(ascii: "L")], after: nil, limit: 100) }
        expect.equal(queue.count, 2, "both replaced slices are queued")
        let deadline = Int64(Timespec.now().seconds) + Int64(meta.compactionGraceSeconds)
        for pair in queue {
            let due = pair.value.count == 8 ? pair.value.reduce(Int64(0)) { $0 << 8 | Int64($1) } : 0
            expect.isTrue(abs(due - deadline) <= 5, "due after the grace period")
        }
        let past = withUnsafeBytes(of: (Int64(Timespec.now().seconds) - 1).bigEndian) { Array($0) }
        try meta.engine.write { tx in for pair in queue { try tx.set(pair.key, past) } }
        let due = try meta.pendingSliceDeletions(limit: 100)
        expect.equal(Set(due.map(\.id)), [s1.id, s2.id], "due once the grace period has passed")
        expect.equal(due.first { $0.id == s1.id }?.size, 4096, "with their sizes")
        try meta.confirmSliceDeletions(due)
        expect.equal(try meta.pendingSliceDeletions(limit: 100).count, 0, "confirmed deletions are forgotten")
        expect.equal(try meta.engine.read { try $0.scan(prefix: [UInt8(ascii: "L")], after: nil, limit: 100) }.count, 0,
                     "no queue records left")
        expect.equal(try meta.readChunk(file, 0), [merged, s3], "the live slices stay")
    }

    func checkStatfs(_ meta: MetaClient, _ expect: MetaExpect) throws {
        let base = try meta.statfs()
        expect.equal(base.usedInodes, 1, "only the root")
        expect.isTrue(base.totalInodes > base.usedInodes && base.totalBytes > base.usedBytes, "room left")
        let file = try makeFile(meta, .root, "f")
        expect.equal(try meta.statfs().usedInodes, 2, "a file is an inode")
        try writeSlice(meta, file, length: 5000)
        expect.equal(try meta.statfs().usedBytes, base.usedBytes + 8192, "space rounds up to 4 KiB")
        try writeSlice(meta, file, chunk: 1, length: 1)
        expect.equal(try meta.statfs().usedBytes, base.usedBytes + UInt64(Layout.chunkSize) + 4096, "sparse size counts")
        let dir = try makeDir(meta, .root, "d")
        try makeFile(meta, dir, "g")
        expect.equal(try meta.statfs().usedInodes, 4, "directories and files count")
        try meta.unlink(.root, bytes("f"))
        try meta.unlink(dir, bytes("g"))
        try meta.rmdir(.root, bytes("d"))
        let end = try meta.statfs()
        expect.equal(end.usedInodes, 1, "back to the root")
        expect.equal(end.usedBytes, base.usedBytes, "back to the start")
    }
}
