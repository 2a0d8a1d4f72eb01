import CFUSE
import Glibc
import SluiceBase

/// Reads what a mounted client tells about itself through the virtual extended attributes it
/// answers (see `FuseXattr`).
public enum MountPointControl {
    /// The metadata URL of the volume `path` lives on, or nil when it is not on a Sluice mount.
    public static func metaURL(_ path: String) -> String? { attribute(path, "sluice.meta") }

    /// The process id of the client serving `path`.
    public static func daemonPID(_ path: String) -> pid_t? { attribute(path, "sluice.pid").flatMap { pid_t($0) } }

    /// The client's operation counters and process usage (see `OperationStats.render`).
    public static func stats(_ path: String) -> String? { attribute(path, "sluice.stats") }

    /// Asks the client to fetch bytes `offset ..< offset + length` of the file at `path` into
    /// its caches; returns the file bytes covered, or throws the errno the mount answered.
    public static func warmup(_ path: String, offset: UInt64, length: UInt64) throws -> UInt64 {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = getxattr(path, "sluice.warmup:\(offset):\(length)", &buffer, buffer.count)
        guard n >= 0 else { throw Errno(rawValue: errno) }
        guard let done = UInt64(String(decoding: buffer[0..<n], as: UTF8.self)) else { throw Errno.ioError }
        return done
    }

    static func attribute(_ path: String, _ name: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = getxattr(path, name, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
