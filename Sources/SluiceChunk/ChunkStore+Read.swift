import Foundation
import SluiceBase
import SluiceObject

extension ChunkStore {
    /// Reads `length` bytes of the stored data of slice `id` (`size` bytes long), from
    /// `sliceOffset`, into the start of `buffer`.
    ///
    /// Goes through the block cache and fetches whole blocks; concurrent readers of a block
    /// that is not cached share one fetch. A block that is missing, has the wrong length, or
    /// cannot be fetched after a few tries is `Errno.ioError`: never wrong bytes or zeros.
    /// A range outside the slice is an `EngineError` (the caller's slice list is damaged).
    ///
    /// A `random` reader (one that did not continue where it stopped) gets only the bytes it
    /// asks for from a block that is not cached, without caching it: fetching and caching
    /// whole 4 MiB blocks for 4 KiB reads all over a large file is what made small random reads
    /// slow.
    public func read(slice id: SliceID, size: UInt32, sliceOffset: Int, length: Int,
                     into buffer: UnsafeMutableRawBufferPointer, random: Bool = false) throws {
        precondition(length <= buffer.count, "buffer too small")
        guard sliceOffset >= 0, length >= 0, sliceOffset + length <= Int(size) else {
            throw EngineError("read of \(sliceOffset)+\(length) outside slice \(id) of \(size) bytes")
        }
        var done = 0
        while done < length {
            let position = sliceOffset + done
            let index = position / layout.blockSize
            let within = position - index * layout.blockSize
            let blockLength = layout.blockLength(ofSliceSize: Int(size), index: index)
            if random, rangedReads, case let key = layout.key(slice: id, index: index, length: blockLength),
               !cache.contains(key) {
                if let pool = randomPrefetches {
                    // JuiceFS's --prefetch: the block is likely read again nearby; fetch it whole
                    // in the background (a hint, dropped when the pool is busy).
                    background(key: key, length: blockLength, pool: pool, counter: OperationStats.randomPrefetch)
                }
                let n = min(length - done, blockLength - within)
                let part = try range(of: key, at: within, length: n)
                part.withUnsafeBytes { (buffer.baseAddress! + done).copyMemory(from: $0.baseAddress!, byteCount: n) }
                done += n
                continue
            }
            let data = try block(slice: id, size: Int(size), index: index)
            let n = min(length - done, data.count - within)
            data.withUnsafeBytes { src in
                (buffer.baseAddress! + done).copyMemory(from: src.baseAddress! + within, byteCount: n)
            }
            done += n
        }
    }

    /// Fills `buffer` with the chunk bytes from `position` on, as the slice list `slices`
    /// (later entries cover earlier ones) makes them: slice data where a slice shows, zeros in
    /// holes and where no slice covers. The range must lie within one chunk.
    public func readChunk(_ slices: [SliceRef], position: UInt32, into buffer: UnsafeMutableRawBufferPointer,
                          random: Bool = false) throws {
        guard buffer.count > 0 else { return }
        precondition(Int(position) + buffer.count <= Layout.chunkSize, "read crosses the chunk end")
        let end = position + UInt32(buffer.count)
        for segment in SliceResolver.resolve(slices, from: position, to: end) {
            let at = Int(segment.position - position)
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + Int(segment.length)])
            if let source = segment.source {
                try read(slice: source.id, size: source.size, sliceOffset: Int(segment.sliceOffset),
                         length: part.count, into: part, random: random)
            } else {
                part.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
    }

    /// Starts fetching block `blockIndex` of slice `id` into the cache in the background, unless
    /// it is cached or being fetched already (read-ahead). Only a hint: dropped when too many
    /// prefetches wait, or while blocks fetched ahead and not yet read fill half the cache.
    public func prefetch(slice id: SliceID, size: UInt32, blockIndex: Int) {
        guard blockIndex >= 0, blockIndex < layout.blockCount(ofSliceSize: Int(size)) else { return }
        let length = layout.blockLength(ofSliceSize: Int(size), index: blockIndex)
        let key = layout.key(slice: id, index: blockIndex, length: length)
        if cache.contains(key) { return }
        guard admitReadAhead(key) else { return }
        background(key: key, length: length, pool: prefetches, counter: OperationStats.readAhead)
    }

    /// Whether read-ahead may fetch `key` now; if so, it counts as unread until a reader takes
    /// it from the cache (or it leaves the cache).
    private func admitReadAhead(_ key: String) -> Bool {
        let limit = cache.capacity / 2 / layout.blockSize
        guard limit > 0 else { return false }  // a cache this small could not keep it anyway
        return readAheadUnread.withLock { unread in
            if unread.contains(key) { return true }
            if unread.count >= limit {
                // Blocks evicted or removed before anyone read them no longer hold room.
                unread = unread.filter { k in cache.contains(k) || flights.withLock { $0[k] != nil } }
            }
            guard unread.count < limit else { return false }
            unread.insert(key)
            return true
        }
    }

