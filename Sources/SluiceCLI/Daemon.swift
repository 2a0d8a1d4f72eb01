import Foundation
import SluiceBase

/// `mount -d`: the command starts itself again as a detached child and returns once the child
/// reports the file system mounted (or prints the child's error and fails).
///
/// Forking a process that already runs threads is unsafe, so the child is a fresh exec of the
/// same binary. It writes its errors and a final ready line to a pipe the parent reads; once
/// mounted, it points its output at the log file.
enum Daemon {
    static let readyEnvironment = "SLUICE_DAEMON_CHILD"
    static let readyLine = "SLUICE-MOUNTED"

    static var defaultLogPath: String {
        if getuid() == 0 { return "/var/log/sluice.log" }
        return (ProcessInfo.processInfo.environment["HOME"] ?? "/tmp") + "/.sluice/sluice.log"
    }

    static func spawnAndWait(logPath: String) throws -> Never {
        let pipe = Pipe()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = Array(CommandLine.arguments.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env[readyEnvironment] = logPath
        child.environment = env
        child.standardOutput = pipe
        child.standardError = pipe
        child.standardInput = FileHandle.nullDevice
        try child.run()
        pipe.fileHandleForWriting.closeFile()
        var output = Data()
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
            if let text = String(data: output, encoding: .utf8), text.contains(readyLine) {
                let before = text.components(separatedBy: readyLine)[0]
                if !before.isEmpty { FileHandle.standardError.write(Data(before.utf8)) }
                Foundation.exit(0)
            }
        }
        child.waitUntilExit()
        FileHandle.standardError.write(output)
        Foundation.exit(child.terminationStatus == 0 ? 1 : child.terminationStatus)
    }

    /// In a background child: detach from the terminal, tell the waiting parent, then send all
    /// further output to the log.
    static func reportReady() {
        guard let logPath = ProcessInfo.processInfo.environment[readyEnvironment] else { return }
        setsid()
        let line = readyLine + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        try? FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let target = fd >= 0 ? fd : open("/dev/null", O_WRONLY)
        dup2(target, 1)
        dup2(target, 2)
        if target > 2 { close(target) }
        signal(SIGHUP, SIG_IGN)
    }
}
