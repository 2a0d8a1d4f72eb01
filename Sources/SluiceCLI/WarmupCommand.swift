import ArgumentParser
import Foundation
import SluiceBase
import SluiceFUSE

/// `sluice warmup PATH…`: fetches the data of files (directories: every file below them) into
/// the mount's local caches ahead of use. The mount does the fetching (the `sluice.warmup`
/// virtual attribute); this command walks the paths and asks for each file in 64 MiB pieces,
/// several at a time, with a progress bar by bytes.
struct WarmupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warmup",
        abstract: "Fetch files (and everything below directories) into the mount's local cache ahead of use.")

    @Argument(help: "Files or directories on a mounted Sluice volume.")
    var paths: [String]

    @Option(name: [.customShort("p"), .long], help: "Pieces fetched at the same time.")
    var threads = 4

    /// The size of one request to the mount: a chunk, so each covers whole blocks.
    static let piece = UInt64(Layout.chunkSize)

    func run() throws {
        guard threads >= 1 && threads <= 64 else { throw UsageError("invalid --threads \(threads) (1 to 64)") }
        var files: [(path: String, size: UInt64)] = []
        for path in paths {
            var st = stat()
            guard lstat(path, &st) == 0 else { throw UsageError("\(path): \(String(cString: strerror(errno)))") }
            guard MountPointControl.metaURL(path) != nil else { throw UsageError("\(path) is not on a mounted Sluice volume") }
            try collect(path, &files)
        }
        var pieces: [(file: Int, offset: UInt64, length: UInt64)] = []
        for (i, f) in files.enumerated() {
            var offset: UInt64 = 0
            while offset < f.size {
                pieces.append((i, offset, min(Self.piece, f.size - offset)))
                offset += Self.piece
            }
        }
        let total = files.reduce(0) { $0 + $1.size }
        let work = pieces.map { (path: files[$0.file].path, file: $0.file, offset: $0.offset, length: $0.length) }
        let bar = ProgressBar(title: "Warming up", total: Int(clamping: total))
        let next = Locked(0)
        let failed = Locked<[Int: String]>([:])
        let started = Date()
        let group = DispatchGroup()
        for _ in 0..<min(threads, max(1, work.count)) {
            group.enter()
            let worker = Thread {
                defer { group.leave() }
                while true {
                    let i = next.withLock { n -> Int in
                        defer { n += 1 }
                        return n
                    }
                    guard i < work.count else { return }
                    let p = work[i]
                    if failed.withLock({ $0[p.file] != nil }) {
                        bar.advance(Int(p.length))
                        continue
                    }
                    do {
                        _ = try MountPointControl.warmup(p.path, offset: p.offset, length: p.length)
                    } catch {
                        failed.withLock { if $0[p.file] == nil { $0[p.file] = "\(error)" } }
                    }
                    bar.advance(Int(p.length))
                }
            }
            worker.start()
        }
        group.wait()
        bar.finish()
        let problems = failed.withLock { $0 }
        for (file, message) in problems.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("sluice: warmup \(files[file].path): \(message)\n".utf8))
        }
        let seconds = Date().timeIntervalSince(started)
        print("warmed up \(files.count - problems.count) file(s), \(ByteSize.format(Int(clamping: total))) in "
              + String(format: "%.1f s", seconds))
        if !problems.isEmpty { throw UsageError("\(problems.count) file(s) could not be warmed up") }
    }

    /// Adds `path` if it is a regular file, or every regular file below it if it is a
    /// directory (symbolic links are not followed).
    private func collect(_ path: String, _ files: inout [(path: String, size: UInt64)]) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }  // removed meanwhile
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            files.append((path, UInt64(st.st_size)))
        case S_IFDIR:
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
                throw UsageError("\(path): cannot list the directory")
            }
            for name in names.sorted() { try collect(path + "/" + name, &files) }
        default:
            break
        }
    }
}
