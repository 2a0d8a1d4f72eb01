import ArgumentParser
import Foundation
import SluiceBase
import SluiceFUSE

struct UmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "umount",
        abstract: "Unmount a volume and wait for its client to finish.")

    @Argument(help: "The mount point.")
    var mountPoint: String

    @Flag(name: .shortAndLong, help: "Detach even if busy (lazy unmount).")
    var force = false

    func run() throws {
        let path = URL(fileURLWithPath: mountPoint).standardizedFileURL.path
        guard MountTable.isMountPoint(path) else { throw UsageError("\(path) is not mounted") }
        let pid = MountPointControl.daemonPID(path)
        let tool = "/bin/fusermount3"
        let process = Process()
        if getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/bin/umount")
            process.arguments = force ? ["-l", path] : [path]
        } else {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = force ? ["-uz", path] : ["-u", path]
        }
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw UsageError("cannot unmount \(path) (busy? try --force)")
        }
        // The client commits nothing after unmount, but it closes its session and finishes
        // pending deletions: wait, with a bound, so that a remount sees a quiet volume.
        if let pid {
            let deadline = Date().addingTimeInterval(60)
            while Self.isRunning(pid) && Date() < deadline { usleep(10_000) }
        }
    }

    /// True while `pid` has not exited. A client that exited is a zombie until whoever adopted
    /// it (init, once `mount -d` returned) reaps it, which can take a while; kill(pid, 0) still
    /// finds zombies, so their state is read from /proc.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let nameEnd = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: nameEnd)...].split(separator: " ").first != "Z"
    }
}
