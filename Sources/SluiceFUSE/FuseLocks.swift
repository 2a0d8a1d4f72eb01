import CFUSE
import Foundation
import Glibc
import SluiceBase
import SluiceVFS

/// flock and fcntl locks. A request that must wait (F_SETLKW, flock without LOCK_NB) is not
/// held on the FUSE worker thread: it is handed to `LockWaiter`, whose own thread retries it
/// and replies when the lock is granted or the caller is interrupted (libfuse lets any thread
/// reply).
enum FuseLocks {
    static func install(_ ops: inout fuse_lowlevel_ops) {
        ops.getlk = { req, _, fi, lock in
            do {
                let l = lock!.pointee
                let probe = FuseLocks.range(l, pid: callerOf(req).pid)
                var reply = l
                if let holder = try vfsOf(req).getlk(fi!.pointee.fh, owner: fi!.pointee.lock_owner, probe: probe) {
                    reply.l_type = Int16(holder.kind == .write ? F_WRLCK : F_RDLCK)
                    reply.l_start = Int(holder.start)
                    reply.l_len = holder.end == .max ? 0 : Int(holder.end - holder.start + 1)
                    reply.l_pid = Int32(bitPattern: holder.pid)
                } else {
                    reply.l_type = Int16(F_UNLCK)
                }
                FuseTiming.end()
                fuse_reply_lock(req, &reply)
            } catch { FuseReply.error(req, error) }
        }
        ops.setlk = { req, _, fi, lock, sleep in
            let vfs = vfsOf(req)
            let fh = fi!.pointee.fh, owner = fi!.pointee.lock_owner
            let range = FuseLocks.range(lock!.pointee, pid: callerOf(req).pid)
            let attempt: @Sendable () throws -> Void = { try vfs.setlk(fh, owner: owner, lock: range) }
            FuseLocks.run(req, attempt, wait: sleep != 0)
        }
        ops.flock = { req, _, fi, op in
            let vfs = vfsOf(req)
            let fh = fi!.pointee.fh, owner = fi!.pointee.lock_owner, pid = callerOf(req).pid
            let kind: RangeLock.Kind = op & LOCK_UN != 0 ? .unlock : op & LOCK_EX != 0 ? .write : .read
            let attempt: @Sendable () throws -> Void = { try vfs.flock(fh, owner: owner, kind: kind, pid: pid) }
            FuseLocks.run(req, attempt, wait: op & LOCK_NB == 0 && kind != .unlock)
        }
    }

    static func range(_ l: flock, pid: UInt32) -> RangeLock {
        let kind: RangeLock.Kind = Int32(l.l_type) == F_WRLCK ? .write : Int32(l.l_type) == F_RDLCK ? .read : .unlock
        let start = UInt64(max(0, l.l_start))
        let end = l.l_len <= 0 ? UInt64.max : start + UInt64(l.l_len) - 1
        return RangeLock(kind: kind, start: start, end: end, pid: l.l_pid > 0 ? UInt32(l.l_pid) : pid)
    }

    static func run(_ req: fuse_req_t?, _ attempt: @escaping @Sendable () throws -> Void, wait: Bool) {
        do {
            try attempt()
            FuseReply.ok(req)
        } catch Errno.resourceTemporarilyUnavailable where wait {
            LockWaiter.shared.enqueue(RequestHandle(req), attempt)
        } catch {
            FuseReply.error(req, error)
        }
    }
}

/// A FUSE request pointer carried to the waiter thread; libfuse allows replying from any thread.
struct RequestHandle: @unchecked Sendable {
    let req: fuse_req_t?
    init(_ req: fuse_req_t?) { self.req = req }
}

/// Retries waiting lock requests on its own thread until granted, failed or interrupted.
final class LockWaiter: @unchecked Sendable {
    // @unchecked: `pending` is guarded by `condition`.
    static let shared = LockWaiter()
    private let condition = NSCondition()
    private var pending: [(RequestHandle, @Sendable () throws -> Void)] = []
    private var started = false

    func enqueue(_ req: RequestHandle, _ attempt: @escaping @Sendable () throws -> Void) {
        condition.lock()
        pending.append((req, attempt))
        if !started {
            started = true
            let t = Thread { [self] in loop() }
            t.name = "sluice-lock-waiter"
            t.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let batch = pending
            pending.removeAll()
            condition.unlock()
            var still: [(RequestHandle, @Sendable () throws -> Void)] = []
            for (req, attempt) in batch {
                if fuse_req_interrupted(req.req) != 0 {
                    FuseReply.error(req.req, Errno.interrupted)
                    continue
                }
                do {
                    try attempt()
                    FuseReply.ok(req.req)
                } catch Errno.resourceTemporarilyUnavailable {
                    still.append((req, attempt))
                } catch {
                    FuseReply.error(req.req, error)
                }
            }
            condition.lock()
            pending.append(contentsOf: still)
            // Locks held by other clients change without telling us: look again shortly.
            if !still.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: 0.01)) }
            condition.unlock()
        }
    }
}
