import Foundation
import SluiceBase
import SluiceCache

/// The mount's local cache options (`--cache-dir`, `--cache-size`, `--free-space-ratio`,
/// `--writeback`, `--upload-delay`) checked and turned into a `LocalCacheConfig`.
enum LocalCacheOptions {
    /// The default cache root: a system directory for root, the user's cache directory otherwise.
    static var defaultRoot: String {
        if getuid() == 0 { return "/var/cache/sluice" }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()
        return home + "/.cache/sluice"
    }

    /// nil when neither a disk cache nor write-back is asked for.
    static func config(cacheDir: String?, cacheSize: String, freeSpaceRatio: Double, writeback: Bool,
                       uploadDelay: Double = 0, volumeUUID: String) throws -> LocalCacheConfig? {
        let capacity = try SizeOption.parse(cacheSize, unit: 1 << 20, name: "cache size", allowZero: true)
        guard freeSpaceRatio.isFinite, freeSpaceRatio >= 0, freeSpaceRatio < 1 else {
            throw UsageError("invalid --free-space-ratio \(freeSpaceRatio) (from 0 up to, not including, 1)")
        }
        let roots = (cacheDir ?? defaultRoot).split(separator: ":").map(String.init).filter { !$0.isEmpty }
        guard !roots.isEmpty else { throw UsageError("--cache-dir names no directory") }
        guard capacity > 0 || writeback else { return nil }
        return LocalCacheConfig(roots: roots.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                volumeUUID: volumeUUID, capacity: capacity,
                                freeSpaceRatio: freeSpaceRatio, writeback: writeback, uploadDelay: uploadDelay)
    }
}
