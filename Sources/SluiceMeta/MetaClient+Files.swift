import SluiceBase


extension MetaClient {
    /// Changes attributes of `ino` in one transaction; a size change truncates or extends the
    /// file (extended bytes read as zeros). ctime is updated as POSIX requires.
    public func setattr(_ ino: InodeNumber, _ changes: AttributeChanges) throws -> InodeAttributes {
        try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            let now = Timespec.now()
            if let p = changes.permissions {
                attr.permissions = p
                try chmodACL(ino, to: p, in: tx)
            }
            if let u = changes.uid { attr.uid = u }
            if let g = changes.gid { attr.gid = g }
            if let size = changes.size, size != attr.size {
                guard attr.type == .regular else { throw attr.type == .directory ? Errno.isDirectory : Errno.invalidArgument }
                try truncate(ino, from: attr.size, to: size, in: tx)
                attr.size = size
                attr.mtime = now
            }
            switch changes.atime {
            case .now?: attr.atime = now
            case .at(let t)?: attr.atime = t
            case nil: break
            }
            switch changes.mtime {
            case .now?: attr.mtime = now
            case .at(let t)?: attr.mtime = t
            case nil: break
            }
            attr.ctime = changes.ctime ?? now
            try Self.put(ino, attr, in: tx)
            return attr
        }
    }

    /// Sets atime alone: reading changes no ctime.
    public func touchAtime(_ ino: InodeNumber, _ time: Timespec) throws {
        try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            attr.atime = time
            try Self.put(ino, attr, in: tx)
        }
    }

    /// Shrinking drops whole chunks past the end and covers the tail of the last chunk with a
    /// hole, so that a later extension reads zeros there. No object is touched.
    func truncate(_ ino: InodeNumber, from old: UInt64, to new: UInt64, in tx: any KVTransaction) throws {
        let chunk = UInt64(Layout.chunkSize)
        if new < old {
            let firstDropped = UInt32((new + chunk - 1) / chunk)
            try releaseChunks(of: ino, from: firstDropped, in: tx)
            if new % chunk != 0 {
                let index = UInt32(new / chunk)
                let start = UInt32(new % chunk)
                let end = UInt32(min(chunk, old - UInt64(index) * chunk))
                let key = MetaKeys.chunk(ino, index)
                if var list = try tx.get(key) {
                    MetaCoding.append(SliceRef(position: start, id: .hole, size: 0, offset: 0, length: end - start), to: &list)
                    try tx.set(key, list)
                }
            }
        }
        try tx.increment(MetaKeys.usedSpace, by: Self.spaceOf(new) - Self.spaceOf(old))
    }

    // MARK: Open files

    /// Registers an open handle of `ino` and returns its attributes.
    public func open(_ ino: InodeNumber) throws -> InodeAttributes {
        let attr = try getattr(ino)
        openCounts.withLock { $0[ino, default: 0] += 1 }
        return attr
    }

    /// Releases a handle; the last close of an unlinked inode moves it to the trash (when on)
    /// or deletes it.
    public func close(_ ino: InodeNumber) throws {
        let last = openCounts.withLock { counts -> Bool in
            let n = (counts[ino] ?? 1) - 1
            counts[ino] = n > 0 ? n : nil
            return n <= 0
        }
        guard last else { return }
        let sid = sessionID
        try engine.write { tx in
            guard let bytes = try tx.get(MetaKeys.attr(ino)) else { return }
            let attr = try MetaCoding.decodeAttr(bytes)
            guard attr.nlink == 0, !isOpen(ino) else { return }
            let origin = try tx.get(MetaKeys.sustained(sid, ino))
            try releaseUnlinked(ino, attr, origin: origin, in: tx)
            try tx.delete(MetaKeys.sustained(sid, ino))
        }
    }

    func isOpen(_ ino: InodeNumber) -> Bool { openCounts.withLock { $0[ino] != nil } }

    // MARK: Chunks

    /// A fresh volume-unique slice id.
    public func newSliceID() throws -> SliceID { SliceID(try sliceIDs.next()) }

    /// The slice list of chunk `index` of `ino` (empty when the chunk was never written).
    public func readChunk(_ ino: InodeNumber, _ index: UInt32) throws -> [SliceRef] {
        try engine.read { tx in
            guard let bytes = try tx.get(MetaKeys.chunk(ino, index)) else { return [] }
            return try MetaCoding.decodeSlices(bytes)
        }
    }

    /// Commits a written slice to chunk `index` of `ino`: appends it to the slice list, extends
    /// the length when it ends past it, and sets mtime/ctime. Returns the new attributes and the
    /// number of slices the chunk now holds (callers compact long lists).
    public func write(_ ino: InodeNumber, chunk index: UInt32, slice: SliceRef, mtime: Timespec? = nil)
        throws -> (InodeAttributes, sliceCount: Int)
    {
        let (attr, counts) = try write(ino, slices: [(chunk: index, slice: slice)], mtime: mtime)
        return (attr, counts[0].count)
    }

    /// Commits several written slices of `ino` in one transaction, as if each were committed by
    /// `write(_:chunk:slice:mtime:)` in the order given: each is appended to its chunk's list
    /// (so a later slice wins over an earlier one where they overlap), the length grows to the
    /// furthest end, and mtime/ctime are set once. All or none are committed. Returns the new
    /// attributes and, for each chunk written (in the order first written), how many slices it
    /// now holds. An empty batch changes nothing.
    public func write(_ ino: InodeNumber, slices: [(chunk: UInt32, slice: SliceRef)], mtime: Timespec? = nil)
        throws -> (InodeAttributes, sliceCounts: [(chunk: UInt32, count: Int)])
    {
        guard !slices.isEmpty else { return (try getattr(ino), []) }
        return try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            guard attr.type == .regular else { throw Errno.badFileDescriptor }
            // Each chunk's list is read once, extended in order, and stored once.
            var lists: [(chunk: UInt32, bytes: [UInt8])] = []
            var end: UInt64 = 0
            for (index, slice) in slices {
                let i: Int
                if let found = lists.firstIndex(where: { $0.chunk == index }) {
                    i = found
                } else {
                    lists.append((index, try tx.get(MetaKeys.chunk(ino, index)) ?? []))
                    i = lists.count - 1
                }
                MetaCoding.append(slice, to: &lists[i].bytes)
                end = max(end, UInt64(index) * UInt64(Layout.chunkSize) + UInt64(slice.end))
            }
            for list in lists { try tx.set(MetaKeys.chunk(ino, list.chunk), list.bytes) }
            if end > attr.size {
                try tx.increment(MetaKeys.usedSpace, by: Self.spaceOf(end) - Self.spaceOf(attr.size))
                attr.size = end
            }
            let now = Timespec.now()
            attr.mtime = mtime ?? now
            attr.ctime = now
            try Self.put(ino, attr, in: tx)
            return (attr, lists.map { ($0.chunk, $0.bytes.count / MetaCoding.sliceRecordSize) })
        }
    }

    /// Replaces the first `replaced.count` entries of a chunk's slice list with `merged` (a
    /// compacted copy of what they showed), provided the list still starts with exactly those
    /// entries. Slices added meanwhile stay after it. The replaced slices are queued for
    /// deletion. Returns false, changing nothing, when the list changed underneath.
    public func compact(_ ino: InodeNumber, chunk index: UInt32, replacing replaced: [SliceRef], with merged: SliceRef)
        throws -> Bool
    {
        try engine.write { tx in
            let key = MetaKeys.chunk(ino, index)
            guard let bytes = try tx.get(key) else { return false }
            let list = try MetaCoding.decodeSlices(bytes)
            guard list.count >= replaced.count, Array(list.prefix(replaced.count)) == replaced else { return false }
            let kept = [merged] + list.dropFirst(replaced.count)
            try tx.set(key, MetaCoding.encodeSlices(kept))
            // Readers here or on other clients may still hold the old list for a moment:
            // the replaced objects become deletable only after a grace period.
            let due = Self.counterBytes(Int64(Timespec.now().seconds) + Int64(compactionGraceSeconds))
            for s in replaced { try dropReference(s, due: due, in: tx) }
            return true
        }
    }

    /// How long objects replaced by compaction outlive it, so that readers holding the old slice
    /// list (attribute caches last about a second) never meet a deleted object.
    public var compactionGraceSeconds: Int { 120 }

    /// Slices whose objects are no longer referenced and are due for deletion, in id order.
    public func pendingSliceDeletions(limit: Int) throws -> [(id: SliceID, size: UInt32)] {
        let now = Int64(Timespec.now().seconds)
        return try engine.read { tx in
            var due: [(id: SliceID, size: UInt32)] = []
            var after: [UInt8]?
            // Not-yet-due entries are skipped; look a bounded number of pages ahead past them.
            for _ in 0..<16 where due.count < limit {
                let page = try tx.scan(prefix: MetaKeys.pendingSlicePrefix, after: after, limit: limit)
                for pair in page {
                    var v = ByteReader(pair.value)
                    if !pair.value.isEmpty && v.i64() > now { continue }
                    var r = ByteReader(pair.key, at: 1)
                    due.append((SliceID(r.u64()), r.u32()))
                    if due.count == limit { break }
                }
                guard page.count == limit, let last = page.last else { break }
                after = last.key
            }
            return due
        }
    }

    /// Forgets pending deletions once their objects are gone.
    public func confirmSliceDeletions(_ slices: [(id: SliceID, size: UInt32)]) throws {
        guard !slices.isEmpty else { return }
        try engine.write { tx in
            for s in slices { try tx.delete(MetaKeys.pendingSlice(s.id, size: s.size)) }
        }
    }
}
