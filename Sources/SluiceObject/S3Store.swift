import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SluiceBase

/// An object store on any S3-compatible service (AWS S3, MinIO, Ceph RGW, moto…).
///
/// The `ObjectStore` API is synchronous and called from worker and FUSE threads, never from
/// Swift concurrency's pool, so each call runs its HTTP request on the shared `HTTPClient`'s
/// event loops and blocks its own thread until the answer, with a bounded wait (see
/// `S3Store+Requests.swift`). Requests are signed with AWS Signature Version 4 and retried with
/// jittered exponential backoff on server errors, throttling and connection failures.
public final class S3Store: ObjectStore {
    public let endpoint: S3Endpoint
    let options: StoreOptions
    let signer: S3Signer?
    let client: HTTPClient
    private let closed = Locked(false)

    /// Opens a store on the bucket at `url` (see `S3Endpoint`). Nothing is sent until the
    /// first call; `check()` verifies the bucket can be used.
    public init(url: String, options: StoreOptions = StoreOptions()) throws {
        let endpoint = try S3Endpoint(url: url, virtualHosted: options.virtualHosted)
        self.options = options
        let env = ProcessInfo.processInfo.environment
        let region = [options.region, env["AWS_REGION"], env["AWS_DEFAULT_REGION"], endpoint.regionFromHost]
            .compactMap { $0 }.first { !$0.isEmpty } ?? "us-east-1"
        var credentials: S3Credentials?
        switch (options.accessKey, options.secretKey) {
        case let (access?, secret?):
            credentials = S3Credentials(accessKey: access, secretKey: secret, sessionToken: options.sessionToken)
        case (nil, nil):
            credentials = S3Credentials.fromEnvironment(env)
        default:
            throw UsageError("give both an S3 access key and a secret key, or neither")
        }
        // Without credentials requests go unsigned (public buckets).
        signer = credentials.map { S3Signer(credentials: $0, region: region) }

        var config = HTTPClient.Configuration()
        config.httpVersion = .http1Only
        config.timeout = .init(connect: .seconds(10), read: .seconds(Int64(options.requestTimeout)))
        // Uploads run on up to `maxUploads` threads in the chunk layer and reads on the FUSE
        // threads: the pool must let that many requests to the one host run at once.
        config.connectionPool = .init(idleTimeout: .seconds(60),
                                      concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, options.maxConnections))
        config.decompression = .disabled
        config.redirectConfiguration = .disallow
        if endpoint.scheme == "https" {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caFile = options.caFile {
                // Read now, so that a wrong file is one clear error before any request.
                guard FileManager.default.isReadableFile(atPath: caFile) else {
                    throw UsageError("CA file \(caFile) cannot be read")
                }
                let certificates = (try? NIOSSLCertificate.fromPEMFile(caFile)) ?? []
                guard !certificates.isEmpty else { throw UsageError("CA file \(caFile) holds no PEM certificate") }
                tls.trustRoots = .certificates(certificates)
            }
            config.tlsConfiguration = tls
        }
        self.endpoint = endpoint
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    deinit { close() }

    /// Shuts the HTTP client down (idempotent). Calls after it fail with `EngineError`.
    public func close() {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        if first { try? client.syncShutdown() }
    }

    public var description: String { endpoint.description }

    // MARK: ObjectStore

    public func get(_ key: String, offset: Int, length: Int?) throws -> [UInt8] {
        let offset = max(0, offset)
        if let length, length <= 0 {
            // An empty range still tells a missing object from a present one.
            guard try head(key) != nil else { throw Errno.noSuchFileOrDirectory }
            return []
        }
        var headers: [(String, String)] = []
        if offset > 0 || length != nil {
            headers.append(("range", "bytes=\(offset)-" + (length.map { String(offset + $0 - 1) } ?? "")))
        }
        let r = try send(.GET, key: key, headers: headers, what: "GET \(key)")
        switch r.status {
        case 206:
            return r.body
        case 200:
            // The whole object (no range asked, or a server that ignores Range).
            if headers.isEmpty { return r.body }
            let start = min(offset, r.body.count)
            let end = length.map { min(r.body.count, start + $0) } ?? r.body.count
            return Array(r.body[start..<end])
        case 404:
            // A missing bucket is a broken store, not a missing object.
            if S3XML.error(r.body)?.code == "NoSuchBucket" { throw failure(r, "GET \(key)") }
            throw Errno.noSuchFileOrDirectory
        case 416:
            // The range starts at or past the end: the object exists, the bytes do not.
            return []
        default:
            throw failure(r, "GET \(key)")
        }
    }

