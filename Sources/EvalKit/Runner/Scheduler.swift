import Foundation
import Synchronization

/// Tells the scheduler to stop taking new work (a budget reached, an interrupt); requests in flight finish.
public final class StopSignal: Sendable {
    private struct State { var reason: String?; var interrupted = false }
    private let state = Mutex(State())
    public init() {}
    /// Asks the run to stop; the first reason given is kept.
    public func stop(_ why: String) { state.withLock { if $0.reason == nil { $0.reason = why } } }
    /// Stops the run because the user or the system asked (SIGINT, SIGTERM): a run so stopped failed.
    public func interrupt(by signalName: String) {
        state.withLock { s in
            guard s.reason == nil else { return }
            s.reason = "interrupted by \(signalName)"
            s.interrupted = true
        }
    }
    public var stopReason: String? { state.withLock { $0.reason } }
    public var isStopped: Bool { stopReason != nil }
    /// True when `interrupt` stopped the run (not a budget or a write failure).
    public var wasInterrupted: Bool { state.withLock { $0.interrupted } }
}

/// One request to make: a candidate asked about one test example (once per repeat).
public struct RunJob: Sendable, Equatable {
    // 32-bit storage: a large run plans 100,000 jobs and more.
    private var candidate: Int32, example: Int32, repetition: Int32
    public var candidateIndex: Int { get { Int(candidate) } set { candidate = Int32(clamping: newValue) } }
    public var exampleIndex: Int { get { Int(example) } set { example = Int32(clamping: newValue) } }
    public var repeatIndex: Int { get { Int(repetition) } set { repetition = Int32(clamping: newValue) } }
    public init(candidateIndex: Int, exampleIndex: Int, repeatIndex: Int = 0) {
        candidate = Int32(clamping: candidateIndex); example = Int32(clamping: exampleIndex); repetition = Int32(clamping: repeatIndex)
    }
}

/// What a model's start cost before its first answer, measured apart so that no candidate's latency
/// carries it: the provider's start (a server, a worker) and one warm-up request.
public struct ColdStart: Sendable, Equatable {
    public var modelID: String
    /// The provider's start: a server until it answered its ready URL, a worker process launched.
    public var startMs: Double
    /// The warm-up request after the start (nil when none was sent), and its error when it failed.
    public var warmupMs: Double?
    public var warmupError: String?

    public init(modelID: String, startMs: Double, warmupMs: Double? = nil, warmupError: String? = nil) {
        self.modelID = modelID; self.startMs = startMs; self.warmupMs = warmupMs; self.warmupError = warmupError
    }
}

/// What came back for one job, with its measured wall-clock latency.
/// A batch job submitted for a model, as the run folder records it.
public struct PendingBatchJob: Sendable, Equatable {
    public var modelID: String
    public var jobID: String
    public var submittedAt: Date
    public var requests: Int
    public init(modelID: String, jobID: String, submittedAt: Date, requests: Int) {
        self.modelID = modelID; self.jobID = jobID; self.submittedAt = submittedAt; self.requests = requests
    }
}

public struct Completion: Sendable {
    public var job: RunJob
    public var outcome: Result<ModelResponse, ProviderError>
    /// Latency of the last attempt (for a cached answer: as measured when it was first obtained).
    public var latencyMs: Double
    /// From the first attempt to the outcome: every attempt and every wait between them (for a cached
    /// answer, the latency first measured).
    public var totalMs: Double = 0
    /// Requests sent for this job (0 for a cached answer).
    public var attempts: Int = 1
    public var cached: Bool = false
    /// The kind of fault each failed attempt met, in order (empty when the first attempt answered).
    public var faults: [String] = []
}

/// The jobs of one model and how to reach it.
public struct ModelWorkload: Sendable {
    public var modelID: String
    public var provider: any ModelProvider
    public var concurrency: Int
    public var jobs: [RunJob]
    public var retry: RetryPolicy
    public var limiter: RateLimiter?
    /// Output tokens a request may use, for the tokens-per-minute budget.
    public var maxOutputTokens: Int
    public var cache: ResponseCache?
    /// Seeds the backoff jitter, so waits are reproducible.
    public var seed: UInt64
    /// What else decides this model's answers besides the request (digests of its weight and adapter
    /// files, its server's build), added to every cache key: a retrained adapter at the same path misses.
    public var cacheSalt: String
    /// Send one warm-up request after the provider starts, measured as cold start and not as any
    /// candidate's (for models evalkit starts: a first request after a start pays for loading).
    public var warmUp = false
    /// Measures the model's capacity after its jobs, before it is stopped; nil for none.
    public var probe: CapacityProbe? = nil
    /// Send the jobs as one provider batch job (the provider must be a `BatchProvider`); nil sends them one by one.
    public var batch: BatchSettings? = nil
    /// A batch job an earlier process of this run submitted and did not collect: polled instead of paying twice.
    public var pendingBatch: PendingBatchJob? = nil

