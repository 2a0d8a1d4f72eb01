import Foundation
import SluiceBase

/// The trash (volumes formatted with `--trash-days N`, N > 0). A regular file, symlink or
/// special file whose last name goes away through unlink or rename-over is not deleted but
/// moved, in the same transaction, to `/.trash/<YYYY-MM-DD-HH>/<parent>-<inode>-<name>` (the
/// hour of the deletion, UTC). It keeps its data and gets nlink 1 back. `emptyTrash` deletes
/// hourly directories older than the cutoff, queuing their files' slices as a delete would.
///
/// Inode numbers: `.trash` is `Trash.inode`; the directory of the hour `h` (hours since the
/// epoch) is `Trash.inode + 1 + h`. Both are fixed, so they can be created lazily inside any
/// transaction without allocating ids, and every inode at or above `Trash.inode` is in the trash.
/// Nobody may create, link or rename anything into the trash (EPERM); root may read, remove or
/// rename files out of it.
public enum Trash {
    public static let inode = InodeNumber(0x7FFF_FFFF_1000_0000)
    public static let name: [UInt8] = Array(".trash".utf8)

    /// Whether `ino` is `.trash` or one of its hourly directories.
    public static func contains(_ ino: InodeNumber) -> Bool { ino.rawValue >= inode.rawValue }

    /// Whether `ino` is one of the hourly directories.
    static func isHourDirectory(_ ino: InodeNumber) -> Bool { ino.rawValue > inode.rawValue }

    /// The directory of the hour that holds the unix time `seconds`.
    static func hourDirectory(seconds: Int64) -> (InodeNumber, [UInt8]) {
        let hours = seconds >= 0 ? seconds / 3600 : 0
        return (InodeNumber(inode.rawValue + 1 + UInt64(hours)), hourName(hours: hours))
    }

    /// The unix time at which the hour of directory `ino` began.
    static func hourStart(of ino: InodeNumber) -> Int64 { Int64(ino.rawValue - inode.rawValue - 1) * 3600 }

    /// `YYYY-MM-DD-HH` (UTC) for hours since the epoch.
    static func hourName(hours: Int64) -> [UInt8] {
        let days = hours / 24
        let (y, m, d) = civil(days: days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return Array("\(y)-\(two(m))-\(two(d))-\(two(hours % 24))".utf8)
    }

    /// The proleptic Gregorian date of a day number since 1970-01-01 (H. Hinnant's algorithm).
    static func civil(days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The entry name of a trashed file: `<parent>-<inode>-<name>`, cut to the longest name.
    static func entryName(parent: InodeNumber, ino: InodeNumber, name: [UInt8]) -> [UInt8] {
        let full = Array("\(parent.rawValue)-\(ino.rawValue)-".utf8) + name
        return Array(full.prefix(Layout.maxNameLength))
    }

    /// The value of an `O` record: where the open-unlinked inode had its last name, so that
    /// the last close can move it to the trash.
    static func encodeOrigin(parent: InodeNumber, name: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: 8 + name.count)
        w.u64(parent.rawValue)
        w.raw(name)
        return w.bytes
    }

    static func decodeOrigin(_ bytes: [UInt8]) -> (InodeNumber, [UInt8])? {
        guard bytes.count > 8 else { return nil }
        var r = ByteReader(bytes)
        return (InodeNumber(r.u64()), Array(bytes[8...]))
    }
}

extension MetaClient {
    /// Days deleted files stay in the trash, read in `tx` (0: no trash).
    func trashDays(in tx: any KVTransaction) throws -> Int {
        guard let bytes = try tx.get(MetaKeys.settings) else { return 0 }
        return try VolumeSettings.decode(bytes).trashDays
    }

    /// Moves `ino`, which just lost its last name `name` in `parent`, into the trash: it gets
    /// nlink 1 back. Returns false (and changes nothing) when the trash is off, the file was in
    /// the trash already, or is a directory; the caller then deletes it.
    func moveToTrash(_ ino: InodeNumber, _ attr: inout InodeAttributes, from parent: InodeNumber, name: [UInt8],
                     now: Timespec, in tx: any KVTransaction) throws -> Bool {
        guard attr.type != .directory, !Trash.contains(parent), try trashDays(in: tx) > 0 else { return false }
        let (hour, hourName) = Trash.hourDirectory(seconds: Int64(now.seconds))
        var dir = try ensureTrashDirectory(hour, hourName, now: now, in: tx)
        let key = MetaKeys.entry(hour, Trash.entryName(parent: parent, ino: ino, name: name))
        guard try tx.get(key) == nil else { return false }
        try tx.set(key, MetaCoding.encodeEntry(ino, attr.type))
        attr.nlink = 1
        attr.ctime = now
        try Self.put(ino, attr, in: tx)
        dir.mtime = now
        dir.ctime = now
        try Self.put(hour, dir, in: tx)
        return true
    }

