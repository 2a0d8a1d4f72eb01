import SluiceBase

/// Whole-volume scans for maintenance (gc, fsck). They page through the keys, one read
/// transaction per page, so they run beside live clients in bounded memory; what changes during
/// a scan may or may not be seen.
extension MetaClient {
    /// Calls `body` with every chunk's slice list.
    public func forEachChunk(_ body: (InodeNumber, UInt32, [SliceRef]) throws -> Void) throws {
        var after: [UInt8]?
        let prefix: [UInt8] = [UInt8(ascii: "A")]
        while true {
            let page = try engine.read { tx in try tx.scan(prefix: prefix, after: after, limit: 1000) }
            for pair in page where pair.key.count == 14 && pair.key[9] == UInt8(ascii: "C") {
                var r = ByteReader(pair.key, at: 1)
                let ino = InodeNumber(r.u64())
                try body(ino, MetaKeys.chunkIndex(fromKey: pair.key), try MetaCoding.decodeSlices(pair.value))
            }
            guard page.count == 1000, let last = page.last else { return }
            after = last.key
        }
    }

    /// Every slice queued for deletion, due or not.
    public func allPendingSlices() throws -> [(id: SliceID, size: UInt32)] {
        var out: [(id: SliceID, size: UInt32)] = []
        var after: [UInt8]?
        while true {
            let page = try engine.read { tx in try tx.scan(prefix: MetaKeys.pendingSlicePrefix, after: after, limit: 1000) }
            for pair in page {
                var r = ByteReader(pair.key, at: 1)
                out.append((SliceID(r.u64()), r.u32()))
            }
            guard page.count == 1000, let last = page.last else { return out }
            after = last.key
        }
    }

    /// Paths (from the root, `/`-separated) of the inodes in `wanted`, found by walking the
    /// tree. An inode with several names gets several paths; one no name reaches gets none.
    public func paths(of wanted: Set<InodeNumber>) throws -> [InodeNumber: [String]] {
        var found: [InodeNumber: [String]] = [:]
        guard !wanted.isEmpty else { return found }
        var stack: [(InodeNumber, String)] = [(.root, "")]
        while let (dir, path) = stack.popLast() {
            var after: [UInt8]?
            while true {
                let page = try readdir(dir, after: after, limit: 1000, withAttributes: false)
                for e in page {
                    let p = path + "/" + String(decoding: e.name, as: UTF8.self)
                    if wanted.contains(e.inode) { found[e.inode, default: []].append(p) }
                    if e.type == .directory { stack.append((e.inode, p)) }
                }
                guard page.count == 1000, let last = page.last else { break }
                after = last.name
            }
        }
        return found
    }
}