    public init(modelID: String, provider: any ModelProvider, concurrency: Int, jobs: [RunJob], retry: RetryPolicy = RetryPolicy(RequestLimits()),
                limiter: RateLimiter? = nil, maxOutputTokens: Int = 0, cache: ResponseCache? = nil, seed: UInt64 = 0, cacheSalt: String = "",
                warmUp: Bool = false, probe: CapacityProbe? = nil) {
        self.modelID = modelID; self.provider = provider; self.concurrency = concurrency; self.jobs = jobs
        self.retry = retry; self.limiter = limiter; self.maxOutputTokens = maxOutputTokens; self.cache = cache; self.seed = seed
        self.cacheSalt = cacheSalt; self.warmUp = warmUp; self.probe = probe
    }
}

/// Runs every model's jobs at once, each model with its own bound on requests in flight.
public enum Scheduler {
    /// Sends every job, handing completions to `onCompletions` as they arrive (one at a time from the
    /// model, in batches from the cache: one call per answer made cached re-runs wait on each other).
    /// A model whose provider fails to start gets that failure recorded for each of its jobs.
    /// With `sequential`, models run one after another, each provider stopped when its model is done:
    /// local models then do not compete for the same CPU, so their latencies are their own.
    public static func run(_ workloads: [ModelWorkload], stop: StopSignal = StopSignal(), sequential: Bool = false,
                           request: @escaping @Sendable (RunJob) -> ModelRequest,
                           onStartFailure: @escaping @Sendable (String, ProviderError) async -> Void = { _, _ in },
                           onColdStart: @escaping @Sendable (ColdStart) async -> Void = { _ in },
                           onProbe: @escaping @Sendable ([CapacityLevel]) async -> Void = { _ in },
                           onSend: @escaping @Sendable (RunJob) -> Void = { _ in },
                           onBatch: @escaping @Sendable (PendingBatchJob, _ collected: Bool) async -> Void = { _, _ in },
                           onCompletions: @escaping @Sendable ([Completion]) async -> Void) async {
        @Sendable func runOne(_ workload: ModelWorkload) async {
            guard !workload.jobs.isEmpty, !stop.isStopped else { return }
            // Answers already in the cache need no model: a fully cached re-run starts no server and sends nothing,
            // unless the model's capacity is to be measured (a measurement no cache can hold).
            let misses = await answerFromCache(workload, stop: stop, request: request, onCompletions: onCompletions)
            guard !misses.isEmpty || workload.probe != nil, !stop.isStopped else { return }
            let started = ContinuousClock.now
            do throws(ProviderError) {
                try await workload.provider.start()
            } catch {
                // With every answer cached, only the probe needed the model: its absence fails no request.
                guard !misses.isEmpty else { return }
                await onStartFailure(workload.modelID, error)
                await onCompletions(misses.map { Completion(job: $0, outcome: .failure(error), latencyMs: 0, attempts: 0) })
                return
            }
            var cold = ColdStart(modelID: workload.modelID, startMs: milliseconds(since: started))
            if workload.warmUp, let first = misses.first ?? workload.jobs.first {
                let warming = ContinuousClock.now
                do throws(ProviderError) { _ = try await workload.provider.complete(request(first)) } catch { cold.warmupError = error.description }
                cold.warmupMs = milliseconds(since: warming)
            }
            await onColdStart(cold)
            var remaining = workload
            remaining.jobs = misses
            if let settings = workload.batch, let batching = workload.provider as? any BatchProvider {
                if !misses.isEmpty {
                    await runBatch(remaining, provider: batching, settings: settings, stop: stop, request: request, onSend: onSend, onBatch: onBatch,
                                   onCompletions: onCompletions)
                }
            } else if !misses.isEmpty {
                await runModel(remaining, stop: stop, request: request, onSend: onSend, onCompletions: onCompletions)
            }
            if let probe = workload.probe, !stop.isStopped { await onProbe(await probe.run(workload.provider, request: request, stop: stop)) }
        }
        if sequential {
            for workload in workloads {
                await runOne(workload)
                await workload.provider.stop()
            }
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for workload in workloads { group.addTask { await runOne(workload) } }
        }
    }