    /// The attributes of the hourly directory `hour`, creating it and `.trash` when missing.
    private func ensureTrashDirectory(_ hour: InodeNumber, _ hourName: [UInt8], now: Timespec,
                                      in tx: any KVTransaction) throws -> InodeAttributes {
        if let bytes = try tx.get(MetaKeys.attr(hour)) { return try MetaCoding.decodeAttr(bytes) }
        func newDirectory(parent: InodeNumber) -> InodeAttributes {
            InodeAttributes(type: .directory, permissions: FilePermissions(rawValue: 0o555), uid: 0, gid: 0,
                            size: Layout.directorySize, nlink: 2, atime: now, mtime: now, ctime: now, parent: parent)
        }
        var trash: InodeAttributes
        if let bytes = try tx.get(MetaKeys.attr(Trash.inode)) {
            trash = try MetaCoding.decodeAttr(bytes)
        } else {
            trash = newDirectory(parent: .root)
            // A user's own "/.trash" keeps its name; the trash is then reachable by inode only.
            let rootKey = MetaKeys.entry(.root, Trash.name)
            if try tx.get(rootKey) == nil {
                var root = try Self.directory(.root, in: tx)
                root.nlink += 1
                root.mtime = now
                root.ctime = now
                try Self.put(.root, root, in: tx)
                try tx.set(rootKey, MetaCoding.encodeEntry(Trash.inode, .directory))
            }
            try tx.increment(MetaKeys.totalInodes, by: 1)
        }
        let dir = newDirectory(parent: Trash.inode)
        try tx.set(MetaKeys.entry(Trash.inode, hourName), MetaCoding.encodeEntry(hour, .directory))
        try Self.put(hour, dir, in: tx)
        try tx.increment(MetaKeys.totalInodes, by: 1)
        trash.nlink += 1
        trash.mtime = now
        trash.ctime = now
        try Self.put(Trash.inode, trash, in: tx)
        return dir
    }

    /// Deletes every hourly trash directory whose hour began before `cutoff`, with the files in
    /// it (their slices are queued for deletion; a file still open here lives on until its last
    /// close). Returns how many files were removed.
    @discardableResult
    public func emptyTrash(olderThan cutoff: Date) throws -> Int {
        let limit = Int64(cutoff.timeIntervalSince1970)
        let hours = try engine.read { tx in
            try tx.scan(prefix: MetaKeys.entryPrefix(Trash.inode), after: nil, limit: 100_000)
        }.compactMap { pair -> (InodeNumber, [UInt8])? in
            guard let (ino, type) = try? MetaCoding.decodeEntry(pair.value), type == .directory,
                  Trash.isHourDirectory(ino), Trash.hourStart(of: ino) < limit else { return nil }
            return (ino, Array(pair.key.dropFirst(MetaKeys.entryPrefix(Trash.inode).count)))
        }
        var removed = 0
        for (hour, hourName) in hours {
            // One transaction per page of files keeps transactions small.
            while true {
                let n = try engine.write { tx -> Int in
                    let page = try tx.scan(prefix: MetaKeys.entryPrefix(hour), after: nil, limit: 128)
                    let now = Timespec.now()
                    for pair in page {
                        let (ino, type) = try MetaCoding.decodeEntry(pair.value)
                        try tx.delete(pair.key)
                        if type == .directory {
                            // Cannot happen (nothing is created or renamed into the trash, and
                            // rmdir deletes); an empty directory is deleted as rmdir would.
                            try removeInode(ino, size: Layout.directorySize, in: tx)
                        } else {
                            _ = try dropLink(ino, now: now, from: hour, name: [], in: tx)
                        }
                    }
                    return page.count
                }
                removed += n
                if n < 128 { break }
            }
            try engine.write { tx in
                let key = MetaKeys.entry(Trash.inode, hourName)
                guard try tx.get(key) != nil else { return }
                guard try tx.scan(prefix: MetaKeys.entryPrefix(hour), after: nil, limit: 1).isEmpty else { return }
                try tx.delete(key)
                try removeInode(hour, size: Layout.directorySize, in: tx)
                var trash = try Self.directory(Trash.inode, in: tx)
                let now = Timespec.now()
                trash.nlink -= 1
                trash.mtime = now
                trash.ctime = now
                try Self.put(Trash.inode, trash, in: tx)
            }
        }
        return removed
    }
}
