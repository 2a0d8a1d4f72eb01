import Foundation
import SluiceBase
@testable import SluiceObject
import SluiceTestSupport
import XCTest

/// S3Store against moto's S3 server on loopback (one per test class run), plus the pieces that
/// need no server: signing against AWS's published example, URL parsing, XML and backoff.
final class S3StoreTests: XCTestCase {
    static let server = Locked<TestServer?>(nil)
    static let bucket = "sluice-test"
    static let credentials = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                              "AWS_REGION": "us-east-1"]

    override class func tearDown() {
        server.withLock { $0?.stop(); $0 = nil }
        super.tearDown()
    }

    /// The shared moto server with the test bucket, started on first use.
    func motoEndpoint() throws -> String {
        guard TestServer.motoInstalled else { throw EngineError(TestServer.installHint) }
        return try Self.server.withLock { server in
            if let server { return server.endpoint }
            let started = try TestServer.moto()
            let store = try S3Store(url: "\(started.endpoint)/\(Self.bucket)", options: Self.options())
            let r = try store.send(.PUT, key: nil, what: "create bucket")
            guard r.status == 200 else { throw EngineError("creating the bucket: HTTP \(r.status)") }
            server = started
            return started.endpoint
        }
    }

    static func options(_ change: (inout StoreOptions) -> Void = { _ in }) -> StoreOptions {
        var o = StoreOptions(accessKey: "testing", secretKey: "testing", region: "us-east-1")
        change(&o)
        return o
    }

    func makeStore(prefix: String = "", _ change: (inout StoreOptions) -> Void = { _ in }) throws -> S3Store {
        let endpoint = try motoEndpoint()
        return try S3Store(url: "\(endpoint)/\(Self.bucket)/\(prefix)", options: Self.options(change))
    }

    // MARK: Against moto

    func testConformance() throws {
        let store = try makeStore(prefix: "conf")
        XCTAssertEqual(store.description, "s3://127.0.0.1:\(store.endpoint.port!)/\(Self.bucket)/conf/")
        ObjectStoreConformance.runAll(on: store)
        // The key prefix is real: the objects live under conf/ in the bucket.
        let bare = try makeStore()
        XCTAssertFalse(try bare.list(prefix: "conf/conformance/", after: nil, limit: 1).isEmpty)
        XCTAssertTrue(try bare.list(prefix: "conformance/", after: nil, limit: 1).isEmpty)
    }

    func testOpenByStorageName() throws {
        let endpoint = try motoEndpoint()
        let store = try ObjectStores.open(storage: "s3", bucket: "\(endpoint)/\(Self.bucket)/named",
                                          options: Self.options())
        XCTAssertTrue(store is S3Store)
        try store.put("k", [1, 2, 3])
        XCTAssertEqual(try store.get("k", offset: 1, length: nil), [2, 3])
    }

    func testMultipartUpload() throws {
        let store = try makeStore(prefix: "multipart") {
            $0.multipartThreshold = 6 << 20
            $0.partSize = 5 << 20
        }
        let data = ObjectStoreConformance.pattern((12 << 20) + 123, seed: 77)
        try store.put("big", data)
        XCTAssertEqual(try store.head("big")?.size, data.count)
        XCTAssertEqual(try store.get("big", offset: 0, length: nil), data)
        let start = (5 << 20) - 10
        XCTAssertEqual(try store.get("big", offset: start, length: 100), Array(data[start..<start + 100]),
                       "range across a part boundary")
        // Three parts were uploaded: S3's ETag of a multipart object ends in -<parts>.
        let r = try store.send(.HEAD, key: "big", what: "HEAD")
        XCTAssertTrue(r.headers.first(name: "etag")?.contains("-3") ?? false, "\(r.headers)")
        let none = try store.send(.GET, key: nil, query: [("uploads", "")], what: "list uploads")
        XCTAssertFalse(String(decoding: none.body, as: UTF8.self).contains("<UploadId>"), "no upload left open")
    }

    func testRangeGet() throws {
        let store = try makeStore(prefix: "range")
        let data = ObjectStoreConformance.pattern(10000, seed: 3)
        try store.put("r", data)
        XCTAssertEqual(try store.get("r", offset: 4096, length: 4096), Array(data[4096..<8192]))
        XCTAssertEqual(try store.get("r", offset: 9999, length: nil), [data[9999]])
        XCTAssertEqual(try store.get("r", offset: 10000, length: nil), [])
        XCTAssertThrowsError(try store.get("nope", offset: 10, length: 10)) {
            XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory)
        }
        XCTAssertThrowsError(try store.get("nope", offset: 0, length: 0)) {
            XCTAssertEqual($0 as? Errno, .noSuchFileOrDirectory)
        }
    }

    func testListingContinuesPast1000Keys() throws {
        let store = try makeStore(prefix: "many-\(UInt32.random(in: 0...UInt32.max))")
        let keys = (0..<1234).map { "k/\($0)" }
        let failed = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in stride(from: t, to: keys.count, by: 8) {
                do { try store.put(keys[i], [UInt8(i & 0xFF)]) } catch { failed.withLock { $0.append("\(error)") } }
            }
        }
        XCTAssertEqual(failed.withLock { $0 }, [])
        let all = try store.list(prefix: "k/", after: nil, limit: 5000)
        XCTAssertEqual(all.map(\.key), keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(try store.list(prefix: "k/", after: "k/5", limit: 3000).count,
                       all.filter { "k/5".utf8.lexicographicallyPrecedes($0.key.utf8) }.count)
        XCTAssertEqual(try store.list(prefix: "k/", after: nil, limit: 1100).count, 1100)
    }

    func testWrongCredentialsNameTheS3Code() throws {
        guard TestServer.motoInstalled else { return XCTFail(TestServer.installHint) }
        // With authentication on, moto checks every access key against its (empty) IAM.
        let secured = try TestServer.moto(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "0"])
        defer { secured.stop() }
        let store = try S3Store(url: "\(secured.endpoint)/\(Self.bucket)",
                                options: Self.options { $0.accessKey = "AKIAWRONGWRONGWRONG" })
        XCTAssertThrowsError(try store.put("k", [1])) { error in
            XCTAssertTrue(error is EngineError, "\(error)")
            XCTAssertTrue("\(error)".contains("InvalidAccessKeyId"), "\(error)")
            XCTAssertTrue("\(error)".contains("403"), "\(error)")
        }
        XCTAssertThrowsError(try store.check()) { error in
            XCTAssertTrue((error as? UsageError)?.message.hasPrefix(
                "access to bucket \(Self.bucket) denied: InvalidAccessKeyId") ?? false, "\(error)")
        }
    }

    func testCheck() throws {
        let endpoint = try motoEndpoint()
        try makeStore(prefix: "checked").check()
        XCTAssertEqual(try makeStore(prefix: "checked").list(prefix: "", after: nil, limit: 10), [],
                       "the probe object is gone")
        let missing = try S3Store(url: "\(endpoint)/no-such-bucket", options: Self.options())
        XCTAssertThrowsError(try missing.check()) { error in
            XCTAssertEqual((error as? UsageError)?.message,
                           "bucket no-such-bucket does not exist at http://127.0.0.1:\(missing.endpoint.port!)")
        }
        XCTAssertThrowsError(try missing.get("k", offset: 0, length: nil)) { error in
            XCTAssertTrue("\(error)".contains("NoSuchBucket"), "\(error)")
        }
    }

    func testBoto3ReadsAndWritesTheSameBytes() throws {
        let endpoint = try motoEndpoint()
        let store = try makeStore(prefix: "interop")
        let dir = makeTempDirectory(self)
        let ours = ObjectStoreConformance.pattern(3 << 20, seed: 11)
        let theirs = ObjectStoreConformance.pattern(1 << 20 + 17, seed: 12)
        try store.put("from-sluice/obj", ours)
        try Data(theirs).write(to: URL(fileURLWithPath: dir + "/theirs"))
        let script = """
        import boto3, sys
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
        body = s3.get_object(Bucket="\(Self.bucket)", Key="interop/from-sluice/obj")["Body"].read()
        open(sys.argv[2] + "/ours", "wb").write(body)
        s3.put_object(Bucket="\(Self.bucket)", Key="interop/from-boto3/obj", Body=open(sys.argv[2] + "/theirs", "rb").read())
        """
        let r = TestServer.run(["-c", script, endpoint, dir], environment: Self.credentials)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try Array(Data(contentsOf: URL(fileURLWithPath: dir + "/ours"))), ours,
                       "boto3 reads what S3Store wrote")
        XCTAssertEqual(try store.get("from-boto3/obj", offset: 0, length: nil), theirs, "S3Store reads what boto3 wrote")
        XCTAssertEqual(try store.head("from-boto3/obj")?.size, theirs.count)
    }

    // MARK: Retries against a scripted server

    func testRetriesSlowDown() throws {
        guard TestServer.run(["-c", "import http.server"]).status == 0 else { return XCTFail("python3 is missing") }
        let server = try TestServer.script(slowDownServerScript)
        defer { server.stop() }
        let store = try S3Store(url: "\(server.endpoint)/bucket", options: Self.options {
            $0.retry = S3RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05)
        })
        XCTAssertEqual(try store.get("k", offset: 0, length: nil), Array("hello".utf8), "two 503s, then success")
        XCTAssertThrowsError(try store.get("always-busy", offset: 0, length: nil)) { error in
            XCTAssertTrue("\(error)".contains("HTTP 503 SlowDown"), "\(error)")
        }
        let count = TestServer.run(["-c", "import urllib.request, sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                    server.endpoint + "/count"])
        XCTAssertEqual(count.output.trimmingCharacters(in: .whitespacesAndNewlines), "7", "3 + 4 attempts")
    }

    func testConnectionRefusedIsRetriedThenEngineError() throws {
        let store = try S3Store(url: "http://127.0.0.1:9/bucket", options: Self.options {
            $0.retry = S3RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.02)
        })
        XCTAssertThrowsError(try store.head("k")) { error in
            XCTAssertTrue(error is EngineError, "\(error)")
            XCTAssertTrue("\(error)".contains("after 3 attempts"), "\(error)")
        }
    }

    // MARK: No server

    func testBackoffSchedule() {
        let policy = S3RetryPolicy(maxAttempts: 6, baseDelay: 0.1, maxDelay: 1)
        XCTAssertEqual((1...6).map { policy.ceiling(beforeRetry: $0) }, [0.1, 0.2, 0.4, 0.8, 1, 1])
        XCTAssertEqual(policy.delay(beforeRetry: 3, random: 0), 0.2)
        XCTAssertEqual(policy.delay(beforeRetry: 3, random: 1), 0.4)
        for _ in 0..<100 {
            let d = policy.delay(beforeRetry: 2)
            XCTAssertTrue(d >= 0.1 && d <= 0.2, "\(d)")
        }
        XCTAssertEqual(S3RetryPolicy(maxAttempts: 0).maxAttempts, 1)
        XCTAssertEqual([500, 503, 504, 429, 408, 404, 403, 400, 200].map(S3RetryPolicy.isRetryable(status:)),
                       [true, true, true, true, true, false, false, false, false])
    }

    /// AWS's published Signature Version 4 examples for S3 (GET Object with a range and a
    /// ListObjects query), with their documented signatures.
    func testSignatureMatchesAWSExamples() {
        let signer = S3Signer(credentials: S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE",
                                                         secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                              region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        let get = signer.sign(method: "GET", path: "/test.txt", query: [],
                              headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                              payloadHash: S3Signer.emptyPayloadHash, date: date)
        XCTAssertEqual(get.first { $0.0 == "authorization" }?.1,
                       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                       + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                       + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        XCTAssertEqual(get.first { $0.0 == "x-amz-date" }?.1, "20130524T000000Z")
        let list = signer.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
                               headers: [("host", "examplebucket.s3.amazonaws.com")],
                               payloadHash: S3Signer.emptyPayloadHash, date: date)
        XCTAssertTrue(list.first { $0.0 == "authorization" }?.1
            .hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") ?? false,
                      "\(list)")
        XCTAssertEqual(S3Signer.uriEncode("a b/c+d~é", keepSlash: true), "a%20b/c%2Bd~%C3%A9")
        XCTAssertEqual(S3Signer.canonicalQuery([("uploads", ""), ("a", "x/y")]), "a=x%2Fy&uploads=")
    }

    /// The CA file of an https endpoint is read when the store opens: a missing or non-PEM
    /// file is one UsageError then, not a failure of every request.
    func testBadCAFileIsUsageErrorAtOpen() throws {
        let notPEM = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-ca-\(UUID().uuidString).pem").path
        try "hello".write(toFile: notPEM, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: notPEM) }
        for (file, message) in [("/nonexistent/ca.pem", "CA file /nonexistent/ca.pem cannot be read"),
                                (notPEM, "CA file \(notPEM) holds no PEM certificate")] {
            XCTAssertThrowsError(try S3Store(url: "https://127.0.0.1:1/b", options: StoreOptions(caFile: file))) { error in
                XCTAssertEqual((error as? UsageError)?.message, message)
            }
        }
    }

    func testEndpointParsing() throws {
        let path = try S3Endpoint(url: "http://127.0.0.1:9000/bucket/some/prefix")
        XCTAssertEqual([path.bucket, path.keyPrefix, path.hostHeader], ["bucket", "some/prefix/", "127.0.0.1:9000"])
        XCTAssertFalse(path.virtualHosted)
        XCTAssertEqual(path.path(key: "a b"), "/bucket/some/prefix/a%20b")
        XCTAssertEqual(path.path(key: nil), "/bucket")

        let aws = try S3Endpoint(url: "https://mybucket.s3.eu-west-1.amazonaws.com/vols")
        XCTAssertTrue(aws.virtualHosted)
        XCTAssertEqual([aws.bucket, aws.keyPrefix, aws.regionFromHost], ["mybucket", "vols/", "eu-west-1"])
        XCTAssertEqual(aws.path(key: nil), "/")
        XCTAssertEqual(aws.path(key: "k"), "/vols/k")
        XCTAssertEqual(try S3Endpoint(url: "https://b.s3.amazonaws.com").regionFromHost, nil)

        let forced = try S3Endpoint(url: "https://data.minio.example/", virtualHosted: true)
        XCTAssertEqual(forced.bucket, "data")
        let pathOnAWS = try S3Endpoint(url: "https://s3.us-east-2.amazonaws.com/bkt")
        XCTAssertEqual([pathOnAWS.bucket, pathOnAWS.regionFromHost], ["bkt", "us-east-2"])
        XCTAssertFalse(pathOnAWS.virtualHosted)

        for bad in ["bucket", "ftp://host/b", "http://127.0.0.1:9000/", "http:///b"] {
            XCTAssertThrowsError(try S3Endpoint(url: bad), bad) { XCTAssertTrue($0 is UsageError, "\($0)") }
        }
    }

    func testXMLParsing() throws {
        let list = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p</Prefix>
        <KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
        <Contents><Key>p/a&amp;b</Key><Size>10</Size><ETag>"x"</ETag></Contents>
        <Contents><Key>p/c</Key><Size>0</Size></Contents>
        <NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>
        """
        let page = try S3XML.listPage(Array(list.utf8))
        XCTAssertEqual(page.objects.map(\.key), ["p/a&b", "p/c"])
        XCTAssertEqual(page.objects.map(\.size), [10, 0])
        XCTAssertTrue(page.isTruncated)
        XCTAssertEqual(page.nextContinuationToken, "tok+/=")
        XCTAssertThrowsError(try S3XML.listPage(Array("<Error><Code>X</Code></Error>".utf8)))
        XCTAssertThrowsError(try S3XML.listPage(Array("not xml".utf8)))

        let error = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>x</BucketName></Error>"
        XCTAssertEqual(S3XML.error(Array(error.utf8)),
                       S3ErrorBody(code: "NoSuchBucket", message: "The specified bucket does not exist"))
        XCTAssertNil(S3XML.error(Array("hello".utf8)))
        XCTAssertEqual(try S3XML.uploadID(Array(
            "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId></InitiateMultipartUploadResult>".utf8)),
            "u-1")
        XCTAssertEqual(String(decoding: S3XML.completeBody(etags: ["\"e1\"", "\"e2\""]), as: UTF8.self),
                       "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"
                       + "<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part></CompleteMultipartUpload>")
    }

    func testCredentialsFromEnvironment() throws {
        XCTAssertEqual(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s",
                                                      "AWS_SESSION_TOKEN": "t"]),
                       S3Credentials(accessKey: "a", secretKey: "s", sessionToken: "t"))
        XCTAssertNil(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a"]))
        XCTAssertThrowsError(try S3Store(url: "http://127.0.0.1:1/b", options: StoreOptions(accessKey: "a"))) {
            XCTAssertTrue($0 is UsageError)
        }
    }
}