    /// Fetches `key` whole into the cache on `pool`, unless it is cached or being fetched.
    private func background(key: String, length: Int, pool: WorkerPool, counter: OperationCounter) {
        if cache.contains(key) { return }
        guard let flight = lead(key) else { return }
        let submitted = pool.submit { [self] in
            counter.time { _ = fetch(key: key, length: length, flight: flight) }
        }
        if !submitted {
            // Readers who joined the flight meanwhile go and fetch for themselves.
            flights.withLock { _ = $0.removeValue(forKey: key) }
            flight.complete(.abandoned)
        }
    }

    /// The whole block `index` of slice `id`: from the cache, or fetched (once for all the
    /// threads asking at the same time).
    func block(slice id: SliceID, size: Int, index: Int) throws -> [UInt8] {
        let length = layout.blockLength(ofSliceSize: size, index: index)
        let key = layout.key(slice: id, index: index, length: length)
        while true {
            if let data = cache.get(key) {
                readAheadUnread.withLock { if !$0.isEmpty { _ = $0.remove(key) } }
                return data
            }
            let outcome: Flight.Outcome
            if let flight = lead(key) {
                // A fetch that finished between our cache miss and taking the lead filled it.
                if let data = cache.get(key) {
                    flights.withLock { _ = $0.removeValue(forKey: key) }
                    flight.complete(.data(data))
                    return data
                }
                outcome = fetch(key: key, length: length, flight: flight)
            } else if let flight = flights.withLock({ $0[key] }) {
                outcome = flight.wait()
            } else {
                continue  // the other fetch ended between our two looks: check the cache again
            }
            switch outcome {
            case .data(let data):
                readAheadUnread.withLock { if !$0.isEmpty { _ = $0.remove(key) } }
                return data
            case .failed: throw Errno.ioError
            case .abandoned: continue
            }
        }
    }

    /// `length` bytes at `offset` of one block, fetched alone (a few tries, like whole blocks).
    private func range(of key: String, at offset: Int, length: Int) throws -> [UInt8] {
        for attempt in 0..<3 {
            do {
                let data = try store.get(key, offset: offset, length: length)
                guard data.count == length else { throw Errno.ioError }
                return data
            } catch let error as Errno where error == .noSuchFileOrDirectory || error == .ioError {
                throw Errno.ioError
            } catch {
                if attempt < 2 { Thread.sleep(forTimeInterval: config.retryDelay * Double(1 << attempt)) }
            }
        }
        throw Errno.ioError
    }

    /// Registers a new flight for `key` and returns it, or nil when one is under way.
    func lead(_ key: String) -> Flight? {
        flights.withLock { flights in
            if flights[key] != nil { return nil }
            let flight = Flight()
            flights[key] = flight
            return flight
        }
    }

    /// Gets the block, checks its length, caches it and completes the flight.
    func fetch(key: String, length: Int, flight: Flight) -> Flight.Outcome {
        var outcome = Flight.Outcome.failed
        for attempt in 0..<3 {
            do {
                let data = try store.get(key, offset: 0, length: nil)
                // A short or long object is damaged: fail rather than hand out wrong bytes.
                if data.count == length {
                    cache.insert(key, data)
                    outcome = .data(data)
                }
                break
            } catch let error as Errno where error == .noSuchFileOrDirectory {
                break
            } catch {
                if attempt < 2 { Thread.sleep(forTimeInterval: config.retryDelay * Double(1 << attempt)) }
            }
        }
        // Cached before the flight is dropped, so a newcomer finds one or the other.
        flights.withLock { _ = $0.removeValue(forKey: key) }
        flight.complete(outcome)
        return outcome
    }
}

/// One fetch of a block that several readers may wait on.
final class Flight: @unchecked Sendable {
    enum Outcome: Sendable {
        case data([UInt8])
        case failed
        /// Nobody will fetch: waiters must try again themselves.
        case abandoned
    }

    // @unchecked: `outcome` is only touched while `cond` is locked.
    private let cond = NSCondition()
    private var outcome: Outcome?

    func complete(_ result: Outcome) {
        cond.lock()
        outcome = result
        cond.broadcast()
        cond.unlock()
    }

    func wait() -> Outcome {
        cond.lock()
        defer { cond.unlock() }
        while outcome == nil { cond.wait() }
        return outcome!
    }
}
