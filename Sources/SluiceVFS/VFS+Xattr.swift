import SluiceBase
import SluiceMeta

extension VFS {
    public func getxattr(_ ino: InodeNumber, _ name: [UInt8]) throws -> [UInt8] {
        try meta.getxattr(ino, name)
    }

    public func listxattr(_ ino: InodeNumber) throws -> [[UInt8]] {
        try meta.listxattr(ino)
    }

    public func setxattr(_ ino: InodeNumber, _ name: [UInt8], _ value: [UInt8], mode: XattrMode) throws {
        try checkWritable()
        try meta.setxattr(ino, name, value, mode: mode)
    }

    public func removexattr(_ ino: InodeNumber, _ name: [UInt8]) throws {
        try checkWritable()
        try meta.removexattr(ino, name)
    }
}
