import Foundation
import Logging
import ReelErrors

/// Retries transient storage failures with exponential backoff and jitter,
/// honouring a rate limit's `Retry-After`.
public struct RetryPolicy: Sendable {
    /// A finish waits for these attempts (at most about 3.5 s); after them the
    /// recording is pending and retried in the background.
    public var attempts = 4
    public var firstDelay = Duration.milliseconds(500)
    public var maxDelay = Duration.seconds(4)

    public init(attempts: Int = 4, firstDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(4)) {
        self.attempts = attempts
        self.firstDelay = firstDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1`: doubling from `firstDelay`, capped, and
    /// randomised between half and all of it so many clients do not retry in step.
    public func delay(after attempt: Int, retryAfter: Double? = nil) -> Duration {
        if let retryAfter { return min(maxDelay, .milliseconds(Int(retryAfter * 1000))) }
        let doubled = firstDelay * Int(pow(2.0, Double(min(attempt - 1, 20))))
        let capped = min(maxDelay, doubled)
        return capped * Double.random(in: 0.5...1.0)
    }

    func run(logger: Logger, operation: String, _ body: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let error as SupabaseError where error.isTransient && attempt < attempts {
                var retryAfter: Double?
                if case .rateLimited(let seconds, _) = error { retryAfter = seconds }
                let wait = delay(after: attempt, retryAfter: retryAfter)
                logger.notice("storage failed, retrying", metadata: [
                    "operation": "\(operation)", "attempt": "\(attempt)", "error": "\(describe(error))", "wait": "\(wait)"])
                try await Task.sleep(for: wait)
            }
        }
    }
}
