import SluiceBase

/// BSD (flock) and POSIX (fcntl) locks, kept in metadata so that they hold between every
/// client of a volume. A lock belongs to an owner: the session of the client plus the owner id
/// the kernel gives (one per open file description for flock, per process for fcntl).
///
/// Records (see `MetaKeys`): `A<ino>F` lists flock holders, `A<ino>P` lists POSIX ranges, each
/// as fixed-size entries; `K<session><ino>` marks inodes a session holds locks on, so a dead
/// session's locks can be found and dropped.
extension MetaClient {
    struct LockEntry: Equatable {
        var session: UInt64
        var owner: UInt64
        var lock: RangeLock
    }

    static let lockEntrySize = 8 + 8 + 1 + 8 + 8 + 4

    static func encodeLocks(_ entries: [LockEntry]) -> [UInt8] {
        var w = ByteWriter(capacity: entries.count * lockEntrySize)
        for e in entries {
            w.u64(e.session)
            w.u64(e.owner)
            w.u8(e.lock.kind.rawValue)
            w.u64(e.lock.start)
            w.u64(e.lock.end)
            w.u32(e.lock.pid)
        }
        return w.bytes
    }

    static func decodeLocks(_ bytes: [UInt8]?) throws -> [LockEntry] {
        guard let bytes else { return [] }
        guard bytes.count % lockEntrySize == 0 else { throw EngineError("damaged lock record") }
        var r = ByteReader(bytes)
        var out: [LockEntry] = []
        while r.remaining > 0 {
            let session = r.u64(), owner = r.u64()
            guard let kind = RangeLock.Kind(rawValue: r.u8()) else { throw EngineError("damaged lock record") }
            out.append(LockEntry(session: session, owner: owner,
                                 lock: RangeLock(kind: kind, start: r.u64(), end: r.u64(), pid: r.u32())))
        }
        return out
    }

    /// flock(2): takes (`.read` = LOCK_SH, `.write` = LOCK_EX) or drops (`.unlock`) the lock of
    /// `owner` on the whole file. A conflict is EAGAIN; callers that may wait retry.
    public func flock(_ ino: InodeNumber, owner: UInt64, kind: RangeLock.Kind, pid: UInt32) throws {
        let sid = sessionID.rawValue
        try engine.write { tx in
            _ = try Self.attr(ino, in: tx)
            let key = MetaKeys.flock(ino)
            var entries = try Self.decodeLocks(try tx.get(key))
            entries.removeAll { $0.session == sid && $0.owner == owner }
            if kind != .unlock {
                let conflict = entries.contains { kind == .write || $0.lock.kind == .write }
                if conflict { throw Errno.resourceTemporarilyUnavailable }
                entries.append(LockEntry(session: sid, owner: owner,
                                         lock: RangeLock(kind: kind, start: 0, end: .max, pid: pid)))
            }
            try store(entries, at: key, ino: ino, session: sid, in: tx)
        }
    }

    /// F_GETLK: the first lock of another owner that conflicts with `probe`, or nil.
    public func getlk(_ ino: InodeNumber, owner: UInt64, probe: RangeLock) throws -> RangeLock? {
        let sid = sessionID.rawValue
        return try engine.read { tx in
            let entries = try Self.decodeLocks(try tx.get(MetaKeys.posixLocks(ino)))
            return entries.first { e in
                !(e.session == sid && e.owner == owner) && e.lock.overlaps(probe)
                    && (probe.kind == .write || e.lock.kind == .write)
            }?.lock
        }
    }

