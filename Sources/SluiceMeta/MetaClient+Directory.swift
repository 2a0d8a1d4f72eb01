import SluiceBase

/// One entry of a directory listing.
public struct DirectoryEntry: Sendable {
    public var name: [UInt8]
    public var inode: InodeNumber
    public var type: FileType
    /// Filled when the listing asked for attributes (readdirplus).
    public var attributes: InodeAttributes?
}

extension MetaClient {
    /// Up to `limit` entries of directory `dir` whose names sort after `after`, in name order.
    /// Listing in pages keeps memory bounded for directories of any size; "." and ".." are the
    /// caller's to add.
    public func readdir(_ dir: InodeNumber, after: [UInt8]?, limit: Int, withAttributes: Bool) throws
        -> [DirectoryEntry]
    {
        try engine.read { tx in
            let prefix = MetaKeys.entryPrefix(dir)
            let page = try tx.scan(prefix: prefix, after: after.map { prefix + $0 }, limit: limit)
            if page.isEmpty { _ = try Self.directory(dir, in: tx) }
            var entries: [DirectoryEntry] = []
            entries.reserveCapacity(page.count)
            for pair in page {
                let (ino, type) = try MetaCoding.decodeEntry(pair.value)
                entries.append(DirectoryEntry(name: Array(pair.key[prefix.count...]), inode: ino, type: type))
            }
            if withAttributes {
                let attrs = try tx.get(many: entries.map { MetaKeys.attr($0.inode) })
                for i in entries.indices {
                    if let bytes = attrs[i] { entries[i].attributes = try MetaCoding.decodeAttr(bytes) }
                }
            }
            return entries
        }
    }
}
