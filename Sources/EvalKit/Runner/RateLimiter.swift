/// Paces one model's requests to a requests-per-minute and a tokens-per-minute budget
/// (token buckets that start full and refill continuously).
public actor RateLimiter {
    let requestsPerMinute: Double?
    let tokensPerMinute: Double?
    private var requestCredit: Double
    private var tokenCredit: Double
    private var last = ContinuousClock.now

    public init(requestsPerMinute: Double?, tokensPerMinute: Double?) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        requestCredit = requestsPerMinute.map { min($0, max(1, $0 / 60)) } ?? 0
        tokenCredit = tokensPerMinute ?? 0
    }

    /// Waits until one request of `tokens` tokens fits in both budgets, then spends it.
    public func acquire(tokens: Int) async {
        while true {
            let now = ContinuousClock.now
            let elapsed = seconds(now - last)
            last = now
            if let rpm = requestsPerMinute { requestCredit = min(max(1, rpm / 60), requestCredit + elapsed * rpm / 60) }
            // A request larger than the whole minute's budget waits for a full bucket, then goes.
            let cost = min(Double(tokens), tokensPerMinute ?? 0)
            if let tpm = tokensPerMinute { tokenCredit = min(tpm, tokenCredit + elapsed * tpm / 60) }
            let requestWait = requestsPerMinute.map { rpm in requestCredit >= 1 ? 0 : (1 - requestCredit) / (rpm / 60) } ?? 0
            let tokenWait = tokensPerMinute.map { tpm in tokenCredit >= cost ? 0 : (cost - tokenCredit) / (tpm / 60) } ?? 0
            if requestWait <= 0 && tokenWait <= 0 {
                if requestsPerMinute != nil { requestCredit -= 1 }
                if tokensPerMinute != nil { tokenCredit -= cost }
                return
            }
            try? await Task.sleep(for: .seconds(max(requestWait, tokenWait)))
        }
    }

    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}

/// Waits between attempts: full jitter over an exponential cap, never less than Retry-After.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseDelaySeconds: Double
    public var maxDelaySeconds: Double

    public init(_ limits: RequestLimits) {
        maxAttempts = limits.maxAttempts
        baseDelaySeconds = limits.baseDelaySeconds
        maxDelaySeconds = limits.maxDelaySeconds
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based).
    public func delay(afterAttempt attempt: Int, retryAfter: Double?, random: inout SeededRandom) -> Double {
        let cap = min(maxDelaySeconds, baseDelaySeconds * Double(1 << min(attempt - 1, 30)))
        let jitter = random.nextUnit() * cap
        // The server's Retry-After is honoured (up to five minutes), whatever the cap.
        return max(jitter, min(retryAfter ?? 0, 300))
    }
}
