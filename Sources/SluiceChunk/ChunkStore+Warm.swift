import Foundation
import SluiceBase
import SluiceObject

extension ChunkStore {
    /// Makes sure block `blockIndex` of slice `id` is in a local cache (`sluice warmup`): the
    /// disk tier below the codec when there is one (written before this returns, verified when
    /// first read), else the memory cache. A block that cannot be fetched is `Errno.ioError`.
    public func warm(slice id: SliceID, size: UInt32, blockIndex: Int) throws {
        guard blockIndex >= 0, blockIndex < layout.blockCount(ofSliceSize: Int(size)) else { return }
        let length = layout.blockLength(ofSliceSize: Int(size), index: blockIndex)
        let key = layout.key(slice: id, index: blockIndex, length: length)
        for attempt in 0..<3 {
            do {
                if try store.warm(key) { return }
                break
            } catch let error as Errno where error == .noSuchFileOrDirectory {
                throw Errno.ioError
            } catch {
                if attempt == 2 { throw Errno.ioError }
                Thread.sleep(forTimeInterval: config.retryDelay * Double(1 << attempt))
            }
        }
        _ = try block(slice: id, size: Int(size), index: blockIndex)
    }
}
