import SluiceBase

/// Where a `RedisEngine` connects and which part of the server it owns, parsed from
/// `redis://[user[:password]@]host[:port][/db[/prefix]][?query]`, or `rediss://…` for TLS.
///
/// - `user` and `password` are percent-decoded; a password alone (`redis://:pw@host`) AUTHs
///   the default user, a user with a password uses Redis 6 ACL `AUTH user password`.
/// - `db` is the logical database `SELECT`ed on every connection (default 0).
/// - `prefix` names the volume's keys inside that database (default `sluice`), so that several
///   volumes, or other applications, can share one database; see `RedisEngine` for the layout.
/// - `rediss://` connects with TLS; its `?query` may hold `tls-ca-file`, `tls-cert-file`,
///   `tls-key-file` and `tls-insecure-skip-verify` (see `RedisTLSOptions`). Other query keys
///   are ignored, as for the other engines; the `tls-` ones with `redis://` are an error.
public struct RedisEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int32
    public var user: String?
    public var password: String?
    public var db: Int
    public var prefix: String
    /// TLS settings; nil for a plain connection.
    public var tls: RedisTLSOptions?

    public static let defaultPort: Int32 = 6379
    public static let defaultPrefix = "sluice"

    public init(host: String, port: Int32 = RedisEndpoint.defaultPort, user: String? = nil, password: String? = nil,
                db: Int = 0, prefix: String = RedisEndpoint.defaultPrefix, tls: RedisTLSOptions? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.db = db
        self.prefix = prefix
        self.tls = tls
    }

    /// `host:port`, with brackets around an IPv6 address, for messages.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses a `redis://` or `rediss://` URL. Malformed URLs throw `UsageError`; the messages
    /// show the URL with its password redacted.
    public init(url: String) throws {
        let shown = MetaEngines.redactedURL(url)
        func bad(_ why: String) -> UsageError { UsageError("metadata engine URL \"\(shown)\": \(why)") }
        guard let separator = url.firstRange(of: "://") else { throw bad("no scheme") }
        let scheme = url[..<separator.lowerBound].lowercased()
        guard scheme == "redis" || scheme == "rediss" else { throw bad("not a redis:// or rediss:// URL") }
        var rest = url[separator.upperBound...]
        var query: [(String, String)] = []
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        if let mark = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: mark)...].split(separator: "&") {
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((try Self.percentDecoded(parts[0], bad),
                              parts.count > 1 ? try Self.percentDecoded(parts[1], bad) : ""))
            }
            rest = rest[..<mark]
        }
        if scheme == "rediss" {
            tls = try RedisTLSOptions(query: query, bad)
        } else {
            tls = nil
            if let (key, _) = query.first(where: { RedisTLSOptions.queryKeys.contains($0.0) }) {
                throw bad("\(key) needs a rediss:// URL")
            }
        }
        let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<pathStart]
        let path = rest[pathStart...].dropFirst()

        // User info ends at the last '@' (a password may itself contain '@' when not encoded).
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                let name = try Self.percentDecoded(info[..<colon], bad)
                user = name.isEmpty ? nil : name
                password = try Self.percentDecoded(info[info.index(after: colon)...], bad)
            } else if !info.isEmpty {
                user = try Self.percentDecoded(info, bad)
            }
        }

        // Host, optionally [IPv6], then an optional :port.
        var hostPart = Substring(authority)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw bad("unterminated [IPv6] host") }
            let after = hostPart[hostPart.index(after: close)...]
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("unexpected text after the host") }
                portPart = after.dropFirst()
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw bad("names no host") }
        host = String(hostPart)
        port = Self.defaultPort
        if let portPart {
            guard let value = Int32(portPart), (1...65535).contains(value) else {
                throw bad("port \"\(portPart)\" is not a number from 1 to 65535")
            }
            port = value
        }

        // Path: /db, then optionally /prefix.
        db = 0
        prefix = Self.defaultPrefix
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if let first = segments.first, !first.isEmpty {
            guard let value = Int(first), value >= 0 else { throw bad("database \"\(first)\" is not a number") }
            db = value
        }
        if segments.count > 1 {
            let name = segments[1]
            guard segments.count == 2, Self.isValidPrefix(name) else {
                throw bad("key prefix \"\(segments.dropFirst().joined(separator: "/"))\" must be 1 to 64 letters, digits, '.', '_' or '-'")
            }
            prefix = String(name)
        }
        self.user = user
        self.password = password
    }

    /// Prefixes are kept to characters that are neither glob specials (SCAN MATCH) nor the
    /// braces of a cluster hash tag.
    static func isValidPrefix(_ name: Substring) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    private static func percentDecoded(_ text: Substring, _ bad: (String) -> UsageError) throws -> String {
        guard text.contains("%") else { return String(text) }
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "%") else { out.append(byte); continue }
            guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else {
                throw bad("bad percent-escape")
            }
            out.append(value)
            bytes = bytes.dropFirst(2)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
