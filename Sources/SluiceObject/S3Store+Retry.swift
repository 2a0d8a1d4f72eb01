import AsyncHTTPClient
import Foundation
import NIOSSL

/// When and how long S3Store waits before trying a request again.
///
/// Exponential backoff with "equal jitter": before retry *n* (1-based) the store sleeps a random
/// time in `[d/2, d]` where `d = min(maxDelay, baseDelay · 2^(n-1))`, so retries of many threads
/// spread out and the total wait is bounded by `maxAttempts · maxDelay`.
public struct S3RetryPolicy: Sendable, Equatable {
    /// Tries in all, the first included (1 means no retry).
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 6, baseDelay: Double = 0.1, maxDelay: Double = 5) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The longest wait before retry `retry` (1-based), without jitter.
    public func ceiling(beforeRetry retry: Int) -> Double {
        let exponent = Double(min(max(retry - 1, 0), 30))
        return min(maxDelay, baseDelay * pow(2, exponent))
    }

    /// The wait before retry `retry`, jittered: uniformly in `[ceiling/2, ceiling]`.
    public func delay(beforeRetry retry: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let d = ceiling(beforeRetry: retry)
        return d / 2 + d / 2 * min(max(random, 0), 1)
    }

    /// Whether an HTTP status is worth another try: server errors (500, 502, 503 SlowDown,
    /// 504), throttling (429) and request timeouts (408).
    public static func isRetryable(status: Int) -> Bool {
        status >= 500 || status == 429 || status == 408
    }

    /// Whether a transport failure (no HTTP answer) is worth another try: connection errors
    /// and timeouts are; requests the client refuses to send (bad URL, shut down) are not.
    static func isRetryable(error: any Error) -> Bool {
        // A certificate the client refuses stays refused: fail at once, with the reason.
        if S3TLSFailure.describe(error) != nil { return false }
        if let e = error as? HTTPClientError {
            let permanent: [HTTPClientError] = [.invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown]
            if permanent.contains(e) { return false }
        }
        return true
    }
}

/// One-line reasons for TLS failures (rather than BoringSSL's whole error stack).
enum S3TLSFailure {
    /// `TLS handshake failed: CERTIFICATE_VERIFY_FAILED`, or nil for an error that is not a
    /// refused handshake or certificate.
    static func describe(_ error: any Error) -> String? {
        switch error {
        case let error as NIOSSLError:
            guard case .handshakeFailed(let inner) = error else { return nil }
            return "TLS handshake failed: \(reason(inner))"
        case let error as NIOSSLExtraError:
            return "TLS: \(error)"
        default:
            return nil
        }
    }

    /// The reason name of the first entry of BoringSSL's error stack (the text between the
    /// last colon and " at file:line").
    private static func reason(_ error: BoringSSLError) -> String {
        guard case .sslError(let stack) = error, let first = stack.first else { return "\(error)" }
        var text = "\(first)"
        if let at = text.range(of: " at ", options: .backwards) { text = String(text[..<at.lowerBound]) }
        return text.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? text
    }
}