    public func put(_ key: String, _ data: [UInt8]) throws {
        if data.count > options.multipartThreshold {
            try multipartPut(key, data)
            return
        }
        let r = try send(.PUT, key: key, body: data, what: "PUT \(key)")
        guard r.status == 200 else { throw failure(r, "PUT \(key)") }
    }

    public func head(_ key: String) throws -> ObjectInfo? {
        let r = try send(.HEAD, key: key, what: "HEAD \(key)")
        switch r.status {
        case 200:
            guard let size = r.headers.first(name: "content-length").flatMap({ Int($0) }) else {
                throw EngineError("S3 HEAD \(key) at \(description): no Content-Length in the answer")
            }
            return ObjectInfo(key: key, size: size)
        case 404:
            return nil
        default:
            throw failure(r, "HEAD \(key)")
        }
    }

    public func delete(_ key: String) throws {
        let r = try send(.DELETE, key: key, what: "DELETE \(key)")
        guard [200, 202, 204, 404].contains(r.status) else { throw failure(r, "DELETE \(key)") }
    }

    public func list(prefix: String, after: String?, limit: Int) throws -> [ObjectInfo] {
        guard limit > 0 else { return [] }
        var result: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", endpoint.keyPrefix + prefix),
                         ("max-keys", String(min(1000, limit - result.count)))]
            if let token {
                query.append(("continuation-token", token))
            } else if let after {
                query.append(("start-after", endpoint.keyPrefix + after))
            }
            let r = try send(.GET, key: nil, query: query, what: "LIST \(prefix)")
            guard r.status == 200 else { throw failure(r, "LIST \(prefix)") }
            let page: S3ListPage
            do {
                page = try S3XML.listPage(r.body)
            } catch {
                throw EngineError("S3 LIST \(prefix) at \(description): \(error)")
            }
            for object in page.objects where object.key.hasPrefix(endpoint.keyPrefix) {
                result.append(ObjectInfo(key: String(object.key.dropFirst(endpoint.keyPrefix.count)),
                                         size: object.size))
            }
            token = page.isTruncated ? page.nextContinuationToken : nil
            if page.isTruncated, token == nil {
                throw EngineError("S3 LIST \(prefix) at \(description): truncated page without a continuation token")
            }
        } while token != nil && result.count < limit
        return Array(result.prefix(limit))
    }

    /// S3 acknowledges a PUT only once the object is durable: nothing more to do.
    public func sync(_ keys: [String]) throws {}

    // MARK: Checking the bucket

    /// Verifies that the bucket exists and these credentials may list, write and delete in it,
    /// with a one-key listing and a probe object written and removed under the key prefix.
    /// Throws `UsageError`: "bucket … does not exist", "access to bucket … denied: <code>", or
    /// why the service could not be used.
    public func check() throws {
        let name = endpoint.bucket
        func usage(_ r: S3Response, _ what: String) -> UsageError {
            let parsed = S3XML.error(r.body)
            let code = parsed?.code ?? "HTTP \(r.status)"
            if r.status == 404, parsed == nil || parsed?.code == "NoSuchBucket" {
                return UsageError("bucket \(name) does not exist at \(endpoint.scheme)://\(endpoint.hostHeader)")
            }
            if r.status == 403 || r.status == 401 {
                return UsageError("access to bucket \(name) denied: \(code)"
                                  + (parsed.map { $0.message.isEmpty ? "" : " (\($0.message))" } ?? ""))
            }
            return UsageError("bucket \(name) cannot be used: \(what) answered \(S3Store.describe(r))")
        }
        do {
            let listed = try send(.GET, key: nil, query: [("list-type", "2"), ("max-keys", "1"),
                                                           ("prefix", endpoint.keyPrefix)], what: "LIST")
            guard listed.status == 200 else { throw usage(listed, "LIST") }
            let probe = ".sluice-probe-\(UInt32.random(in: 0...UInt32.max))"
            let put = try send(.PUT, key: probe, body: Array("probe".utf8), what: "PUT \(probe)")
            guard put.status == 200 else { throw usage(put, "PUT") }
            let deleted = try send(.DELETE, key: probe, what: "DELETE \(probe)")
            guard [200, 204, 404].contains(deleted.status) else { throw usage(deleted, "DELETE") }
        } catch let e as EngineError {
            throw UsageError("bucket \(name) cannot be used: \(e.message)")
        }
    }
}
