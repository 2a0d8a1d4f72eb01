import Glibc
import SluiceBase

/// Times FUSE requests for `OperationStats.fuse`. A libfuse worker thread handles one request at
/// a time, so the start time lives in a thread-local slot set when a callback first reaches
/// the VFS and read when it replies.
enum FuseTiming {
    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    @inline(__always) static func begin() {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: UInt(monotonicNanoseconds())))
    }

    @inline(__always) static func end() {
        guard let p = pthread_getspecific(key) else { return OperationStats.fuse.increment() }
        OperationStats.fuse.record(since: UInt64(UInt(bitPattern: p)))
        pthread_setspecific(key, nil)
    }
}
