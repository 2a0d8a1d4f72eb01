import SluiceBase

/// The key layout of the metadata in any `KVEngine`. Integers are big-endian so that keys of
/// one kind sort numerically and every per-inode record shares the prefix `A<inode>`:
///
/// | key                          | value                                   |
/// |------------------------------|-----------------------------------------|
/// | `S`                          | volume settings (JSON)                  |
/// | `C<name>`                    | counter (8-byte big-endian signed)      |
/// | `A<ino:8>I`                  | inode attributes (binary, see MetaCoding)|
/// | `A<ino:8>D<name>`            | directory entry: type(1) inode(8)       |
/// | `A<ino:8>C<index:4>`         | slice list of chunk `index` (24 bytes each) |
/// | `A<ino:8>S`                  | symlink target                          |
/// | `A<ino:8>X<name>`            | extended attribute value                |
/// | `A<ino:8>F`                  | flock holders (see MetaClient+Locks)    |
/// | `A<ino:8>P`                  | POSIX range locks                       |
/// | `K<session:8><ino:8>`        | the session holds locks on this inode   |
/// | `L<slice:8><size:4>`         | slice whose objects await deletion      |
/// | `R<slice:8><size:4>`         | extra references to a shared slice (copy_file_range) |
/// | `E<session:8>`               | session record (JSON)                   |
/// | `O<session:8><ino:8>`        | inode unlinked while this session held it open; value: empty or parent(8) + last name (for the trash) |
///
/// The trash (see MetaClient+Trash) is ordinary inodes and entries at reserved inode numbers:
/// `.trash` is `Trash.inode`, entry `.trash` of the root; hour `h` is `Trash.inode + 1 + h`.
enum MetaKeys {
    static let settings: [UInt8] = [UInt8(ascii: "S")]

    static func counter(_ name: String) -> [UInt8] {
        var w = ByteWriter(capacity: 1 + name.utf8.count)
        w.u8(UInt8(ascii: "C"))
        w.raw(name)
        return w.bytes
    }

    static let nextInode = counter("nextInode")
    static let nextSlice = counter("nextSlice")
    static let nextSession = counter("nextSession")
    static let usedSpace = counter("usedSpace")
    static let totalInodes = counter("totalInodes")

    static func inodePrefix(_ ino: InodeNumber) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.u8(UInt8(ascii: "A"))
        w.u64(ino.rawValue)
        return w.bytes
    }

    static func attr(_ ino: InodeNumber) -> [UInt8] {
        var k = inodePrefix(ino)
        k.append(UInt8(ascii: "I"))
        return k
    }

    static func symlink(_ ino: InodeNumber) -> [UInt8] {
        var k = inodePrefix(ino)
        k.append(UInt8(ascii: "S"))
        return k
    }

    static func xattrPrefix(_ ino: InodeNumber) -> [UInt8] {
        var k = inodePrefix(ino)
        k.append(UInt8(ascii: "X"))
        return k
    }

    static func xattr(_ ino: InodeNumber, _ name: [UInt8]) -> [UInt8] { xattrPrefix(ino) + name }

    static func flock(_ ino: InodeNumber) -> [UInt8] { inodePrefix(ino) + [UInt8(ascii: "F")] }
    static func posixLocks(_ ino: InodeNumber) -> [UInt8] { inodePrefix(ino) + [UInt8(ascii: "P")] }

    static func sessionLockPrefix(_ sid: SessionID) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.u8(UInt8(ascii: "K"))
        w.u64(sid.rawValue)
        return w.bytes
    }

    static func sessionLock(_ sid: SessionID, _ ino: InodeNumber) -> [UInt8] {
        var w = ByteWriter(capacity: 17)
        w.raw(sessionLockPrefix(sid))
        w.u64(ino.rawValue)
        return w.bytes
    }

    static func entryPrefix(_ dir: InodeNumber) -> [UInt8] {
        var k = inodePrefix(dir)
        k.append(UInt8(ascii: "D"))
        return k
    }

    static func entry(_ dir: InodeNumber, _ name: [UInt8]) -> [UInt8] {
        var k = entryPrefix(dir)
        k.append(contentsOf: name)
        return k
    }

    static func chunkPrefix(_ ino: InodeNumber) -> [UInt8] {
        var k = inodePrefix(ino)
        k.append(UInt8(ascii: "C"))
        return k
    }

    static func chunk(_ ino: InodeNumber, _ index: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: 14)
        w.raw(chunkPrefix(ino))
        w.u32(index)
        return w.bytes
    }

    static func chunkIndex(fromKey key: [UInt8]) -> UInt32 {
        var r = ByteReader(key, at: 10)
        return r.u32()
    }

    static let pendingSlicePrefix: [UInt8] = [UInt8(ascii: "L")]

    static func pendingSlice(_ id: SliceID, size: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: 13)
        w.u8(UInt8(ascii: "L"))
        w.u64(id.rawValue)
        w.u32(size)
        return w.bytes
    }

    static let sliceRefsPrefix: [UInt8] = [UInt8(ascii: "R")]

    static func sliceRefs(_ id: SliceID, size: UInt32) -> [UInt8] {
        var k = pendingSlice(id, size: size)
        k[0] = UInt8(ascii: "R")
        return k
    }

    static let sessionPrefix: [UInt8] = [UInt8(ascii: "E")]

    static func session(_ sid: SessionID) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.u8(UInt8(ascii: "E"))
        w.u64(sid.rawValue)
        return w.bytes
    }

    static func sustainedPrefix(_ sid: SessionID) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.u8(UInt8(ascii: "O"))
        w.u64(sid.rawValue)
        return w.bytes
    }

    static func sustained(_ sid: SessionID, _ ino: InodeNumber) -> [UInt8] {
        var k = sustainedPrefix(sid)
        var w = ByteWriter(capacity: 8)
        w.u64(ino.rawValue)
        k.append(contentsOf: w.bytes)
        return k
    }
}
