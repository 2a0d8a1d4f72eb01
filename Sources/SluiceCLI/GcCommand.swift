import ArgumentParser
import Foundation
import SluiceBase
import SluiceChunk
import SluiceMeta
import SluiceObject
import SluiceVFS

struct GcCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Find objects no slice references (leaks after crashes), finish pending deletions, compact fragmented chunks.")

    @Argument(help: "Metadata engine URL.")
    var metaURL: String

    @Flag(help: "Delete the leaked objects and the trash's expired files (without it, gc only reports).")
    var delete = false

    @Flag(help: "Also compact chunks with many slices.")
    var compact = false

    @Option(help: "Leave objects younger than this many seconds alone: they may belong to a write in progress.")
    var minAge = 3600

    @Option(name: .customLong("encrypt-rsa-key"), help: ArgumentHelp(
        "The RSA private key (PEM; if passphrase-protected, the passphrase in SLUICE_RSA_PASSPHRASE) of an encrypted volume, needed by --compact (default: SLUICE_RSA_KEY_FILE).",
        valueName: "PEM_FILE"))
    var encryptRsaKey: String?

    func run() throws {
        // Listing and deleting need no key; compaction reads and rewrites blocks.
        let volume = try OfflineVolume(metaURL: metaURL, keyOption: encryptRsaKey, needsPrivateKey: compact)
        defer { volume.close() }
        let (meta, settings, store, layout) = (volume.meta, volume.settings, volume.store, volume.layout)

        // With --delete, files whose time in the trash is over are deleted first: their slices
        // join the deletion queue, finished below.
        if settings.trashDays > 0 && delete {
            let removed = try meta.emptyTrash(olderThan: Date(timeIntervalSinceNow: -Double(settings.trashDays) * 86400))
            print("trash: removed \(removed) files deleted more than \(settings.trashDays) days ago")
        }

        // Every slice a chunk references, and every slice queued for deletion.
        var referenced = Set<UInt64>()
        var fragmented: [(InodeNumber, UInt32)] = []
        try meta.forEachChunk { ino, index, slices in
            for s in slices where !s.id.isHole { referenced.insert(s.id.rawValue) }
            if slices.count > VFSConfig().compactionThreshold { fragmented.append((ino, index)) }
        }
        let pending = Set(try meta.allPendingSlices().map(\.id.rawValue))

        var leaked: [ObjectInfo] = []
        var scanned = 0, leakedBytes = 0
        let now = Int64(Date().timeIntervalSince1970)
        var after: String?
        while true {
            let page = try store.list(prefix: layout.chunksPrefix, after: after, limit: 1000)
            for object in page {
                scanned += 1
                guard let (id, _, _) = layout.parse(object.key) else { continue }
                if referenced.contains(id.rawValue) || pending.contains(id.rawValue) { continue }
                if let modified = object.modified, now - modified < Int64(minAge) { continue }
                leaked.append(object)
                leakedBytes += object.size
            }
            guard page.count == 1000, let last = page.last else { break }
            after = last.key
        }
        print("scanned \(scanned) objects: \(referenced.count) slices referenced, \(pending.count) awaiting deletion, "
              + "\(leaked.count) leaked objects (\(ByteSize.format(leakedBytes)))")
        for object in leaked.prefix(1000) { print("leaked: \(object.key)") }

        let vfs = VFS(meta: meta, store: store, settings: settings, config: VFSConfig())
        if delete {
            for object in leaked { try store.delete(object.key) }
            vfs.runDueDeletions()
            print("deleted \(leaked.count) leaked objects; finished due deletions")
        }
        if compact {
            for (ino, index) in fragmented { try vfs.compact(ino, chunk: index) }
            print("compacted \(fragmented.count) chunks")
        }
    }
}
