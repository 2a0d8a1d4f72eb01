import SluiceBase

/// Opens metadata engines by URL, e.g. `sqlite3:///var/lib/sluice/meta.db` or `memory://test`.
public enum MetaEngines {
    /// The schemes `open` understands, as shown in error messages.
    public static let supportedSchemes = ["sqlite3://", "redis://", "rediss://", "postgres://", "memory://"]

    /// Opens the engine named by `url`. `create` allows creating a missing database.
    ///
    /// - `sqlite3://PATH`: `sqlite3:///abs/path.db` is `/abs/path.db`, `sqlite3://rel.db` is
    ///   `rel.db` relative to the working directory. A `?query` is ignored.
    /// - `redis://[user:password@]host[:port][/db[/prefix]]`, or `rediss://…?tls-ca-file=…` for
    ///   TLS: see `RedisEndpoint`. `create` does not matter: a Redis database always exists.
    /// - `memory://NAME`: a process-wide engine per name (opening a name twice gives the same
    ///   engine); `memory://` alone gives a fresh, private one.
    ///
    /// - `postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=…&table=…` (or `postgresql://`): a
    ///   table in a PostgreSQL database, see `PostgresEngineURL`.
    ///
    /// Throws `UsageError` for an unknown or missing scheme or an empty path.
    public static func open(url: String, create: Bool) throws -> any KVEngine {
        guard let separator = url.firstRange(of: "://") else {
            throw UsageError("metadata engine URL \"\(redactedURL(url))\" has no scheme (supported: \(supportedList))")
        }
        let scheme = String(url[..<separator.lowerBound]).lowercased()
        var rest = url[separator.upperBound...]
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        switch scheme {
        case "sqlite3":
            guard !rest.isEmpty else {
                throw UsageError("metadata engine URL \"\(redactedURL(url))\" names no database file")
            }
            return try SQLiteEngine(path: String(rest), create: create)
        case "redis", "rediss":
            return try RedisEngine(url: url)
        case "memory":
            guard !rest.isEmpty else { return MemoryEngine() }
            let name = String(rest)
            return memoryRegistry.withLock { engines in
                if let engine = engines[name] { return engine }
                let engine = MemoryEngine()
                engines[name] = engine
                return engine
            }
        case "postgres", "postgresql":
            return try PostgresEngine(url: url)
        default:
            throw UsageError("unsupported metadata engine \"\(scheme)\" in \"\(redactedURL(url))\" (supported: \(supportedList))")
        }
    }

    /// `url` with any password replaced by `****`, for logs and messages:
    /// `redis://user:secret@host/1` becomes `redis://user:****@host/1`.
    public static func redactedURL(_ url: String) -> String {
        guard let separator = url.firstRange(of: "://") else { return url }
        let authorityEnd = url[separator.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        let authority = url[separator.upperBound..<authorityEnd]
        // The password is between the first ':' of the user info and the last '@'.
        guard let at = authority.lastIndex(of: "@"),
              let colon = authority[..<at].firstIndex(of: ":") else { return url }
        var redacted = url
        redacted.replaceSubrange(authority.index(after: colon)..<at, with: "****")
        return redacted
    }

    private static var supportedList: String { supportedSchemes.joined(separator: ", ") }

    /// Named memory engines, so that several opens of `memory://NAME` share one volume.
    private static let memoryRegistry = Locked<[String: MemoryEngine]>([:])
}
