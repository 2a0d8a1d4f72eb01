import ArgumentParser
import Foundation
import SluiceBase
import SluiceChunk
import SluiceFUSE
import SluiceMeta

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show where a file's data lives (inode, chunks, slices, objects) or what a directory holds.")

    @Argument(help: "A path on a mounted Sluice volume.")
    var path: String

    func run() throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw UsageError("\(path): \(String(cString: strerror(errno)))") }
        guard let metaURL = MountPointControl.metaURL(path) else {
            throw UsageError("\(path) is not on a mounted Sluice volume")
        }
        let engine = try MetaEngines.open(url: metaURL, create: false)
        defer { engine.close() }
        let meta = MetaClient(engine: engine)
        let settings = try meta.settings()
        let ino = InodeNumber(UInt64(st.st_ino))
        let attr = try meta.getattr(ino)
        print("\(path):")
        print("  inode: \(ino)")
        print("  type: \(attr.type)")
        print("  mode: \(String(attr.mode & 0o7777, radix: 8)) uid: \(attr.uid) gid: \(attr.gid) nlink: \(attr.nlink)")
        if attr.type == .directory {
            let (files, dirs, bytes) = try countTree(meta, ino)
            print("  files: \(files)")
            print("  directories: \(dirs)")
            print("  size: \(bytes) (\(ByteSize.format(Int(bytes))))")
            return
        }
        print("  size: \(attr.size) (\(ByteSize.format(Int(attr.size))))")
        guard attr.type == .regular else { return }
        let layout = BlockLayout(volume: settings.name, blockSize: settings.blockSize)
        let chunkCount = (attr.size + UInt64(Layout.chunkSize) - 1) / UInt64(Layout.chunkSize)
        print("  chunks: \(chunkCount)")
        for index in 0..<UInt32(chunkCount) {
            let slices = try meta.readChunk(ino, index)
            print("  chunk \(index): \(slices.count) slice(s)")
            for s in slices {
                let what = s.id.isHole ? "hole" : "slice \(s.id) (size \(s.size))"
                print("    [\(s.position), \(s.end)) \(what) offset \(s.offset) length \(s.length)")
                if !s.id.isHole {
                    for key in layout.keys(slice: s.id, size: Int(s.size)) { print("      \(key)") }
                }
            }
        }
    }

    /// Files, directories and bytes below `dir`, listed in pages.
    private func countTree(_ meta: MetaClient, _ dir: InodeNumber) throws -> (UInt64, UInt64, UInt64) {
        var files: UInt64 = 0, dirs: UInt64 = 0, bytes: UInt64 = 0
        var stack = [dir]
        while let d = stack.popLast() {
            var after: [UInt8]?
            while true {
                let page = try meta.readdir(d, after: after, limit: 1000, withAttributes: true)
                for e in page {
                    if e.type == .directory {
                        dirs += 1
                        stack.append(e.inode)
                    } else {
                        files += 1
                        bytes += e.attributes?.size ?? 0
                    }
                }
                guard page.count == 1000 else { break }
                after = page.last?.name
            }
        }
        return (files, dirs, bytes)
    }
}
