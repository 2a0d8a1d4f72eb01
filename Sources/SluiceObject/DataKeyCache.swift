import Crypto
import SluiceBase

/// A small LRU of unwrapped data keys by their wrapped bytes, so that reading a block again
/// (after the block cache dropped it) does not pay an RSA-OAEP decryption (~1 ms) again.
/// Keys are 32 bytes and wrapped keys a few hundred: 4096 entries take about 1.5 MiB.
final class DataKeyCache: Sendable {
    private struct Entry {
        var key: SymmetricKey
        var used: UInt64
    }
    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    let capacity: Int
    private let state = Locked(State())

    init(capacity: Int = 4096) { self.capacity = max(1, capacity) }

    func get(_ wrapped: [UInt8]) -> SymmetricKey? {
        state.withLock { s in
            s.clock += 1
            guard var e = s.entries[wrapped] else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            e.used = s.clock
            s.entries[wrapped] = e
            return e.key
        }
    }

    func insert(_ wrapped: [UInt8], _ key: SymmetricKey) {
        state.withLock { s in
            s.clock += 1
            s.entries[wrapped] = Entry(key: key, used: s.clock)
            guard s.entries.count > capacity else { return }
            // Evict the least recently used eighth at once, so eviction is rare and amortised.
            let drop = s.entries.sorted { $0.value.used < $1.value.used }.prefix(max(1, capacity / 8))
            for (k, _) in drop { s.entries[k] = nil }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
    /// (hits, misses) since creation, for tests and diagnostics.
    var counters: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }
}
