import Foundation
import XCTest
import SluiceBase
import SluiceMeta
import SluiceObject
import SluiceTestSupport
@testable import SluiceVFS

func fileName(_ s: String) -> [UInt8] { Array(s.utf8) }

/// open(2) flags as the FUSE layer passes them.
enum Flags {
    static let readOnly = OpenFlags(raw: 0)
    static let writeOnly = OpenFlags(raw: 1)
    static let readWrite = OpenFlags(raw: 2)
    static let truncate = OpenFlags(raw: 2 | 0o1000)
}

/// The file as the application expects it: plain bytes.
struct FileModel {
    var bytes: [UInt8] = []

    mutating func write(_ data: [UInt8], at offset: Int) {
        if bytes.count < offset + data.count { bytes += [UInt8](repeating: 0, count: offset + data.count - bytes.count) }
        bytes.replaceSubrange(offset..<(offset + data.count), with: data)
    }

    mutating func truncate(_ size: Int) {
        if size < bytes.count {
            bytes.removeSubrange(size...)
        } else {
            bytes += [UInt8](repeating: 0, count: size - bytes.count)
        }
    }

    func slice(_ offset: Int, _ count: Int) -> [UInt8] {
        guard offset < bytes.count else { return [] }
        return Array(bytes[offset..<min(bytes.count, offset + count)])
    }
}

/// A formatted volume and a started VFS over it; `close()` shuts the VFS down.
final class TestVolume: Sendable {
    let meta: MetaClient
    let store: any ObjectStore
    let vfs: VFS

    init(blockSize: Int = Layout.defaultBlockSize, config: VFSConfig = VFSConfig(),
         engine: any KVEngine = MemoryEngine(), store: any ObjectStore = MemoryStore()) throws {
        meta = MetaClient(engine: engine)
        try meta.format(VolumeSettings(name: "t", storage: "mem", bucket: UUID().uuidString, blockSize: blockSize), force: false)
        self.store = store
        vfs = VFS(meta: meta, store: store, settings: try meta.settings(), config: config)
        vfs.start()
    }

    func close() { vfs.shutdown() }

    var objectCount: Int { (store as? MemoryStore)?.count ?? -1 }

    /// Creates `file` in the root, open read-write.
    func create(_ file: String, flags: OpenFlags = Flags.readWrite) throws -> (fh: UInt64, ino: InodeNumber) {
        let (fh, entry) = try vfs.create(.root, fileName(file), permissions: FilePermissions(rawValue: 0o644),
                                         flags: flags, by: .root)
        return (fh, entry.inode)
    }

    func open(_ ino: InodeNumber, _ flags: OpenFlags = Flags.readWrite) throws -> UInt64 {
        try vfs.open(ino, flags: flags).0
    }

    func write(_ fh: UInt64, _ data: [UInt8], at offset: Int) throws {
        let n = try data.withUnsafeBytes { try vfs.write(fh, offset: UInt64(offset), data: $0) }
        XCTAssertEqual(n, data.count)
    }

    func read(_ fh: UInt64, _ offset: Int, _ count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0xEE, count: count)
        let n = try buffer.withUnsafeMutableBytes { try vfs.read(fh, offset: UInt64(offset), into: $0) }
        return Array(buffer[0..<n])
    }

    func size(_ ino: InodeNumber) throws -> Int { Int(try vfs.getattr(ino).attributes.size) }

    /// Reads the whole file through `fh` in pieces of `step` bytes.
    func readAll(_ fh: UInt64, step: Int = 1 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let piece = try read(fh, out.count, step)
            if piece.isEmpty { return out }
            out += piece
        }
    }
}

/// Asserts that two byte arrays are equal, reporting the first difference rather than both.
func assertBytes(_ got: [UInt8], _ want: [UInt8], _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    if got == want { return }
    let first = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
    XCTFail("\(message) bytes differ: got \(got.count) bytes, want \(want.count), first difference at \(first)", file: file, line: line)
}

func assertErrno(_ expected: Errno, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected \(expected), got success", file: file, line: line)
    } catch let e as Errno {
        XCTAssertEqual(e, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}
