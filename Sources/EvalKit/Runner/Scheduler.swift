import Synchronization

/// Tells the scheduler to stop taking new work (a budget reached, an interrupt); requests in flight finish.
public final class StopSignal: Sendable {
    private let reason = Mutex<String?>(nil)
    public init() {}
    /// Asks the run to stop; the first reason given is kept.
    public func stop(_ why: String) { reason.withLock { if $0 == nil { $0 = why } } }
    public var stopReason: String? { reason.withLock { $0 } }
    public var isStopped: Bool { stopReason != nil }
}

/// One request to make: a candidate asked about one test example (once per repeat).
public struct RunJob: Sendable, Equatable {
    public var candidateIndex: Int
    public var exampleIndex: Int
    public var repeatIndex: Int
    public init(candidateIndex: Int, exampleIndex: Int, repeatIndex: Int = 0) {
        self.candidateIndex = candidateIndex; self.exampleIndex = exampleIndex; self.repeatIndex = repeatIndex
    }
}

/// What came back for one job, with its measured wall-clock latency.
public struct Completion: Sendable {
    public var job: RunJob
    public var outcome: Result<ModelResponse, ProviderError>
    public var latencyMs: Double
}

/// The jobs of one model and how to reach it.
public struct ModelWorkload: Sendable {
    public var modelID: String
    public var provider: any ModelProvider
    public var concurrency: Int
    public var jobs: [RunJob]
    public init(modelID: String, provider: any ModelProvider, concurrency: Int, jobs: [RunJob]) {
        self.modelID = modelID; self.provider = provider; self.concurrency = concurrency; self.jobs = jobs
    }
}

/// Runs every model's jobs at once, each model with its own bound on requests in flight.
public enum Scheduler {
    /// Sends every job, handing each completion to `onCompletion` as it arrives.
    /// A model whose provider fails to start gets that failure recorded for each of its jobs.
    public static func run(_ workloads: [ModelWorkload], stop: StopSignal = StopSignal(),
                           request: @escaping @Sendable (RunJob) -> ModelRequest,
                           onStartFailure: @escaping @Sendable (String, ProviderError) async -> Void = { _, _ in },
                           onCompletion: @escaping @Sendable (Completion) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for workload in workloads {
                group.addTask {
                    do throws(ProviderError) {
                        try await workload.provider.start()
                    } catch {
                        await onStartFailure(workload.modelID, error)
                        for job in workload.jobs {
                            await onCompletion(Completion(job: job, outcome: .failure(error), latencyMs: 0))
                        }
                        return
                    }
                    await runModel(workload, stop: stop, request: request, onCompletion: onCompletion)
                }
            }
        }
    }

    static func runModel(_ workload: ModelWorkload, stop: StopSignal, request: @escaping @Sendable (RunJob) -> ModelRequest,
                         onCompletion: @escaping @Sendable (Completion) async -> Void) async {
        let provider = workload.provider
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
                    let started = ContinuousClock.now
                    let outcome: Result<ModelResponse, ProviderError>
                    do throws(ProviderError) { outcome = .success(try await provider.complete(request(job))) } catch { outcome = .failure(error) }
                    let elapsed = ContinuousClock.now - started
                    let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                    await onCompletion(Completion(job: job, outcome: outcome, latencyMs: ms))
                }
                inFlight += 1
            }
        }
    }
}
