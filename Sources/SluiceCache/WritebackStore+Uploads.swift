import Foundation
import SluiceBase
import SluiceObject

extension WritebackStore {
    // MARK: - Start and stop

    /// Indexes and queues every object found staged: those an earlier run left behind. Each is
    /// due `uploadDelay` after it was staged, not after this start.
    func resume() throws {
        var found = try staging.scan()
        found.sort { $0.modified < $1.modified }
        // The same key in two roots (the roots changed between runs): the newer one counts.
        var newest: [String: Int] = [:]
        for (i, f) in found.enumerated() { newest[f.key] = i }
        for (i, f) in found.enumerated() where newest[f.key] != i {
            if let path = try? staging.path(root: f.root, key: f.key) { staging.remove(path, root: f.root) }
        }
        found = found.enumerated().filter { newest[$0.element.key] == $0.offset }.map(\.element)
        cond.lock()
        defer { cond.unlock() }
        for f in found {
            entries[f.key] = Entry(root: f.root, size: f.size, modified: Int64(f.modified), generation: 1,
                                   queued: true, uploading: false, deleted: false)
            enqueueLocked(f.key, due: f.modified + config.uploadDelay)
        }
        if !found.isEmpty {
            log.report("resuming the upload of \(found.count) staged objects", force: true)
        }
    }

    /// Lets uploads run, delay or not, until nothing is staged or `timeout` seconds have
    /// passed; then stops the upload threads (an upload under way finishes its current try).
    /// Whatever is still staged stays on disk and is uploaded at the next start. Puts after
    /// this go straight to the backend. Returns how many objects are left staged.
    @discardableResult
    public func shutdown(timeout: Double) -> Int {
        let deadline = Date(timeIntervalSinceNow: max(0, timeout))
        cond.lock()
        if stopped {
            defer { cond.unlock() }
            return entries.values.filter { !$0.deleted }.count
        }
        if timeout > 0 {
            draining = true
            cond.broadcast()
            while !entries.isEmpty && !stopped {
                if !cond.wait(until: deadline) { break }
            }
        }
        // Set in the same critical section as the last check: no upload starts after it.
        stopped = true
        cond.broadcast()
        let left = entries.values.filter { !$0.deleted }.count
        cond.unlock()
        if left > 0 {
            log.report("\(left) objects stay staged in \(staging.directories.joined(separator: ":")); "
                       + "they are uploaded at the next mount", force: true)
        }
        return left
    }

