import CFUSE
import Glibc

/// Reads what a mounted client tells about itself through the virtual extended attributes it
/// answers (see `FuseXattr`).
public enum MountPointControl {
    /// The metadata URL of the volume `path` lives on, or nil when it is not on a Sluice mount.
    public static func metaURL(_ path: String) -> String? { attribute(path, "sluice.meta") }

    /// The process id of the client serving `path`.
    public static func daemonPID(_ path: String) -> pid_t? { attribute(path, "sluice.pid").flatMap { pid_t($0) } }

    /// The client's operation counters and process usage (see `OperationStats.render`).
    public static func stats(_ path: String) -> String? { attribute(path, "sluice.stats") }

    static func attribute(_ path: String, _ name: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = getxattr(path, name, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
