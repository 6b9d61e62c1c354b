/// What one level of the capacity probe measured for one candidate.
public struct CapacityLevel: Sendable, Equatable {
    public var candidate: String
    /// Requests kept in flight.
    public var concurrency: Int
    public var requests: Int
    public var errors: Int
    /// Wall-clock seconds from the first request sent to the last answer.
    public var seconds: Double
    /// Answered requests ÷ seconds.
    public var requestsPerSecond: Double
    /// Latency percentiles of the answered requests.
    public var p50Ms: Double?
    public var p95Ms: Double?

    public init(candidate: String, concurrency: Int, requests: Int, errors: Int, seconds: Double, requestsPerSecond: Double,
                p50Ms: Double?, p95Ms: Double?) {
        self.candidate = candidate; self.concurrency = concurrency; self.requests = requests; self.errors = errors
        self.seconds = seconds; self.requestsPerSecond = requestsPerSecond; self.p50Ms = p50Ms; self.p95Ms = p95Ms
    }
}

/// Measures how many requests a second one instance of a model serves: after the accuracy pass, the
/// candidate's own requests (test examples in turn) at 1, 2, 4, … in flight, until throughput stops
/// growing (under 10 % more than the best level so far), p95 passes the latency limit, a request fails,
/// or the largest level is done. No retries and no cache: every request reaches the model.
public struct CapacityProbe: Sendable {
    /// Throughput must grow by this factor for a level to count as more: doubling the requests in flight
    /// for less is the knee (and within measurement noise).
    public static let growth = 1.10

    public var settings: CapacityProbeSettings
    /// The policy's p95 limit: a level above it ends the probe.
    public var latencyLimitMs: Double?
    /// The model's candidates (index into the experiment's candidates, id).
    public var candidates: [(index: Int, id: String)]
    /// Test examples to take requests from, in turn.
    public var exampleCount: Int

    public init(settings: CapacityProbeSettings, latencyLimitMs: Double?, candidates: [(index: Int, id: String)], exampleCount: Int) {
        self.settings = settings; self.latencyLimitMs = latencyLimitMs; self.candidates = candidates; self.exampleCount = exampleCount
    }

    /// The concurrency levels to try: powers of two up to the maximum, and the maximum itself.
    public var levels: [Int] {
        var out: [Int] = []
        var c = 1
        while c < settings.maxConcurrency { out.append(c); c *= 2 }
        return out + [settings.maxConcurrency]
    }

    /// Probes each candidate in turn through `provider` (started, and not stopped here).
    public func run(_ provider: any ModelProvider, request: @escaping @Sendable (RunJob) -> ModelRequest, stop: StopSignal) async -> [CapacityLevel] {
        guard exampleCount > 0 else { return [] }
        var out: [CapacityLevel] = []
        for candidate in candidates {
            var best = 0.0
            for concurrency in levels {
                if stop.isStopped { return out }
                let count = max(settings.requestsPerLevel, 2 * concurrency)
                let jobs = (0..<count).map { RunJob(candidateIndex: candidate.index, exampleIndex: $0 % exampleCount, repeatIndex: 0) }
                let level = await measure(jobs, concurrency: concurrency, candidate: candidate.id, provider: provider, request: request)
                out.append(level)
                let tooSlow = latencyLimitMs.map { (level.p95Ms ?? 0) > $0 } ?? false
                let flat = level.requestsPerSecond < best * Self.growth
                best = max(best, level.requestsPerSecond)
                if level.errors > 0 || tooSlow || flat { break }
            }
        }
        return out
    }

    func measure(_ jobs: [RunJob], concurrency: Int, candidate: String, provider: any ModelProvider,
                 request: @escaping @Sendable (RunJob) -> ModelRequest) async -> CapacityLevel {
        let started = ContinuousClock.now
        let outcomes = await withTaskGroup(of: (ok: Bool, ms: Double).self) { group in
            var results: [(ok: Bool, ms: Double)] = []
            var next = 0
            func launch() {
                let job = jobs[next]
                next += 1
                group.addTask {
                    let sent = ContinuousClock.now
                    do throws(ProviderError) {
                        _ = try await provider.complete(request(job))
                        return (true, Scheduler.milliseconds(since: sent))
                    } catch {
                        return (false, Scheduler.milliseconds(since: sent))
                    }
                }
            }
            while next < min(concurrency, jobs.count) { launch() }
            for await outcome in group {
                results.append(outcome)
                if next < jobs.count { launch() }
            }
            return results
        }
        let seconds = Scheduler.milliseconds(since: started) / 1000
        let latencies = outcomes.filter(\.ok).map(\.ms).sorted()
        return CapacityLevel(candidate: candidate, concurrency: concurrency, requests: jobs.count, errors: outcomes.count - latencies.count,
                             seconds: seconds, requestsPerSecond: seconds > 0 ? Double(latencies.count) / seconds : 0,
                             p50Ms: Quantile.linear(latencies, 0.5), p95Ms: Quantile.linear(latencies, 0.95))
    }
}
