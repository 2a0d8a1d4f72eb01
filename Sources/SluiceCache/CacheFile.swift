#if canImport(Glibc)
import Glibc
#endif
import CZlib
import SluiceBase

/// One cached object on disk:
///
/// ```
/// 0   "SLC" 1
/// 4   CRC-32 (u32 BE) of the key bytes followed by the object bytes
/// 8   object length n (u32 BE)
/// 12  key length k (u32 BE)
/// 16  key (k bytes, UTF-8)
/// 16+k  the object as the backend stores it (n bytes)
/// ```
/// A whole read checks everything; a ranged read checks the magic, the key and the file size
/// (a truncated file) and leaves the bytes to the codec above, whose segment checksums or
/// authentication catch damage and report it through `ObjectStore.dropCachedCopy`.
enum CacheFile {
    static let headerSize = 16
    static let magic: [UInt8] = [0x53, 0x4C, 0x43, 0x01]
    /// Keys longer than this are not cached (block keys are about 50 bytes).
    static let maxKeyLength = 1024

    /// Why a cache file could not be read or written.
    enum Failure: Error {
        /// No such file: a plain miss.
        case missing
        /// The file is there but not a good copy of the object: drop it.
        case damaged
        /// The disk is full (ENOSPC, EDQUOT).
        case full
        /// The disk or directory failed (EIO, EROFS, EACCES, …): take the root out of service.
        case failed(String)
    }

    /// Bytes the file of an object takes on disk, rounded up to 4 KiB blocks.
    static func diskSize(key: String, objectLength: Int) -> Int {
        (headerSize + key.utf8.count + objectLength + 4095) & ~4095
    }

    static func crc(key: String, object: [UInt8]) -> UInt32 { crc(key: key, parts: [object]) }

    /// The CRC of the key followed by the object stored as `parts` one after the other.
    static func crc(key: String, parts: [[UInt8]]) -> UInt32 {
        var c = Array(key.utf8).withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, $0.count)) }
        for part in parts {
            c = part.withUnsafeBufferPointer { UInt32(crc32_z(UInt(c), $0.baseAddress, $0.count)) }
        }
        return c
    }

    static func header(key: String, parts: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + key.utf8.count)
        w.raw(magic)
        w.u32(crc(key: key, parts: parts))
        w.u32(UInt32(parts.reduce(0) { $0 + $1.count }))
        w.u32(UInt32(key.utf8.count))
        w.raw(Array(key.utf8))
        return w.bytes
    }

    /// The whole object, every check made.
    static func readWhole(path: String, key: String) throws(Failure) -> [UInt8] {
        let (fd, size) = try openFile(path)
        defer { close(fd) }
        let prefix = headerSize + key.utf8.count
        let head = try readAt(fd, offset: 0, count: min(size, prefix), path: path)
        let (length, _, crc) = try check(head, key: key, fileSize: size)
        let object = try readAt(fd, offset: prefix, count: length, path: path)
        guard object.count == length, Self.crc(key: key, object: object) == crc else { throw .damaged }
        return object
    }

    /// Bytes `offset ..< offset + length` of the object (to its end when nil), clipped to it.
    static func readRange(path: String, key: String, offset: Int, length: Int?) throws(Failure) -> [UInt8] {
        let (fd, size) = try openFile(path)
        defer { close(fd) }
        let prefix = headerSize + key.utf8.count
        // A range near the start (the codec's header and segment table) comes with the header
        // in one read.
        let near = length.map { offset + $0 <= 64 << 10 } ?? false
        let first = try readAt(fd, offset: 0, count: min(size, near ? prefix + offset + length! : prefix), path: path)
        let (objectLength, _, _) = try check(first, key: key, fileSize: size)
        let start = min(max(0, offset), objectLength)
        let end = length.map { min(objectLength, start + max(0, $0)) } ?? objectLength
        guard start < end else { return [] }
        if prefix + end <= first.count { return Array(first[(prefix + start)..<(prefix + end)]) }
        let data = try readAt(fd, offset: prefix + start, count: end - start, path: path)
        guard data.count == end - start else { throw .damaged }
        return data
    }

    /// Checks the header against the key and the file size; returns object length, key
    /// length and CRC.
    private static func check(_ file: [UInt8], key: String, fileSize: Int) throws(Failure) -> (Int, Int, UInt32) {
        guard file.count >= headerSize, Array(file[0..<4]) == magic else { throw .damaged }
        var r = ByteReader(file, at: 4)
        let crc = r.u32()
        let length = Int(r.u32())
        let keyLength = Int(r.u32())
        let keyBytes = Array(key.utf8)
        guard keyLength == keyBytes.count, file.count >= headerSize + keyLength,
              Array(file[headerSize..<(headerSize + keyLength)]) == keyBytes,
              fileSize == headerSize + keyLength + length else { throw .damaged }
        return (length, keyLength, crc)
    }

    private static func openFile(_ path: String) throws(Failure) -> (Int32, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw errno == ENOENT || errno == ENOTDIR ? .missing : failure("open", path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let f = failure("stat", path)
            close(fd)
            throw f
        }
        return (fd, Int(st.st_size))
    }

    private static func readAt(_ fd: Int32, offset: Int, count: Int, path: String) throws(Failure) -> [UInt8] {
        let (out, code) = FileIO.range(fd, offset: offset, count: count)
        if code != 0 {
            errno = code
            throw failure("read", path)
        }
        return out
    }

    /// Writes the file of `key` atomically (a temporary file renamed into place; no fsync:
    /// a cache file lost in a crash is a miss, a torn one fails its checks). Creates the
    /// bucket directory when missing.
    /// The object is given as `parts` stored one after the other (see `ObjectStore.put(_:parts:)`).
    static func write(path: String, directory: String, temp: String, key: String, parts: [[UInt8]]) throws(Failure) {
        var fd: Int32 = -1
        for attempt in 0..<2 {
            fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            if fd >= 0 { break }
            guard errno == ENOENT, attempt == 0 else { throw failure("create", temp) }
            if mkdir(directory, 0o700) != 0, errno != EEXIST { throw failure("mkdir", directory) }
        }
        var ok = false
        defer { if !ok { unlink(temp) } }
        do {
            defer { close(fd) }
            try writeAll(fd, header(key: key, parts: parts), path: temp)
            for part in parts { try writeAll(fd, part, path: temp) }
        }
        guard rename(temp, path) == 0 else { throw failure("rename", path) }
        ok = true
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(Failure) {
        let code = FileIO.writeAll(fd, [bytes])
        if code != 0 {
            errno = code
            throw failure("write", path)
        }
    }

    /// The failure for the errno a system call left.
    static func failure(_ op: String, _ path: String) -> Failure {
        let code = errno
        if code == ENOSPC || code == EDQUOT { return .full }
        return .failed("\(op) \(path): \(String(cString: strerror(code)))")
    }
}
