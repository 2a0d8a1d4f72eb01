import SluiceBase
import SluiceMeta

/// One entry handed to the kernel by readdir: `offset` is the cookie that resumes after it.
public struct ListedEntry: Sendable {
    public var name: [UInt8]
    public var entry: Entry?
    public var inode: InodeNumber
    public var type: FileType
    public var offset: UInt64
}

extension VFS {
    public func opendir(_ ino: InodeNumber) throws -> UInt64 {
        let attr = try meta.getattr(ino)
        guard attr.type == .directory else { throw Errno.notDirectory }
        // Counted as open, so that rmdir keeps the inode until releasedir (fstat of an open,
        // removed directory must answer nlink 0, not ENOENT).
        _ = try meta.open(ino)
        return directories.insert(DirectoryHandle(inode: ino))
    }

    public func releasedir(_ fh: UInt64) {
        guard let handle = directories.remove(fh) else { return }
        do { try meta.close(handle.inode) } catch { worker.report("close of directory \(handle.inode) failed: \(error)") }
    }

    /// Entries from position `offset` (0 = start; "." and ".." come first), at most `limit`.
    /// The cookie of an entry is its position + 1. Sequential listing costs one metadata page
    /// per `directoryPageSize` entries and holds no more than one page in memory; a seek
    /// elsewhere rescans from the start.
    public func readdir(_ fh: UInt64, offset: UInt64, limit: Int, plus: Bool) throws -> [ListedEntry] {
        let handle = try directories.get(fh)
        let dir = handle.inode
        var out: [ListedEntry] = []
        var position = Int(offset)
        if position < 2 {
            let attr = try meta.getattr(dir)
            if position == 0 {
                out.append(ListedEntry(name: [UInt8(ascii: ".")], entry: entry(dir, attr), inode: dir, type: .directory, offset: 1))
            }
            let parent = attr.parent.rawValue == 0 ? dir : attr.parent
            if out.count < limit {
                out.append(ListedEntry(name: [UInt8(ascii: "."), UInt8(ascii: ".")], entry: nil, inode: parent,
                                       type: .directory, offset: 2))
            }
            position = 2
        }
        var index = position - 2
        while out.count < limit {
            guard let e = try entryAt(index, handle, plus: plus) else { break }
            let listed = ListedEntry(name: e.name, entry: e.attributes.map { entry(e.inode, adjusted(e.inode, $0)) },
                                     inode: e.inode, type: e.type, offset: UInt64(index + 3))
            out.append(listed)
            index += 1
        }
        return out
    }

    /// The entry at `index` of the name-ordered listing, or nil past the end.
    private func entryAt(_ index: Int, _ handle: DirectoryHandle, plus: Bool) throws -> DirectoryEntry? {
        while true {
            // .some(entry or nil at the end) when the window answers; nil when a page must be read.
            let answer = handle.window.withLock { w -> DirectoryEntry?? in
                if index >= w.start && index < w.start + w.entries.count { return .some(w.entries[index - w.start]) }
                if index < w.start {
                    // A seek back: start over from the beginning.
                    w = DirectoryHandle.Window()
                    return nil
                }
                // At or past the window's end: the next page, until the index is reached.
                return w.exhausted ? .some(nil) : nil
            }
            if let answer { return answer }
            let (after, start) = handle.window.withLock { w in (w.entries.last?.name, w.start + w.entries.count) }
            let page = try meta.readdir(handle.inode, after: after, limit: config.directoryPageSize, withAttributes: plus)
            handle.window.withLock { w in
                w = DirectoryHandle.Window(start: start, entries: page, exhausted: page.count < config.directoryPageSize)
            }
            if page.isEmpty && index >= start { return nil }
        }
    }
}
