import ArgumentParser
import Foundation
import SluiceBase
import SluiceChunk
import SluiceMeta
import SluiceObject
import SluiceVFS

struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check that every slice's objects exist (and with --verify, are intact); report damaged files by path.")

    @Argument(help: "Metadata engine URL.")
    var metaURL: String

    @Flag(help: "Read every object and verify its checksum (slow: reads all data).")
    var verify = false

    @Option(name: .customLong("encrypt-rsa-key"), help: ArgumentHelp(
        "The RSA private key (PEM; if passphrase-protected, the passphrase in SLUICE_RSA_PASSPHRASE) of an encrypted volume, needed by --verify (default: SLUICE_RSA_KEY_FILE).",
        valueName: "PEM_FILE"))
    var encryptRsaKey: String?

    func run() throws {
        // Checking lengths reads only headers, which need no key; --verify opens every block.
        let volume = try OfflineVolume(metaURL: metaURL, keyOption: encryptRsaKey, needsPrivateKey: verify)
        defer { volume.close() }
        let (meta, store, layout) = (volume.meta, volume.store, volume.layout)

        var checked = Set<UInt64>()
        var broken: [InodeNumber: [String]] = [:]
        var objects = 0
        try meta.forEachChunk { ino, _, slices in
            for s in slices where !s.id.isHole {
                // A slice shared by several entries or files is checked once, reported for each.
                let firstTime = checked.insert(s.id.rawValue).inserted
                for key in layout.keys(slice: s.id, size: Int(s.size)) {
                    if firstTime { objects += 1 }
                    if let problem = problem(key, store: store, expected: layout.parse(key)!.length) {
                        broken[ino, default: []].append("\(key): \(problem)")
                    }
                }
            }
        }
        let paths = try meta.paths(of: Set(broken.keys))
        for (ino, problems) in broken.sorted(by: { $0.key < $1.key }) {
            let names = paths[ino]?.joined(separator: ", ") ?? "(inode \(ino), no name: open-unlinked or being deleted)"
            print("damaged: \(names)")
            for p in problems { print("  \(p)") }
        }
        print("checked \(checked.count) slices in \(objects) objects: \(broken.count) damaged files")
        if !broken.isEmpty { throw ExitCode(2) }
    }

    private func problem(_ key: String, store: any ObjectStore, expected: Int) -> String? {
        do {
            if verify {
                let data = try store.get(key, offset: 0, length: nil)
                return data.count == expected ? nil : "length \(data.count), expected \(expected)"
            }
            guard let info = try store.head(key) else { return "missing" }
            return info.size == expected ? nil : "length \(info.size), expected \(expected)"
        } catch Errno.noSuchFileOrDirectory {
            return "missing"
        } catch Errno.ioError {
            return "damaged (checksum or format)"
        } catch {
            return "unreadable: \(error)"
        }
    }
}
