import Foundation
import SluiceBase

/// Where an S3 bucket is and how its objects are addressed, parsed from a bucket URL:
///
/// - path-style `http(s)://host[:port]/bucket[/prefix…]` (MinIO, Ceph, moto, any S3 with
///   a custom endpoint);
/// - virtual-hosted `https://bucket.s3[.region].amazonaws.com[/prefix…]`, detected when the
///   label after the first is `s3…`, or forced with `virtualHosted: true`.
///
/// Every object key is stored as `prefix + key`; the prefix is empty or ends with `/`.
public struct S3Endpoint: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int?
    public var bucket: String
    public var virtualHosted: Bool
    public var keyPrefix: String

    public init(url: String, virtualHosted forced: Bool? = nil) throws {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = c.host, !host.isEmpty else {
            throw UsageError("invalid S3 bucket URL \"\(url)\": use http(s)://host[:port]/bucket[/prefix] "
                             + "or https://bucket.host/[prefix]")
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = c.port
        var segments = c.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let labels = self.host.split(separator: ".").map(String.init)
        let isIP = labels.allSatisfy { Int($0) != nil } || host.contains(":")
        let detected = !isIP && labels.count >= 3 && labels[1].hasPrefix("s3")
        virtualHosted = forced ?? (detected || (segments.isEmpty && !isIP && labels.count >= 3))
        if virtualHosted {
            guard !isIP, labels.count >= 2 else {
                throw UsageError("S3 bucket URL \"\(url)\": a virtual-hosted URL needs the bucket as the first host label")
            }
            bucket = labels[0]
        } else {
            guard !segments.isEmpty else {
                throw UsageError("S3 bucket URL \"\(url)\" names no bucket: use http(s)://host[:port]/bucket")
            }
            bucket = segments.removeFirst()
        }
        guard !bucket.isEmpty else { throw UsageError("S3 bucket URL \"\(url)\" names no bucket") }
        keyPrefix = segments.isEmpty ? "" : segments.joined(separator: "/") + "/"
    }

    /// `host` or `host:port`, as the Host header and the signature carry it.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port.map { "\(h):\($0)" } ?? h
    }

    /// The URI-encoded path of the bucket (`/bucket` or `/`), or of one of its objects.
    func path(key: String?) -> String {
        let bucketPath = virtualHosted ? "" : "/" + S3Signer.uriEncode(bucket)
        guard let key else { return virtualHosted ? "/" : bucketPath }
        return bucketPath + "/" + S3Signer.uriEncode(keyPrefix + key, keepSlash: true)
    }

    /// The URL with the query (already encoded) appended.
    func url(path: String, query: String) -> String {
        "\(scheme)://\(hostHeader)\(path)" + (query.isEmpty ? "" : "?" + query)
    }

    /// The region an AWS host names (`s3.eu-west-1.amazonaws.com`, `s3-eu-west-1…`), if any.
    public var regionFromHost: String? {
        guard host.hasSuffix(".amazonaws.com") else { return nil }
        let labels = host.split(separator: ".").map(String.init)
        guard let s3 = labels.firstIndex(where: { $0.hasPrefix("s3") }) else { return nil }
        let label = labels[s3]
        if label.hasPrefix("s3-"), label.count > 3 { return String(label.dropFirst(3)) }
        if label == "s3", s3 + 1 < labels.count, labels[s3 + 1] != "amazonaws",
           labels[s3 + 1] != "dualstack" { return labels[s3 + 1] }
        return nil
    }

    /// `s3://host[:port]/bucket/prefix/` — how the store describes itself (never credentials).
    public var description: String {
        virtualHosted ? "s3://\(hostHeader)/\(keyPrefix)" : "s3://\(hostHeader)/\(bucket)/\(keyPrefix)"
    }
}
