import AsyncHTTPClient
import Foundation

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
        if let e = error as? HTTPClientError {
            let permanent: [HTTPClientError] = [.invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown]
            if permanent.contains(e) { return false }
        }
        return true
    }
}
