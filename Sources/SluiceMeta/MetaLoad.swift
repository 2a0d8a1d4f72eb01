import Foundation
import SluiceBase

/// Loads what `MetaDump` wrote into an empty engine of any kind, line by line, committing in
/// batches so memory stays bounded.
public enum MetaLoad {
    /// `lines` yields the dump's lines in order (without newline characters).
    public static func load(_ engine: any KVEngine, lines: some Sequence<Substring>) throws {
        guard try engine.read({ try $0.get(MetaKeys.settings) }) == nil else {
            throw UsageError("the metadata engine already holds a volume: load needs an empty one")
        }
        var iterator = lines.makeIterator()
        var header = ""
        // The header is everything up to the line that opens the records array.
        while let line = iterator.next() {
            if line.hasPrefix("\"records\":[") { break }
            header += line
        }
        guard header.hasPrefix("{\"format\":\"sluice-dump\"") else {
            throw UsageError("not a Sluice metadata dump")
        }
        let decoder = JSONDecoder()
        let head = try parseHeader(header + "\"records\":[]}")
        var batch: [KVPair] = []
        var sawRoot = false
        func commit() throws {
            let pairs = batch
            try engine.write { tx in for p in pairs { try tx.set(p.key, p.value) } }
            batch.removeAll(keepingCapacity: true)
        }
        while let raw = iterator.next() {
            var line = raw
            if line.hasPrefix("]}") { break }
            if line.hasSuffix(",") { line = line.dropLast() }
            if line.isEmpty { continue }
            let record: DumpRecord
            do { record = try decoder.decode(DumpRecord.self, from: Data(line.utf8)) } catch {
                throw UsageError("damaged dump record: \(line.prefix(200))")
            }
            let pair = try pairFor(record)
            if record.t == .inode && record.ino == InodeNumber.root.rawValue { sawRoot = true }
            batch.append(pair)
            if batch.count >= 1000 { try commit() }
        }
        guard sawRoot else { throw UsageError("the dump holds no root directory (truncated?)") }
        try commit()
        // Settings and counters last: an interrupted load leaves no volume that looks complete.
        try engine.write { tx in
            for (name, value) in head.counters {
                try tx.set(MetaKeys.counter(name), MetaClient.counterBytes(value))
            }
            try tx.set(MetaKeys.settings, head.settings)
        }
    }

    struct Header {
        var settings: [UInt8]
        var counters: [String: Int64]
    }

    static func parseHeader(_ text: String) throws -> Header {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let settings = object["settings"], let counters = object["counters"] as? [String: Any] else {
            throw UsageError("damaged dump header")
        }
        let settingsData = try JSONSerialization.data(withJSONObject: settings, options: [.sortedKeys])
        // Decoded and re-encoded: a load must not leave settings no client can read, and the
        // stored form must be the canonical one.
        let canonical = try VolumeSettings.decode(Array(settingsData)).encoded()
        var values: [String: Int64] = [:]
        for (k, v) in counters {
            guard MetaDump.counterNames.contains(k), let n = (v as? NSNumber)?.int64Value else {
                throw UsageError("damaged dump counter \(k)")
            }
            values[k] = n
        }
        return Header(settings: canonical, counters: values)
    }

    static func pairFor(_ r: DumpRecord) throws -> KVPair {
        func need<T>(_ v: T?, _ what: String) throws -> T {
            guard let v else { throw UsageError("dump record of kind \(r.t.rawValue) lacks \(what)") }
            return v
        }
        func bytes(_ text: String?, _ base64: String?) throws -> [UInt8] {
            if let text { return Array(text.utf8) }
            guard let base64, let d = Data(base64Encoded: base64) else { throw UsageError("dump record lacks a name") }
            return Array(d)
        }
        func time(_ v: [Int64]?) throws -> Timespec {
            let t = try need(v, "a timestamp")
            guard t.count == 2 else { throw UsageError("damaged timestamp in dump") }
            return Timespec(seconds: t[0], nanoseconds: UInt32(clamping: t[1]))
        }
        switch r.t {
        case .inode:
            guard let type = FileType(rawValue: try need(r.type, "type")) else { throw UsageError("bad inode type in dump") }
            let a = InodeAttributes(type: type, permissions: FilePermissions(rawValue: try need(r.mode, "mode")),
                                    uid: try need(r.uid, "uid"), gid: try need(r.gid, "gid"), size: try need(r.size, "size"),
                                    nlink: try need(r.nlink, "nlink"), atime: try time(r.atime), mtime: try time(r.mtime),
                                    ctime: try time(r.ctime), rdev: r.rdev ?? 0, parent: InodeNumber(r.parent ?? 0))
            return KVPair(key: MetaKeys.attr(InodeNumber(try need(r.ino, "ino"))), value: MetaCoding.encode(a))
        case .entry:
            let child = InodeNumber(try need(r.child, "child"))
            guard let type = FileType(rawValue: try need(r.type, "type")) else { throw UsageError("bad entry type in dump") }
            return KVPair(key: MetaKeys.entry(InodeNumber(try need(r.ino, "ino")), try bytes(r.name, r.nameBase64)),
                          value: MetaCoding.encodeEntry(child, type))
        case .chunk:
            let slices = try need(r.slices, "slices").map { s -> SliceRef in
                guard s.count == 5 else { throw UsageError("damaged slice in dump") }
                return SliceRef(position: UInt32(s[0]), id: SliceID(s[1]), size: UInt32(s[2]), offset: UInt32(s[3]),
                                length: UInt32(s[4]))
            }
            return KVPair(key: MetaKeys.chunk(InodeNumber(try need(r.ino, "ino")), try need(r.index, "index")),
                          value: MetaCoding.encodeSlices(slices))
        case .symlink:
            return KVPair(key: MetaKeys.symlink(InodeNumber(try need(r.ino, "ino"))), value: try bytes(r.target, r.targetBase64))
        case .xattr:
            return KVPair(key: MetaKeys.xattr(InodeNumber(try need(r.ino, "ino")), try bytes(r.name, r.nameBase64)),
                          value: try bytes(nil, r.targetBase64 ?? ""))
        case .refs:
            let key = MetaKeys.sliceRefs(SliceID(try need(r.id, "id")), size: UInt32(try need(r.size, "size")))
            return KVPair(key: key, value: MetaClient.counterBytes(try need(r.due, "count")))
        case .pending:
            let key = MetaKeys.pendingSlice(SliceID(try need(r.id, "id")), size: UInt32(try need(r.size, "size")))
            return KVPair(key: key, value: r.due.map(MetaClient.counterBytes) ?? [])
        }
    }
}
