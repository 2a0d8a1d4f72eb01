import SluiceBase
import SluiceMeta

/// An open file as the VFS tracks it: which inode, how it was opened, where the last read ended
/// (to detect sequential reads for read-ahead).
final class FileHandle: @unchecked Sendable {
    // @unchecked: the mutable read position is only touched under `lock`.
    let inode: InodeNumber
    let readable: Bool
    let writable: Bool
    let append: Bool
    let lock = Locked<UInt64>(UInt64.max)
    /// Whether this handle's reads have been considered for an atime update yet: one check
    /// per open keeps reads free of metadata writes.
    let atimeChecked = Locked(false)

    init(inode: InodeNumber, readable: Bool, writable: Bool, append: Bool) {
        self.inode = inode
        self.readable = readable
        self.writable = writable
        self.append = append
    }
}

/// An open directory listing: a window of entries over the name-ordered listing, so that any
/// directory lists in pages with bounded memory.
final class DirectoryHandle: Sendable {
    let inode: InodeNumber
    struct Window {
        var start = 0
        var entries: [DirectoryEntry] = []
        var exhausted = false
    }
    let window = Locked(Window())

    init(inode: InodeNumber) { self.inode = inode }
}

/// Numbers handles for the kernel and finds them again.
final class HandleTable<Handle: Sendable>: Sendable {
    private let table = Locked<(next: UInt64, handles: [UInt64: Handle])>((1, [:]))

    func insert(_ h: Handle) -> UInt64 {
        table.withLock { t in
            let fh = t.next
            t.next += 1
            t.handles[fh] = h
            return fh
        }
    }

    func get(_ fh: UInt64) throws -> Handle {
        guard let h = table.withLock({ $0.handles[fh] }) else { throw Errno.badFileDescriptor }
        return h
    }

    func remove(_ fh: UInt64) -> Handle? { table.withLock { $0.handles.removeValue(forKey: fh) } }

    var all: [Handle] { table.withLock { Array($0.handles.values) } }
}
