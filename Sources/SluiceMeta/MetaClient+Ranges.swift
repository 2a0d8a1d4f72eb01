import SluiceBase

/// fallocate(2) modes Sluice implements.
public struct FallocateMode: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let keepSize = FallocateMode(rawValue: 0x01)
    public static let punchHole = FallocateMode(rawValue: 0x02)
    public static let zeroRange = FallocateMode(rawValue: 0x10)
}

extension MetaClient {
    /// fallocate: plain and KEEP_SIZE reserve nothing (objects are written on demand) but may
    /// extend the length; PUNCH_HOLE and ZERO_RANGE cover the range with a hole so it reads
    /// zeros. No object is touched.
    public func fallocate(_ ino: InodeNumber, mode: FallocateMode, offset: UInt64, length: UInt64) throws -> InodeAttributes {
        guard length > 0 else { throw Errno.invalidArgument }
        let known: FallocateMode = [.keepSize, .punchHole, .zeroRange]
        guard known.contains(mode) else { throw Errno.notSupported }
        if mode.contains(.punchHole) && !mode.contains(.keepSize) { throw Errno.notSupported }
        if mode.contains(.punchHole) && mode.contains(.zeroRange) { throw Errno.notSupported }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= UInt64(Int64.max) else { throw Errno.fileTooLarge }
        return try engine.write { tx in
            var attr = try Self.attr(ino, in: tx)
            guard attr.type == .regular else { throw attr.type == .directory ? Errno.isDirectory : Errno.operationNotSupportedByDevice }
            let now = Timespec.now()
            if mode.contains(.punchHole) || mode.contains(.zeroRange) {
                // Only what lies inside the file needs covering: past the end reads zeros anyway.
                let holeEnd = min(end, attr.size)
                if offset < holeEnd { try appendHoles(ino, from: offset, to: holeEnd, in: tx) }
                attr.mtime = now
            }
            if !mode.contains(.keepSize) && end > attr.size {
                try tx.increment(MetaKeys.usedSpace, by: Self.spaceOf(end) - Self.spaceOf(attr.size))
                attr.size = end
            }
            attr.ctime = now
            try Self.put(ino, attr, in: tx)
            return attr
        }
    }

    /// Appends hole entries over [from, to) of the file, chunk by chunk.
    func appendHoles(_ ino: InodeNumber, from: UInt64, to: UInt64, in tx: any KVTransaction) throws {
        let chunk = UInt64(Layout.chunkSize)
        var pos = from
        while pos < to {
            let index = UInt32(pos / chunk)
            let start = UInt32(pos % chunk)
            let stop = UInt32(min(chunk, to - UInt64(index) * chunk))
            let key = MetaKeys.chunk(ino, index)
            if var list = try tx.get(key) {
                MetaCoding.append(SliceRef(position: start, id: .hole, size: 0, offset: 0, length: stop - start), to: &list)
                try tx.set(key, list)
            }
            pos = UInt64(index) * chunk + UInt64(stop)
        }
    }

    /// copy_file_range done in metadata: the destination range gets entries referencing the
    /// source's slices (counted as shared), so no data is read or written. Returns the bytes
    /// copied (0 when `offIn` is at or past the source's end).
    public func copyRange(from src: InodeNumber, at offIn: UInt64, to dst: InodeNumber, at offOut: UInt64,
                          length: UInt64) throws -> UInt64 {
        try engine.write { tx in
            let srcAttr = try Self.attr(src, in: tx)
            var dstAttr = try Self.attr(dst, in: tx)
            guard srcAttr.type == .regular, dstAttr.type == .regular else { throw Errno.invalidArgument }
            guard offIn < srcAttr.size else { return 0 }
            let n = min(length, srcAttr.size - offIn)
            if src == dst && offIn < offOut + n && offOut < offIn + n { throw Errno.invalidArgument }
            let chunk = UInt64(Layout.chunkSize)
            var done: UInt64 = 0
            while done < n {
                let s = offIn + done, d = offOut + done
                // A piece stays inside one source chunk and one destination chunk.
                let piece = min(n - done, chunk - s % chunk, chunk - d % chunk)
                let sStart = UInt32(s % chunk), dStart = UInt32(d % chunk)
                let source = try tx.get(MetaKeys.chunk(src, UInt32(s / chunk))).map(MetaCoding.decodeSlices) ?? []
                let key = MetaKeys.chunk(dst, UInt32(d / chunk))
                var list = try tx.get(key) ?? []
                // A hole first: what the source leaves uncovered must read zeros here too.
                MetaCoding.append(SliceRef(position: dStart, id: .hole, size: 0, offset: 0, length: UInt32(piece)), to: &list)
                let sEnd = sStart + UInt32(piece)
                for e in source where e.position < sEnd && e.end > sStart {
                    let from = max(e.position, sStart), to = min(e.end, sEnd)
                    let clipped = SliceRef(position: dStart + (from - sStart), id: e.id, size: e.size,
                                           offset: e.offset + (from - e.position), length: to - from)
                    MetaCoding.append(clipped, to: &list)
                    if !e.id.isHole { try tx.increment(MetaKeys.sliceRefs(e.id, size: e.size), by: 1) }
                }
                try tx.set(key, list)
                done += piece
            }
            let now = Timespec.now()
            if offOut + n > dstAttr.size {
                try tx.increment(MetaKeys.usedSpace, by: Self.spaceOf(offOut + n) - Self.spaceOf(dstAttr.size))
                dstAttr.size = offOut + n
            }
            dstAttr.mtime = now
            dstAttr.ctime = now
            try Self.put(dst, dstAttr, in: tx)
            return n
        }
    }
}
