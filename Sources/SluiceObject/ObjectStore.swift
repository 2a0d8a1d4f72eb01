import SluiceBase

/// What a listing or a head request tells about one object.
public struct ObjectInfo: Sendable, Hashable {
    public var key: String
    public var size: Int
    /// When the object was written (seconds since 1970), where the store knows. `gc` leaves
    /// young objects alone: they may belong to a write still in progress.
    public var modified: Int64?

    public init(key: String, size: Int, modified: Int64? = nil) {
        self.key = key
        self.size = size
        self.modified = modified
    }

    /// Equality ignores `modified`: stores differ in whether they know it.
    public static func == (a: ObjectInfo, b: ObjectInfo) -> Bool { a.key == b.key && a.size == b.size }
    public func hash(into h: inout Hasher) {
        h.combine(key)
        h.combine(size)
    }
}

/// An object store: immutable objects under string keys. Every call is idempotent, so a
/// caller may retry any of them. Implementations are chosen by the `--storage` name
/// (`file`, `mem`, later `s3`) through `ObjectStores.open`.
///
/// Errors: a missing object is `Errno.noSuchFileOrDirectory`; anything else the store could
/// not do is an `EngineError` (or `Errno`) describing it.
public protocol ObjectStore: AnyObject, Sendable {
    /// Human-readable description, e.g. `file:///var/lib/sluice/`.
    var description: String { get }
    /// Bytes `offset ..< offset + length` of the object (to its end when `length` is nil).
    /// Asking past the end returns the bytes that exist (possibly none).
    func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8]
    /// Stores `data` under `key`, replacing any object there. Readers see either the old or the
    /// whole new object, never a part.
    func put(_ key: String, _ data: [UInt8]) throws
    /// Stores the concatenation of `parts` under `key`, exactly like `put` of the joined bytes.
    /// The codec hands a block as its small header plus the caller's data, so that a store
    /// which can write the parts one after the other (a file) saves joining them: a 4 MiB copy
    /// into a freshly allocated array per block. The default joins them and calls `put`.
    func put(_ key: String, parts: [[UInt8]]) throws
    /// The object's size, or nil when it does not exist.
    func head(_ key: String) throws -> ObjectInfo?
    /// Removes the object; removing a missing object succeeds.
    func delete(_ key: String) throws
    /// Up to `limit` objects whose keys start with `prefix` and sort after `after`, ascending.
    func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo]
    /// Makes the named objects durable (they survive a power loss) before returning.
    func sync(_ keys: [String]) throws

    /// Told by a layer above (the codec) that the object it just got for `key` is damaged:
    /// a local cache below drops its copy so that the next get reaches the backend. Returns
    /// whether a cached copy was dropped (then a retry may succeed). Wrappers forward it;
    /// stores without a cache keep the default (false).
    func dropCachedCopy(_ key: String) -> Bool

    /// Fetches the object into a local cache below, if there is one, and returns once it is
    /// there (`sluice warmup`). Returns whether a cache layer holds it now; false without one.
    /// Wrappers forward it.
    func warm(_ key: String) throws -> Bool
}

extension ObjectStore {
    public func dropCachedCopy(_ key: String) -> Bool { false }
    public func warm(_ key: String) throws -> Bool { false }
}

extension ObjectStore {
    public func put(_ key: String, parts: [[UInt8]]) throws {
        if parts.count == 1 { return try put(key, parts[0]) }
        try put(key, Array(parts.joined()))
    }
}
