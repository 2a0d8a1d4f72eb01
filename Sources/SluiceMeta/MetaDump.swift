import Foundation
import SluiceBase

/// One line of a dump after the header: an inode's attributes, a directory entry, a chunk's
/// slice list, a symlink target, or a slice awaiting deletion.
struct DumpRecord: Codable, Equatable {
    enum Kind: String, Codable { case inode, entry, chunk, symlink, xattr, pending, refs }
    var t: Kind
    var ino: UInt64?
    // inode
    var type: UInt8?
    var mode: UInt16?
    var uid: UInt32?
    var gid: UInt32?
    var size: UInt64?
    var nlink: UInt32?
    var atime: [Int64]?
    var mtime: [Int64]?
    var ctime: [Int64]?
    var rdev: UInt32?
    var parent: UInt64?
    // entry (ino is the parent directory, child the target)
    var name: String?
    var nameBase64: String?
    var child: UInt64?
    // chunk: [position, id, size, offset, length] per slice
    var index: UInt32?
    var slices: [[UInt64]]?
    // symlink target, or xattr value (with `name`)
    var target: String?
    var targetBase64: String?
    // pending slice deletion (`due`: when), or extra references of a shared slice (`due`: count)
    var id: UInt64?
    var due: Int64?
}

/// Writes the whole metadata of a volume as JSON, one record per line, from one consistent
/// read transaction, paging through the keys so memory stays bounded however big the volume.
///
/// The output is a single JSON document:
/// ```
/// {"format":"sluice-dump","version":1,
/// "settings":{…},
/// "counters":{…},
/// "records":[
/// {"t":"inode",…},
/// …
/// {"t":"pending",…}
/// ]}
/// ```
/// Sessions are not dumped: they belong to running clients, not to the file system.
public enum MetaDump {
    static let counterNames = ["nextInode", "nextSlice", "nextSession", "usedSpace", "totalInodes"]

    public static func dump(_ engine: any KVEngine, to write: (String) throws -> Void) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try engine.read { tx in
            guard let settings = try tx.get(MetaKeys.settings) else {
                throw UsageError("the metadata engine holds no volume to dump")
            }
            try write("{\"format\":\"sluice-dump\",\"version\":1,\n")
            // Re-encoded so that the dump is canonical whichever client wrote the settings.
            let canonical = try VolumeSettings.decode(settings).encoded()
            try write("\"settings\":" + String(decoding: canonical, as: UTF8.self) + ",\n")
            var counters: [String: Int64] = [:]
            for name in counterNames { counters[name] = try tx.counter(MetaKeys.counter(name)) }
            try write("\"counters\":" + String(decoding: try encoder.encode(counters), as: UTF8.self) + ",\n")
            try write("\"records\":[\n")
            var first = true
            func emit(_ r: DumpRecord) throws {
                let line = String(decoding: try encoder.encode(r), as: UTF8.self)
                try write((first ? "" : ",\n") + line)
                first = false
            }
            for prefix in [[UInt8(ascii: "A")], MetaKeys.pendingSlicePrefix, MetaKeys.sliceRefsPrefix] {
                var after: [UInt8]?
                while true {
                    let page = try tx.scan(prefix: prefix, after: after, limit: 1000)
                    for pair in page { if let r = try record(pair) { try emit(r) } }
                    guard page.count == 1000, let last = page.last else { break }
                    after = last.key
                }
            }
            try write("\n]}\n")
        }
    }

    /// The record of one key, or nil for runtime state that is not part of the file system
    /// (locks belong to running clients).
    static func record(_ pair: KVPair) throws -> DumpRecord? {
        let k = pair.key
        if k[0] == UInt8(ascii: "R") {
            var r = ByteReader(k, at: 1)
            var v = ByteReader(pair.value)
            let id = r.u64()
            let size = UInt64(r.u32())
            return DumpRecord(t: .refs, size: size, id: id, due: v.i64())
        }
        if k[0] == UInt8(ascii: "L") {
            var r = ByteReader(k, at: 1)
            var v = ByteReader(pair.value)
            let id = r.u64()
            let size = UInt64(r.u32())
            return DumpRecord(t: .pending, size: size, id: id, due: pair.value.isEmpty ? nil : v.i64())
        }
        var r = ByteReader(k, at: 1)
        let ino = r.u64()
        let tag = k.count > 9 ? k[9] : 0
        switch tag {
        case UInt8(ascii: "I"):
            let a = try MetaCoding.decodeAttr(pair.value)
            return DumpRecord(t: .inode, ino: ino, type: a.type.rawValue, mode: a.permissions.rawValue, uid: a.uid,
                              gid: a.gid, size: a.size, nlink: a.nlink,
                              atime: [a.atime.seconds, Int64(a.atime.nanoseconds)],
                              mtime: [a.mtime.seconds, Int64(a.mtime.nanoseconds)],
                              ctime: [a.ctime.seconds, Int64(a.ctime.nanoseconds)], rdev: a.rdev, parent: a.parent.rawValue)
        case UInt8(ascii: "D"):
            let (child, type) = try MetaCoding.decodeEntry(pair.value)
            var rec = DumpRecord(t: .entry, ino: ino, type: type.rawValue, child: child.rawValue)
            setBytes(Array(k[10...]), text: &rec.name, base64: &rec.nameBase64)
            return rec
        case UInt8(ascii: "C"):
            let slices = try MetaCoding.decodeSlices(pair.value).map {
                [UInt64($0.position), $0.id.rawValue, UInt64($0.size), UInt64($0.offset), UInt64($0.length)]
            }
            return DumpRecord(t: .chunk, ino: ino, index: MetaKeys.chunkIndex(fromKey: k), slices: slices)
        case UInt8(ascii: "S"):
            var rec = DumpRecord(t: .symlink, ino: ino)
            setBytes(pair.value, text: &rec.target, base64: &rec.targetBase64)
            return rec
        case UInt8(ascii: "X"):
            var rec = DumpRecord(t: .xattr, ino: ino)
            setBytes(Array(k[10...]), text: &rec.name, base64: &rec.nameBase64)
            // Values are binary more often than not: always base64.
            rec.targetBase64 = Data(pair.value).base64EncodedString()
            return rec
        case UInt8(ascii: "F"), UInt8(ascii: "P"):
            return nil
        default:
            throw EngineError("unknown metadata key kind \(tag) under inode \(ino)")
        }
    }

    /// Names are bytes: valid UTF-8 is written as text, anything else as base64.
    static func setBytes(_ bytes: [UInt8], text: inout String?, base64: inout String?) {
        if let s = String(validating: bytes, as: UTF8.self) { text = s } else { base64 = Data(bytes).base64EncodedString() }
    }
}

extension DumpRecord {
    init(t: Kind, ino: UInt64? = nil, type: UInt8? = nil, mode: UInt16? = nil, uid: UInt32? = nil, gid: UInt32? = nil,
         size: UInt64? = nil, nlink: UInt32? = nil, atime: [Int64]? = nil, mtime: [Int64]? = nil, ctime: [Int64]? = nil,
         rdev: UInt32? = nil, parent: UInt64? = nil, child: UInt64? = nil, index: UInt32? = nil,
         slices: [[UInt64]]? = nil, id: UInt64? = nil, due: Int64? = nil) {
        self.t = t
        self.ino = ino
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.nlink = nlink
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.rdev = rdev
        self.parent = parent
        self.child = child
        self.index = index
        self.slices = slices
        self.id = id
        self.due = due
    }
}
