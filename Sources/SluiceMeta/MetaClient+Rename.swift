import SluiceBase

extension MetaClient {
    /// Renames `srcName` in `srcParent` to `dstName` in `dstParent`, replacing a compatible
    /// target atomically (or swapping with it for `.exchange`). Returns the inode whose last
    /// link was removed by the replacement, if any, so that callers can invalidate caches.
    @discardableResult
    public func rename(_ srcParent: InodeNumber, _ srcName: [UInt8], _ dstParent: InodeNumber, _ dstName: [UInt8],
                       flags: RenameFlags = []) throws -> InodeNumber?
    {
        try Self.checkName(srcName)
        try Self.checkName(dstName)
        if flags.contains(.noReplace) && flags.contains(.exchange) { throw Errno.invalidArgument }
        for n in [srcName, dstName] where n == [UInt8(ascii: ".")] || n == [UInt8(ascii: "."), UInt8(ascii: ".")] {
            throw Errno.invalidArgument
        }
        // Only deletions put files into the trash; files may be renamed out of it (restored).
        if Trash.contains(dstParent) { throw Errno.notPermitted }
        return try engine.write { tx -> InodeNumber? in
            let srcKey = MetaKeys.entry(srcParent, srcName)
            let dstKey = MetaKeys.entry(dstParent, dstName)
            try tx.prefetch([MetaKeys.attr(srcParent), srcKey, MetaKeys.attr(dstParent), dstKey])
            var src = try Self.directory(srcParent, in: tx)
            guard let srcEntry = try tx.get(srcKey) else { throw Errno.noSuchFileOrDirectory }
            let (ino, type) = try MetaCoding.decodeEntry(srcEntry)
            // `.trash` and its hourly directories stay where they are.
            if Trash.contains(ino) { throw Errno.notPermitted }
            var dst = srcParent == dstParent ? src : try Self.directory(dstParent, in: tx)
            guard dst.nlink > 0 else { throw Errno.noSuchFileOrDirectory }
            let dstEntry = try tx.get(dstKey).map(MetaCoding.decodeEntry)
            if srcParent == dstParent && srcName == dstName {
                if flags.contains(.noReplace) { throw Errno.fileExists }
                return nil
            }
            if type == .directory && srcParent != dstParent {
                try Self.checkNotInside(ino, dstParent, in: tx)
            }
            let now = Timespec.now()
            var moved = try Self.attr(ino, in: tx)
            moved.ctime = now

            if flags.contains(.exchange) {
                // An exchange would put the other file into the trash.
                if Trash.contains(srcParent) { throw Errno.notPermitted }
                guard let (other, otherType) = dstEntry else { throw Errno.noSuchFileOrDirectory }
                if Trash.contains(other) { throw Errno.notPermitted }
                if otherType == .directory && srcParent != dstParent {
                    try Self.checkNotInside(other, srcParent, in: tx)
                }
                var otherAttr = try Self.attr(other, in: tx)
                otherAttr.ctime = now
                try tx.set(srcKey, MetaCoding.encodeEntry(other, otherType))
                try tx.set(dstKey, MetaCoding.encodeEntry(ino, type))
                if srcParent != dstParent {
                    if type == .directory { moved.parent = dstParent; src.nlink -= 1; dst.nlink += 1 }
                    if otherType == .directory { otherAttr.parent = srcParent; dst.nlink -= 1; src.nlink += 1 }
                }
                try Self.put(other, otherAttr, in: tx)
                try Self.put(ino, moved, in: tx)
                try self.touchParents(srcParent, &src, dstParent, &dst, now: now, in: tx)
                return nil
            }

            var removed: InodeNumber?
            if let (other, otherType) = dstEntry {
                if flags.contains(.noReplace) { throw Errno.fileExists }
                // Two names of one inode: POSIX says rename does nothing.
                if other == ino { return nil }
                if type == .directory {
                    guard otherType == .directory else { throw Errno.notDirectory }
                    if Trash.contains(other) { throw Errno.notPermitted }
                    guard try tx.scan(prefix: MetaKeys.entryPrefix(other), after: nil, limit: 1).isEmpty else {
                        throw Errno.directoryNotEmpty
                    }
                    try self.removeInode(other, size: Layout.directorySize, in: tx)
                    dst.nlink -= 1
                    removed = other
                } else {
                    guard otherType != .directory else { throw Errno.isDirectory }
                    let left = try self.dropLink(other, now: now, from: dstParent, name: dstName, in: tx)
                    if left.nlink == 0 { removed = other }
                }
            }
            try tx.delete(srcKey)
            try tx.set(dstKey, MetaCoding.encodeEntry(ino, type))
            if type == .directory && srcParent != dstParent {
                moved.parent = dstParent
                src.nlink -= 1
                dst.nlink += 1
            }
            try Self.put(ino, moved, in: tx)
            try self.touchParents(srcParent, &src, dstParent, &dst, now: now, in: tx)
            return removed
        }
    }

    private func touchParents(_ srcParent: InodeNumber, _ src: inout InodeAttributes,
                              _ dstParent: InodeNumber, _ dst: inout InodeAttributes,
                              now: Timespec, in tx: any KVTransaction) throws {
        if srcParent == dstParent {
            // One directory, read once into two copies: within one directory only `dst` is
            // ever changed (a replaced subdirectory lowers its nlink), so it is the truth.
            var one = dst
            one.mtime = now
            one.ctime = now
            try Self.put(srcParent, one, in: tx)
            return
        }
        src.mtime = now
        src.ctime = now
        dst.mtime = now
        dst.ctime = now
        try Self.put(srcParent, src, in: tx)
        try Self.put(dstParent, dst, in: tx)
    }

    /// EINVAL when `dir` is `target` or one of its ancestors: a directory cannot move into its
    /// own subtree.
    static func checkNotInside(_ dir: InodeNumber, _ target: InodeNumber, in tx: any KVTransaction) throws {
        var current = target
        var steps = 0
        while current != .root {
            if current == dir { throw Errno.invalidArgument }
            current = try attr(current, in: tx).parent
            steps += 1
            if steps > 1 << 16 { throw EngineError("directory loop above inode \(target)") }
        }
        if dir == .root { throw Errno.invalidArgument }
    }
}
