import AsyncHTTPClient
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import SluiceBase

/// An S3 answer: the status, headers and the whole body.
struct S3Response {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
}

extension S3Store {
    /// Sends one request and returns the service's answer, whatever its status, retrying
    /// (with `options.retry`'s backoff) connection failures, timeouts and retryable statuses
    /// while attempts remain. The last answer is returned even when retryable, so the caller
    /// reports the service's own error; a transport failure on the last attempt throws
    /// `EngineError`.
    ///
    /// - Parameters:
    ///   - key: the object, or nil for a request on the bucket itself.
    ///   - what: names the request in errors (`GET key`).
    func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [],
              headers: [(String, String)] = [], body: [UInt8] = [], what: String) throws -> S3Response {
        let payloadHash = signer == nil ? "UNSIGNED-PAYLOAD"
            : body.isEmpty ? S3Signer.emptyPayloadHash : S3Signer.payloadHash(body)
        var attempt = 1
        while true {
            do {
                let response = try sendOnce(method, key: key, query: query, headers: headers, body: body,
                                            payloadHash: payloadHash)
                if S3RetryPolicy.isRetryable(status: response.status), attempt < options.retry.maxAttempts {
                    backoff(attempt)
                    attempt += 1
                    continue
                }
                return response
            } catch let error where S3RetryPolicy.isRetryable(error: error) && attempt < options.retry.maxAttempts {
                backoff(attempt)
                attempt += 1
            } catch {
                throw EngineError("S3 \(what) at \(description): \(S3TLSFailure.describe(error) ?? "\(error)")"
                                  + (attempt > 1 ? " (after \(attempt) attempts)" : ""))
            }
        }
    }

    private func backoff(_ attempt: Int) {
        let seconds = options.retry.delay(beforeRetry: attempt)
        usleep(UInt32(min(seconds, 60) * 1_000_000))
    }

    /// One signed request, run on the client's event loops; this thread waits for the answer
    /// at most the request's deadline plus a grace period (the client fails the request at its
    /// deadline, so the grace is only a guard against a lost completion).
    private func sendOnce(_ method: HTTPMethod, key: String?, query: [(String, String)],
                          headers: [(String, String)], body: [UInt8], payloadHash: String) throws -> S3Response {
        let path = endpoint.path(key: key)
        let queryString = S3Signer.canonicalQuery(query)
        var all = [("host", endpoint.hostHeader)] + headers
        if let signer {
            all += signer.sign(method: method.rawValue, path: path, query: query, headers: all,
                               payloadHash: payloadHash)
        }
        let request = try HTTPClient.Request(url: endpoint.url(path: path, query: queryString), method: method,
                                             headers: HTTPHeaders(all),
                                             body: body.isEmpty && method != .PUT ? nil : .bytes(body))
        // Large bodies get time to travel: the base timeout plus a second per MiB.
        let seconds = options.requestTimeout + Double(body.count) / Double(1 << 20)
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        let future = client.execute(request: request, deadline: deadline)
        let response = try Self.wait(future, seconds: seconds + 10)
        var bytes: [UInt8] = []
        if var buffer = response.body {
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        return S3Response(status: Int(response.status.code), headers: response.headers, body: bytes)
    }

    /// Blocks this (non-event-loop) thread until `future` completes or `seconds` pass.
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds: Double) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<T, any Error>?>(nil)
        future.whenComplete { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success, let outcome = result.withLock({ $0 }) else {
            throw EngineError("no answer within \(Int(seconds)) s")
        }
        return try outcome.get()
    }

    /// The error to throw for an answer the caller cannot use: `EngineError` naming the
    /// request, the HTTP status and S3's error code and message.
    func failure(_ r: S3Response, _ what: String) -> EngineError {
        EngineError("S3 \(what) at \(description): \(Self.describe(r))")
    }

    /// `HTTP 403 AccessDenied: Access Denied`, or `HTTP 403` when the body says nothing.
    static func describe(_ r: S3Response) -> String {
        guard let e = S3XML.error(r.body) else { return "HTTP \(r.status)" }
        return "HTTP \(r.status) \(e.code)" + (e.message.isEmpty ? "" : ": \(e.message)")
    }
}