    /// F_SETLK: sets (or with `.unlock` clears) `lock` for `owner`, replacing whatever that owner
    /// held in the range, splitting and merging ranges as POSIX says. EAGAIN on a conflict with
    /// another owner.
    public func setlk(_ ino: InodeNumber, owner: UInt64, lock: RangeLock) throws {
        let sid = sessionID.rawValue
        guard lock.start <= lock.end else { throw Errno.invalidArgument }
        try engine.write { tx in
            _ = try Self.attr(ino, in: tx)
            let key = MetaKeys.posixLocks(ino)
            let entries = try Self.decodeLocks(try tx.get(key))
            let mine = { (e: LockEntry) in e.session == sid && e.owner == owner }
            if lock.kind != .unlock {
                let conflict = entries.contains { e in
                    !mine(e) && e.lock.overlaps(lock) && (lock.kind == .write || e.lock.kind == .write)
                }
                if conflict { throw Errno.resourceTemporarilyUnavailable }
            }
            var updated: [LockEntry] = []
            var own: [RangeLock] = []
            for e in entries {
                if mine(e) { own.append(e.lock) } else { updated.append(e) }
            }
            own = Self.applying(lock, to: own)
            updated.append(contentsOf: own.map { LockEntry(session: sid, owner: owner, lock: $0) })
            try store(updated, at: key, ino: ino, session: sid, in: tx)
        }
    }

    /// Drops every POSIX lock `owner` holds on `ino` (the kernel asks on each close: POSIX
    /// locks go when the process closes any descriptor of the file).
    public func releasePosixLocks(_ ino: InodeNumber, owner: UInt64) throws {
        let sid = sessionID.rawValue
        try engine.write { tx in
            let key = MetaKeys.posixLocks(ino)
            guard let bytes = try tx.get(key) else { return }
            var entries = try Self.decodeLocks(bytes)
            let before = entries.count
            entries.removeAll { $0.session == sid && $0.owner == owner }
            if entries.count != before { try store(entries, at: key, ino: ino, session: sid, in: tx) }
        }
    }

    /// The owner's ranges after applying `change`: the range is cut out of what it held, then
    /// added with the new kind (unless unlocking), and touching ranges of one kind are merged.
    static func applying(_ change: RangeLock, to held: [RangeLock]) -> [RangeLock] {
        var out: [RangeLock] = []
        for h in held {
            guard h.overlaps(change) else { out.append(h); continue }
            if h.start < change.start {
                var left = h
                left.end = change.start - 1
                out.append(left)
            }
            if h.end > change.end {
                var right = h
                right.start = change.end + 1
                out.append(right)
            }
        }
        if change.kind != .unlock { out.append(change) }
        out.sort { $0.start < $1.start }
        var merged: [RangeLock] = []
        for r in out {
            if var last = merged.last, last.kind == r.kind, last.end != .max, last.end + 1 >= r.start {
                last.end = max(last.end, r.end)
                merged[merged.count - 1] = last
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    private func store(_ entries: [LockEntry], at key: [UInt8], ino: InodeNumber, session: UInt64,
                       in tx: any KVTransaction) throws {
        if entries.isEmpty { try tx.delete(key) } else { try tx.set(key, Self.encodeLocks(entries)) }
        // The session's index of locked inodes lets cleanup find them if this client dies.
        let mark = MetaKeys.sessionLock(SessionID(session), ino)
        if entries.contains(where: { $0.session == session }) { try tx.set(mark, []) }
    }

    /// Removes every lock `session` holds (a session that ended or died).
    func dropLocks(of session: SessionID, in tx: any KVTransaction) throws {
        let prefix = MetaKeys.sessionLockPrefix(session)
        while true {
            let page = try tx.scan(prefix: prefix, after: nil, limit: 256)
            for pair in page {
                var r = ByteReader(pair.key, at: prefix.count)
                let ino = InodeNumber(r.u64())
                for key in [MetaKeys.flock(ino), MetaKeys.posixLocks(ino)] {
                    guard let bytes = try tx.get(key) else { continue }
                    let kept = try Self.decodeLocks(bytes).filter { $0.session != session.rawValue }
                    if kept.isEmpty { try tx.delete(key) } else { try tx.set(key, Self.encodeLocks(kept)) }
                }
                try tx.delete(pair.key)
            }
            if page.count < 256 { return }
        }
    }
}
