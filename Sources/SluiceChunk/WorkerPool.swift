import Foundation

/// A few dedicated threads running blocking jobs (object store calls) in submission order.
///
/// Object stores block on disk or network I/O, which must never run on Swift's cooperative
/// pool, so uploads and prefetches get threads of their own. Threads start on demand up to
/// `maxThreads` and then stay, idle on a condition variable, until `shutdown`.
final class WorkerPool: @unchecked Sendable {
    // @unchecked: every var below is only touched while `cond` is locked.
    private let cond = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var threads = 0
    private var idle = 0
    private var stopping = false

    let name: String
    let maxThreads: Int
    /// Jobs waiting beyond this many are refused (`submit` returns false); nil = unbounded.
    let maxQueued: Int?

    init(name: String, maxThreads: Int, maxQueued: Int? = nil) {
        self.name = name
        self.maxThreads = max(1, maxThreads)
        self.maxQueued = maxQueued
    }

    /// Queues a job; false when the queue is full or the pool is shut down.
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        cond.lock()
        let waiting = jobs.count - head
        if stopping || (maxQueued.map { waiting >= $0 } ?? false) {
            cond.unlock()
            return false
        }
        jobs.append(job)
        let spawn = waiting + 1 > idle && threads < maxThreads
        if spawn { threads += 1 }
        cond.signal()
        cond.unlock()
        if spawn {
            let thread = Thread { [self] in self.work() }
            thread.name = name
            thread.start()
        }
        return true
    }

    /// Lets the threads exit once the queued jobs are done; later submits are refused.
    func shutdown() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    /// Jobs queued and not yet started.
    var queued: Int {
        cond.lock()
        defer { cond.unlock() }
        return jobs.count - head
    }

    private func work() {
        while true {
            cond.lock()
            while head == jobs.count, !stopping {
                idle += 1
                cond.wait()
                idle -= 1
            }
            if head == jobs.count {
                threads -= 1
                cond.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            // Compact now and then so the array does not grow without bound.
            if head >= 64, head * 2 >= jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            cond.unlock()
            job()
        }
    }
}
