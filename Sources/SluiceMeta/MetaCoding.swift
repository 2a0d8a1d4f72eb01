import SluiceBase

/// Binary encodings of the values in the metadata schema (see `MetaKeys`). Each record starts
/// with a version byte so that the format can grow.
enum MetaCoding {
    static let attrVersion: UInt8 = 1

    static func encode(_ a: InodeAttributes) -> [UInt8] {
        var w = ByteWriter(capacity: 80)
        w.u8(attrVersion)
        w.u8(a.type.rawValue)
        w.u16(a.permissions.rawValue)
        w.u32(a.uid)
        w.u32(a.gid)
        w.u64(a.size)
        w.u32(a.nlink)
        for t in [a.atime, a.mtime, a.ctime] {
            w.i64(t.seconds)
            w.u32(t.nanoseconds)
        }
        w.u32(a.rdev)
        w.u64(a.parent.rawValue)
        return w.bytes
    }

    static func decodeAttr(_ bytes: [UInt8]) throws -> InodeAttributes {
        var r = ByteReader(bytes)
        guard bytes.count >= 71, r.u8() == attrVersion, let type = FileType(rawValue: r.u8()) else {
            throw EngineError("damaged inode record (\(bytes.count) bytes)")
        }
        let perm = FilePermissions(rawValue: r.u16())
        let uid = r.u32(), gid = r.u32(), size = r.u64(), nlink = r.u32()
        var times: [Timespec] = []
        for _ in 0..<3 { times.append(Timespec(seconds: r.i64(), nanoseconds: r.u32())) }
        let rdev = r.u32()
        let parent = InodeNumber(r.u64())
        return InodeAttributes(type: type, permissions: perm, uid: uid, gid: gid, size: size, nlink: nlink,
                               atime: times[0], mtime: times[1], ctime: times[2], rdev: rdev, parent: parent)
    }

    static func encodeEntry(_ ino: InodeNumber, _ type: FileType) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.u8(type.rawValue)
        w.u64(ino.rawValue)
        return w.bytes
    }

    static func decodeEntry(_ bytes: [UInt8]) throws -> (InodeNumber, FileType) {
        var r = ByteReader(bytes)
        guard bytes.count == 9, let type = FileType(rawValue: r.u8()) else {
            throw EngineError("damaged directory entry (\(bytes.count) bytes)")
        }
        return (InodeNumber(r.u64()), type)
    }

    static let sliceRecordSize = 24

    static func append(_ s: SliceRef, to bytes: inout [UInt8]) {
        var w = ByteWriter(capacity: sliceRecordSize)
        w.u32(s.position)
        w.u64(s.id.rawValue)
        w.u32(s.size)
        w.u32(s.offset)
        w.u32(s.length)
        bytes.append(contentsOf: w.bytes)
    }

    static func encodeSlices(_ slices: [SliceRef]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(slices.count * sliceRecordSize)
        for s in slices { append(s, to: &bytes) }
        return bytes
    }

    static func decodeSlices(_ bytes: [UInt8]) throws -> [SliceRef] {
        guard bytes.count % sliceRecordSize == 0 else {
            throw EngineError("damaged slice list (\(bytes.count) bytes)")
        }
        var r = ByteReader(bytes)
        var out: [SliceRef] = []
        out.reserveCapacity(bytes.count / sliceRecordSize)
        while r.remaining > 0 {
            out.append(SliceRef(position: r.u32(), id: SliceID(r.u64()), size: r.u32(), offset: r.u32(), length: r.u32()))
        }
        return out
    }
}
