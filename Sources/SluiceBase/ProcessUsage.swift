#if canImport(Glibc)
import Glibc
#endif

/// CPU time and memory of this process, as `sluice bench` reports them for a mount.
public enum ProcessUsage {
    /// User + system CPU seconds so far.
    public static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
            + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    /// Peak resident memory in bytes.
    public static func peakResidentBytes() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_maxrss * 1024
    }

    /// Current resident memory in bytes (the second field of /proc/self/statm, in pages).
    public static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, Int32(line.count), f) != nil else { return 0 }
        let fields = String(cString: line).split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `cpu SECONDS`, `rss BYTES` and `peak BYTES` lines.
    public static func render() -> String {
        "cpu \(cpuSeconds())\nrss \(residentBytes())\npeak \(peakResidentBytes())"
    }
}
