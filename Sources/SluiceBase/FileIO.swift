#if canImport(Glibc)
import Glibc
#endif

/// Whole-range reads and writes of file descriptors, retried on EINTR, for the stores that keep
/// objects in local files.
public enum FileIO {
    /// Up to `count` bytes of `fd` from `offset`, filled straight by pread(2) (no zeroing pass
    /// over what may be a 4 MiB block) and retried on EINTR. Fewer bytes come back only at the
    /// end of the file; on a failed read, `error` is its errno and `bytes` what came before it.
    public static func range(_ fd: Int32, offset: Int, count: Int) -> (bytes: [UInt8], error: Int32) {
        var failed: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: max(0, count)) { buf, filled in
            var done = 0
            while done < buf.count {
                let n = pread(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = errno
                    break
                }
                if n == 0 { break }
                done += n
            }
            filled = done
        }
        return (bytes, failed)
    }

    /// Writes all of `parts`, one after the other, at the file's position. 0, or the errno of
    /// the write that failed.
    public static func writeAll(_ fd: Int32, _ parts: [[UInt8]]) -> Int32 {
        for part in parts {
            let failed: Int32 = part.withUnsafeBytes { buf in
                var done = 0
                while done < buf.count {
                    let n = write(fd, buf.baseAddress! + done, buf.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    done += n
                }
                return 0
            }
            if failed != 0 { return failed }
        }
        return 0
    }
}