    static func runModel(_ workload: ModelWorkload, stop: StopSignal, request: @escaping @Sendable (RunJob) -> ModelRequest,
                         onSend: @escaping @Sendable (RunJob) -> Void = { _ in },
                         onCompletions: @escaping @Sendable ([Completion]) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for job in workload.jobs {
                if Task.isCancelled || stop.isStopped { break }
                if inFlight >= max(1, workload.concurrency) {
                    await group.next()
                    inFlight -= 1
                    if stop.isStopped { break }
                }
                group.addTask {
                    await onCompletions([await perform(job, workload: workload, stop: stop, request: request(job), onSend: onSend)])
                }
                inFlight += 1
            }
        }
    }

    /// Sends a model's jobs as one provider batch job (or picks up the one an earlier process submitted),
    /// polls it every `pollSeconds` and, once it ends, completes every job from its results: latency is the
    /// job's turnaround, from submission to the poll that found it ended. A job still running after
    /// `maxWaitSeconds` (or when the run is stopped) is left to finish: the run stops, and resuming it collects.
    static func runBatch(_ workload: ModelWorkload, provider: any BatchProvider, settings: BatchSettings, stop: StopSignal,
                         request: @escaping @Sendable (RunJob) -> ModelRequest, onSend: @escaping @Sendable (RunJob) -> Void,
                         onBatch: @escaping @Sendable (PendingBatchJob, Bool) async -> Void,
                         onCompletions: @escaping @Sendable ([Completion]) async -> Void) async {
        let items = workload.jobs.map { job in (customID: BatchCustomID.make(request(job).id), job: job) }
        let pending: PendingBatchJob
        if let earlier = workload.pendingBatch {
            pending = earlier
        } else {
            for job in workload.jobs { onSend(job) }
            let submittedAt = Date()
            do throws(ProviderError) {
                let jobID = try await provider.submitBatch(items.map { ($0.customID, request($0.job)) })
                pending = PendingBatchJob(modelID: workload.modelID, jobID: jobID, submittedAt: submittedAt, requests: items.count)
            } catch {
                await onCompletions(items.map { Completion(job: $0.job, outcome: .failure(error), latencyMs: 0, faults: [error.kind]) })
                return
            }
            await onBatch(pending, false)
        }
        let waitStarted = ContinuousClock.now
        var pollFailures = 0
        while true {
            let state: BatchJobState
            do throws(ProviderError) { state = try await provider.pollBatch(pending.jobID) } catch {
                // A poll that fails (a dropped connection, a 5xx) is tried again; the job itself is unharmed.
                pollFailures += 1
                if !error.isRetryable || pollFailures >= 10 {
                    stop.stop("batch job \(pending.jobID) of model \(workload.modelID) could not be polled (\(error)); resume the run to collect it")
                    return
                }
                try? await Task.sleep(for: .milliseconds(Int64(settings.pollSeconds * 1000)))
                continue
            }
            switch state {
            case .running(let progress):
                if stop.isStopped { return }
                if ContinuousClock.now - waitStarted >= .milliseconds(Int64(settings.maxWaitSeconds * 1000)) {
                    stop.stop("batch job \(pending.jobID) of model \(workload.modelID) is still running after \(JSON.formatNumber(settings.maxWaitSeconds)) s "
                              + "(\(progress)); resume the run to collect it without sending it again")
                    return
                }
                try? await Task.sleep(for: .milliseconds(Int64(settings.pollSeconds * 1000)))
            case let .ended(results, note):
                let turnaround = max(0, Date().timeIntervalSince(pending.submittedAt) * 1000)
                var completions: [Completion] = []
                for item in items {
                    let outcome = results[item.customID]
                        ?? .failure(.batch(job: pending.jobID, reason: "no result for this request" + (note.map { " (the job ended \($0))" } ?? "")))
                    if case .success(let response) = outcome, let key = cacheKey(item.job, workload: workload, request: request(item.job)) {
                        workload.cache?.store(key, response: response, latencyMs: turnaround)
                    }
                    var completion = Completion(job: item.job, outcome: outcome, latencyMs: turnaround, totalMs: turnaround)
                    if case .failure(let error) = outcome { completion.faults = [error.kind] }
                    completions.append(completion)
                }
                await onCompletions(completions)
                await onBatch(pending, true)
                return
            }
        }
    }

    /// Completes every job whose answer is in the cache (lookups spread over a few tasks); returns the rest, in order.
    static func answerFromCache(_ workload: ModelWorkload, stop: StopSignal, request: @escaping @Sendable (RunJob) -> ModelRequest,
                                onCompletions: @escaping @Sendable ([Completion]) async -> Void) async -> [RunJob] {
        guard let cache = workload.cache, cache.mode == .use else { return workload.jobs }
        let jobs = workload.jobs
        let parts = min(8, max(1, jobs.count / 256))
        let missed = await withTaskGroup(of: [Int].self) { group in
            for part in 0..<parts {
                group.addTask {
                    var misses: [Int] = []
                    var hits: [Completion] = []
                    for index in stride(from: part, to: jobs.count, by: parts) {
                        let job = jobs[index]
                        if stop.isStopped { break }
                        if let key = cacheKey(job, workload: workload, request: request(job)), let hit = cache.lookup(key) {
                            var completion = Completion(job: job, outcome: .success(hit.response), latencyMs: hit.latencyMs, attempts: 0, cached: true)
                            completion.totalMs = hit.latencyMs
                            hits.append(completion)
                            if hits.count == 256 {
                                await onCompletions(hits)
                                hits.removeAll(keepingCapacity: true)
                            }
                        } else {
                            misses.append(index)
                        }
                    }
                    if !hits.isEmpty { await onCompletions(hits) }
                    return misses
                }
            }
            var all: [Int] = []
            for await misses in group { all += misses }
            return all
        }
        // Back into the workload's order (example-major), which the parts interleaved.
        return missed.sorted().map { jobs[$0] }
    }

    static func cacheKey(_ job: RunJob, workload: ModelWorkload, request: ModelRequest) -> String? {
        workload.provider.cacheIdentity(for: request).map {
            ResponseCache.key(identity: workload.cacheSalt.isEmpty ? $0 : $0 + "|" + workload.cacheSalt, repeatIndex: job.repeatIndex)
        }
    }

    /// One job, sent with retries and pacing; a success is stored in the cache. `onSend` hears of each
    /// attempt just before it goes out.
    static func perform(_ job: RunJob, workload: ModelWorkload, stop: StopSignal, request: ModelRequest,
                        onSend: @Sendable (RunJob) -> Void = { _ in }) async -> Completion {
        let key = workload.cache == nil ? nil : cacheKey(job, workload: workload, request: request)
        var random = SeededRandom(seed: workload.seed ^ UInt64(job.candidateIndex &* 1_000_003 &+ job.exampleIndex &* 7919 &+ job.repeatIndex))
        let tokens = Text.estimatedTokens(request.prompt.completionText) + workload.maxOutputTokens
        var attempt = 0, sent = 0
        var faults: [String] = []
        var staleRetryUsed = false
        var firstSent: ContinuousClock.Instant? = nil
        while true {
            attempt += 1
            sent += 1
            await workload.limiter?.acquire(tokens: tokens)
            onSend(job)
            let started = ContinuousClock.now
            if firstSent == nil { firstSent = started }
            let outcome: Result<ModelResponse, ProviderError>
            do throws(ProviderError) { outcome = .success(try await workload.provider.complete(request)) } catch { outcome = .failure(error) }
            let ms = milliseconds(since: started)
            if case .failure(let error) = outcome { faults.append(error.kind) }
            // A kept connection the server closed as idle just as the request went out: send it again at
            // once, once per job, without taking one of the policy's attempts (it still counts as sent).
            if case .failure(.keptConnectionClosed) = outcome, !staleRetryUsed, !Task.isCancelled {
                staleRetryUsed = true
                attempt -= 1
                continue
            }
            if case .failure(let error) = outcome, error.isRetryable, attempt < workload.retry.maxAttempts, !Task.isCancelled {
                let wait = workload.retry.delay(afterAttempt: attempt, retryAfter: error.retryAfter, random: &random)
                try? await Task.sleep(for: .seconds(wait))
                continue
            }
            if case .success(let response) = outcome, let key { workload.cache?.store(key, response: response, latencyMs: ms) }
            var completion = Completion(job: job, outcome: outcome, latencyMs: ms, attempts: sent, faults: faults)
            completion.totalMs = milliseconds(since: firstSent ?? started)
            return completion
        }
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }
}
