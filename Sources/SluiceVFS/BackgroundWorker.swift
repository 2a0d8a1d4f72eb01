import Foundation
import SluiceBase
import SluiceChunk
import SluiceMeta

/// One thread of background upkeep: deletes objects of slices nothing references any more,
/// compacts chunks with long slice lists, keeps the session's heartbeat fresh and empties the
/// trash of expired hours. It runs on its own thread because all of this is blocking I/O.
final class BackgroundWorker: @unchecked Sendable {
    // @unchecked: `state` is guarded by `condition`.
    private let meta: MetaClient
    private let chunks: ChunkStore
    private let condition = NSCondition()
    private var running = false
    private var stopped = true
    private var woken = false
    private var compactions: [(InodeNumber, UInt32)] = []
    /// Held while a batch of work runs, so that `runPendingWorkNow` can wait for a batch the
    /// thread already took. Taken before `condition`, never the other way round.
    private let workLock = NSLock()
    private weak var vfs: VFS?
    private var thread: Thread?

    /// Seconds between heartbeats and idle sweeps for due deletions with the default timeout.
    static let interval: TimeInterval = 5

    /// Seconds without a heartbeat after which a session counts as dead.
    let sessionTimeout: Double

    /// Seconds between heartbeats: 5, or a quarter of a short session timeout, so that a live
    /// client always beats several times within the timeout and is never taken for dead.
    let beatInterval: TimeInterval

    /// Seconds between sweeps for dead sessions: about once a minute, or half a short session
    /// timeout, so that a dead client is cleaned up within about 1.5 timeouts.
    let sweepInterval: TimeInterval

    init(meta: MetaClient, chunks: ChunkStore, sessionTimeout: Double) {
        self.meta = meta
        self.chunks = chunks
        self.sessionTimeout = sessionTimeout
        beatInterval = min(Self.interval, max(0.1, sessionTimeout / 4))
        sweepInterval = min(60, max(0.1, sessionTimeout / 2))
    }

    func start(vfs: VFS) {
        condition.lock()
        defer { condition.unlock() }
        guard !running else { return }
        self.vfs = vfs
        running = true
        stopped = false
        let t = Thread { [self] in loop() }
        t.name = "sluice-background"
        thread = t
        t.start()
    }

    func stop() {
        condition.lock()
        guard running else {
            condition.unlock()
            return
        }
        running = false
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
        // Whatever is still due goes now, so that a clean unmount leaves no garbage behind.
        runDeletions()
    }

    func wake() {
        condition.lock()
        woken = true
        condition.signal()
        condition.unlock()
    }

    func compact(_ ino: InodeNumber, _ chunk: UInt32) {
        condition.lock()
        if !compactions.contains(where: { $0 == (ino, chunk) }) { compactions.append((ino, chunk)) }
        woken = true
        condition.signal()
        condition.unlock()
    }

    func report(_ message: String) {
        FileHandleOutput.standardError("sluice: \(message)")
    }

    private func loop() {
        var lastBeat = monotonicNanoseconds()
        while true {
            condition.lock()
            if running && !woken { _ = condition.wait(until: Date(timeIntervalSinceNow: beatInterval)) }
            woken = false
            let keepGoing = running
            condition.unlock()
            runBatch()
            if monotonicNanoseconds() - lastBeat >= UInt64(beatInterval * 1e9) {
                lastBeat = monotonicNanoseconds()
                do { try meta.heartbeat() } catch { report("heartbeat failed: \(error)") }
                cleanStaleSessions()
                emptyTrash()
            }
            if !keepGoing { break }
        }
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private var lastSessionSweep: UInt64 = 0

    /// Every `sweepInterval`, any client removes sessions of clients that stopped beating.
    private func cleanStaleSessions() {
        guard monotonicNanoseconds() - lastSessionSweep >= UInt64(sweepInterval * 1e9) || lastSessionSweep == 0 else { return }
        lastSessionSweep = monotonicNanoseconds()
        do {
            for s in try meta.cleanStaleSessions(maxAge: sessionTimeout) {
                report("removed stale session \(s.id) of \(s.hostName) pid \(s.processID) (\(s.mountPoint))")
            }
        } catch {
            report("cleaning stale sessions failed: \(error)")
        }
    }

    private var lastTrashSweep: UInt64 = 0

    /// About once an hour, any client deletes the trash's hourly directories older than the
    /// volume's trash days (their slices join the deletion queue like any deleted file's).
    private func emptyTrash() {
        guard monotonicNanoseconds() - lastTrashSweep > 3_600_000_000_000 || lastTrashSweep == 0 else { return }
        lastTrashSweep = monotonicNanoseconds()
        do {
            let days = try meta.settings().trashDays
            guard days > 0 else { return }
            let removed = try meta.emptyTrash(olderThan: Date(timeIntervalSinceNow: -Double(days) * 86400))
            if removed > 0 { wake() }
        } catch {
            report("emptying the trash failed: \(error)")
        }
    }

    /// Runs the queued compactions and due deletions.
    private func runBatch() {
        workLock.lock()
        defer { workLock.unlock() }
        condition.lock()
        let work = compactions
        compactions.removeAll()
        condition.unlock()
        for (ino, chunk) in work { compactChunk(ino, chunk) }
        runDeletions()
    }

    /// Test hook: runs every compaction queued and every deletion due before the call, on the
    /// calling thread, after waiting for a batch the background thread is running. Lets tests
    /// observe background effects deterministically instead of polling.
    func runPendingWorkNow() { runBatch() }

    func runDeletions() {
        while true {
            guard let due = try? meta.pendingSliceDeletions(limit: 256), !due.isEmpty else { return }
            var done: [(id: SliceID, size: UInt32)] = []
            for s in due {
                do {
                    try chunks.remove(slice: s.id, size: s.size)
                    done.append(s)
                } catch {
                    report("deleting objects of slice \(s.id) failed: \(error)")
                }
            }
            do { try meta.confirmSliceDeletions(done) } catch { report("recording deletions failed: \(error)"); return }
            if done.count < due.count || due.count < 256 { return }
        }
    }

    private func compactChunk(_ ino: InodeNumber, _ index: UInt32) {
        do {
            try vfs?.compact(ino, chunk: index)
        } catch Errno.noSuchFileOrDirectory {
            return
        } catch {
            report("compacting chunk \(index) of inode \(ino) failed: \(error)")
        }
    }
}

/// Writes a line to standard error without going through buffered stdio.
enum FileHandleOutput {
    static func standardError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = Foundation.write(2, $0.baseAddress, $0.count) }
    }
}
