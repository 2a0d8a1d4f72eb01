import Foundation
import PostgresNIO
import SluiceBase

/// What a `postgres://` (or `postgresql://`) metadata URL names:
///
///     postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME?sslmode=disable|prefer|require|verify-ca|verify-full
///         &sslrootcert=CA.pem&sslcert=CLIENT.pem&sslkey=CLIENT.key&table=NAME
///
/// User, password and database name may be percent-encoded. The user defaults to `postgres`,
/// the port to 5432, the database to the user's name, `sslmode` to `disable` and the table to
/// `sluice_kv`. `HOST` may be a bracketed IPv6 address (`[::1]`). As in libpq, `sslrootcert`
/// is the CA file that `verify-ca`/`verify-full` check the server against (the system trust
/// store without it, or with `sslrootcert=system`), `require` with a root certificate file
/// verifies the chain as `verify-ca` does, and `sslcert`/`sslkey` give a client certificate.
public struct PostgresEngineURL: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var table: String
    public var sslMode: SSLMode
    /// The CA certificates (PEM) that verify the server; nil for the system trust store.
    public var sslRootCert: String?
    /// A client certificate (PEM) and its unencrypted key, both or neither.
    public var sslCert: String?
    public var sslKey: String?

    /// libpq's `sslmode` values. `prefer` and `require` encrypt without checking the server's
    /// certificate (as libpq does without a root certificate); `verify-ca` checks the chain
    /// against `sslrootcert` or the system's trust roots; `verify-full` also checks the host
    /// name (a DNS name, or an IP address against the certificate's IP SANs).
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public static let defaultTable = "sluice_kv"

    /// Parses `url`; throws `UsageError` (with the password hidden) when it is malformed.
    public init(_ url: String) throws {
        let shown = MetaEngines.redactedURL(url)
        func bad(_ why: String) -> UsageError { UsageError("metadata engine URL \"\(shown)\": \(why)") }
        guard let separator = url.firstRange(of: "://") else { throw bad("no scheme") }
        let scheme = url[..<separator.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else { throw bad("not a postgres:// URL") }
        var rest = Substring(url[separator.upperBound...])
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        let path = slash < rest.endIndex ? rest[rest.index(after: slash)...] : ""

        user = "postgres"
        password = nil
        // The password may itself contain '@': the user info ends at the last '@'.
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], bad)
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], bad)
            } else {
                user = try Self.decode(userInfo, bad)
            }
            if user.isEmpty { user = "postgres" }
        }

        port = 5432
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw bad("unterminated [IPv6] host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("unexpected text after the host") }
                port = try Self.port(after.dropFirst(), bad)
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = try Self.port(authority[authority.index(after: colon)...], bad)
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw bad("names no host") }

        let name = try Self.decode(path, bad)
        database = name.isEmpty ? user : name
        table = Self.defaultTable
        sslMode = .disable
        sslRootCert = nil
        sslCert = nil
        sslKey = nil
        for item in query.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0], bad)
            let value = parts.count > 1 ? try Self.decode(parts[1], bad) : ""
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw bad("sslmode \"\(value)\" is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "table":
                guard Self.isPlainIdentifier(value) else {
                    throw bad("table \"\(value)\" must be 1 to 63 letters, digits or '_', not starting with a digit")
                }
                table = value
            case "sslrootcert", "sslcert", "sslkey":
                guard !value.isEmpty else { throw bad("\(key) names no file") }
                if key == "sslrootcert" { sslRootCert = value == "system" ? nil : value }
                if key == "sslcert" { sslCert = value }
                if key == "sslkey" { sslKey = value }
            default:
                // Other libpq parameters (application_name, connect_timeout, …) are accepted
                // and ignored, so that URLs written for other tools keep working.
                break
            }
        }
        if (sslCert == nil) != (sslKey == nil) { throw bad("sslcert and sslkey go together") }
    }

    /// The URL's connection settings for postgres-nio, with TLS as `sslMode` asks.
    func connectionConfiguration(connectTimeout: TimeAmount) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if sslMode == .disable {
            tls = .disable
        } else {
            var settings = TLSConfiguration.makeClientConfiguration()
            switch sslMode {
            case .verifyFull: settings.certificateVerification = .fullVerification
            case .verifyCA: settings.certificateVerification = .noHostnameVerification
            // libpq: "require" with a root certificate file verifies the chain like verify-ca.
            case .require where sslRootCert != nil: settings.certificateVerification = .noHostnameVerification
            default: settings.certificateVerification = .none
            }
            if let sslRootCert {
                settings.trustRoots = .certificates(try TLSFiles.certificates(sslRootCert, option: "sslrootcert"))
            }
            if let sslCert, let sslKey {
                settings.certificateChain = try TLSFiles.certificates(sslCert, option: "sslcert").map { .certificate($0) }
                settings.privateKey = .privateKey(try TLSFiles.privateKey(sslKey, option: "sslkey"))
            }
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: settings)
            } catch {
                throw UsageError("postgres: cannot set up TLS for sslmode=\(sslMode.rawValue): \(error)")
            }
            // allow/prefer fall back to plain text when the server has no TLS; the others insist.
            tls = sslMode == .allow || sslMode == .prefer ? .prefer(context) : .require(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        // postgres-nio sends a DNS host name as SNI and checks the certificate against it;
        // for an IP address it sends no SNI and NIOSSL checks the IP SANs against the peer.
        return configuration
    }

    /// The table name as an SQL identifier (checked by `isPlainIdentifier`, quoted anyway).
    var quotedTable: String { "\"\(table)\"" }

    /// `user@host:port/database` for messages: never the password.
    var endpoint: String { "\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }

    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
        return letter(first) && name.unicodeScalars.allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") }
    }

    private static func decode(_ text: Substring, _ bad: (String) -> UsageError) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else { throw bad("bad percent-encoding") }
        return decoded
    }

    private static func port(_ text: Substring, _ bad: (String) -> UsageError) throws -> Int {
        guard let port = Int(text), (1...65535).contains(port) else { throw bad("bad port \"\(text)\"") }
        return port
    }
}