    /// Waits until nothing is staged or `timeout` seconds pass; whether nothing is. Uploads
    /// are not hurried: delayed objects stay delayed.
    public func waitUntilUploaded(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: max(0, timeout))
        cond.lock()
        defer { cond.unlock() }
        while !entries.isEmpty {
            if !cond.wait(until: deadline) { return entries.isEmpty }
        }
        return true
    }

    func enqueueLocked(_ key: String, due: Double) {
        queue.append((key, due))
        cond.broadcast()
    }

    // MARK: - Upload threads

    /// One upload thread: takes the next due key, uploads it, repeats until stopped.
    func uploadLoop() {
        while let next = nextUpload() {
            let uploaded = uploadWithRetries(next.key)
            finishUpload(next.key, generation: next.generation, uploaded: uploaded)
        }
    }

    /// Waits for the next due key and marks it uploading; nil once stopped.
    private func nextUpload() -> (key: String, generation: UInt64)? {
        cond.lock()
        defer { cond.unlock() }
        while true {
            if stopped { return nil }
            guard queueHead < queue.count else {
                cond.wait()
                continue
            }
            let (key, due) = queue[queueHead]
            let now = Date().timeIntervalSince1970
            if due > now && !draining {
                // The queue is in due order: every key is queued `uploadDelay` after it was
                // staged (queued again: restaged), so the head is the first due.
                _ = cond.wait(until: Date(timeIntervalSince1970: due))
                continue
            }
            queueHead += 1
            if queueHead > 1024 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            // Skipped: deleted since it was queued, or a stale slot of a key queued again.
            guard var entry = entries[key], entry.queued, !entry.deleted else { continue }
            entry.queued = false
            entry.uploading = true
            entries[key] = entry
            return (key, entry.generation)
        }
    }

    /// Reads the staged file and puts it to the backend, then syncs it there, retrying with
    /// capped exponential backoff until it works. False when there was nothing to upload any
    /// more (deleted meanwhile) or write-back stopped first.
    private func uploadWithRetries(_ key: String) -> Bool {
        var failures = 0
        while true {
            cond.lock()
            let entry = entries[key]
            let stop = stopped
            cond.unlock()
            guard let entry, !entry.deleted, !stop, let path = try? staging.path(root: entry.root, key: key) else {
                return false
            }
            do {
                let data: [UInt8]
                do {
                    data = try staging.read(path)
                } catch let e as Errno where e == .noSuchFileOrDirectory {
                    return false  // only a delete removes a file whose upload is in flight
                }
                try base.put(key, data)
                // The staging file is dropped next: the backend's copy must be durable first.
                try base.sync([key])
                if failures > 0 { log.report("uploaded \(key) after \(failures) failed tries") }
                return true
            } catch {
                failures += 1
                log.report("uploading \(key) failed (try \(failures)): \(error); retrying")
                let pause = min(config.maxRetryDelay, config.retryDelay * pow(2, Double(min(failures - 1, 30))))
                cond.lock()
                if !stopped { _ = cond.wait(until: Date(timeIntervalSinceNow: pause)) }
                cond.unlock()
            }
        }
    }

    /// After an upload: drops the staging file when the uploaded version is still the newest,
    /// queues the key again when a newer one was staged meanwhile, and deletes the uploaded
    /// copy from the backend when the object was deleted meanwhile.
    private func finishUpload(_ key: String, generation: UInt64, uploaded: Bool) {
        while true {
            cond.lock()
            guard let entry = entries[key] else {
                cond.unlock()
                return
            }
            if entry.deleted {
                cond.unlock()
                // Not under the key lock: a backend call may take long.
                if uploaded { deleteFromBackend(key) }
                cond.lock()
                // A put may have revived the key while the lock was released above.
                if var again = entries[key] {
                    again.uploading = false
                    if again.deleted {
                        entries[key] = nil
                    } else {
                        again.queued = true
                        entries[key] = again
                        enqueueLocked(key, due: Date().timeIntervalSince1970 + config.uploadDelay)
                    }
                }
                cond.broadcast()
                cond.unlock()
                return
            }
            cond.unlock()
            let done: Bool = keyLocks.withLock(key) {
                cond.lock()
                guard var entry = entries[key] else {
                    cond.unlock()
                    return true
                }
                if entry.deleted {
                    cond.unlock()
                    return false  // deleted in between: the branch above handles it
                }
                entry.uploading = false
                if !uploaded || entry.generation != generation {
                    // Stopped before it was done, or a newer version to upload: queue it again.
                    entry.queued = true
                    entries[key] = entry
                    enqueueLocked(key, due: Date().timeIntervalSince1970 + config.uploadDelay)
                    cond.unlock()
                    return true
                }
                cond.unlock()
                // Under the key lock, no put or delete of the key runs: the file is the one
                // uploaded. Removed before the entry, so that once the index is empty so is
                // the disk (a read in between falls back to the backend, which has it).
                if let path = try? staging.path(root: entry.root, key: key) { staging.remove(path, root: entry.root) }
                cond.lock()
                entries[key] = nil
                cond.broadcast()
                cond.unlock()
                return true
            }
            if done { return }
        }
    }

    /// Deletes an object whose upload raced its deletion, retrying until it works (or
    /// write-back stops: then it is garbage for `gc`, unreferenced by any file).
    private func deleteFromBackend(_ key: String) {
        var failures = 0
        while !isStopped {
            do {
                try base.delete(key)
                return
            } catch {
                failures += 1
                log.report("deleting \(key) after its upload failed (try \(failures)): \(error); retrying")
                let pause = min(config.maxRetryDelay, config.retryDelay * pow(2, Double(min(failures - 1, 30))))
                cond.lock()
                if !stopped { _ = cond.wait(until: Date(timeIntervalSinceNow: pause)) }
                cond.unlock()
            }
        }
    }
}

/// Log lines about uploads, at most one a minute (with a count of those left out), so that a
/// backend outage does not flood the log while every upload retries.
final class RareLog: Sendable {
    private let state = Locked<(last: Double, skipped: Int)>((-Double.infinity, 0))
    static let interval = 60.0

    func report(_ message: String, force: Bool = false) {
        let now = Date().timeIntervalSince1970
        let skipped: Int? = state.withLock { s in
            guard force || now - s.last >= Self.interval else {
                s.skipped += 1
                return nil
            }
            defer {
                s.last = now
                s.skipped = 0
            }
            return s.skipped
        }
        guard let skipped else { return }
        let more = skipped > 0 ? " (\(skipped) similar messages left out)" : ""
        let bytes = Array("sluice: write-back: \(message)\(more)\n".utf8)
        bytes.withUnsafeBytes { _ = Foundation.write(2, $0.baseAddress, $0.count) }
    }
}
