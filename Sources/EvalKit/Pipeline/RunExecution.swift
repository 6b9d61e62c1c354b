import Foundation

/// What executing a run produced.
struct ExecutedRun: Sendable {
    /// Per-example results by candidate (in the experiment's order), each in canonical order.
    var results: [ResultColumn]
    var modelFailures: [(model: String, reason: String)]
    var training: [RunSummary.TrainingSummary]
    var curves: [TrainingCurve]
    /// The planned environment with the build fingerprints the servers reported.
    var environment: RunEnvironment
    /// Requests sent per candidate over every process of the run; nil without a readable ledger.
    var sent: [String: Int]?
    /// Each model start over every process of the run, measured apart from every candidate's latency.
    var coldStarts: [ColdStart]
    /// What the capacity probe measured, per candidate (a resumed run keeps the levels of candidates not probed again).
    var capacity: [CapacityLevel]
    /// The LLM judge's grades (empty without a judge).
    var judgements: [Judgement] = []
}

/// Executes a planned run: makes each model's provider (training in-process models first), sends every
/// request not already answered through the scheduler, and journals each result as it arrives.
enum RunExecution {
    static func execute(_ plan: RunPlan, progress: @escaping @Sendable (ProgressSnapshot) -> Void) async throws(CompareError) -> ExecutedRun {
        let experiment = plan.experiment
        // Step 3 of the data flow: in-process models train before any request is sent.
        var providers: [String: any ModelProvider] = [:]
        var training: [RunSummary.TrainingSummary] = []
        var curves: [TrainingCurve] = []
        for model in plan.models {
            let made = try makeProvider(model, plan: plan)
            providers[model.id] = made.provider
            if let t = made.training {
                training.append(.init(modelID: model.id, seconds: t.seconds, examples: t.examples, last: t.last, bestEpoch: t.bestEpoch,
                                      stoppedEarly: t.stoppedEarly))
                curves.append(t.curve)
            }
            if let outside = RunSummary.TrainingSummary.outside(experiment, model: model) { training.append(outside) }
        }

        // A resumed run's finished results: a torn last line (the process was killed inside a write) is cut.
        var previous: [ExampleResult] = []
        if plan.options.resume {
            do { previous = try ResultsJournal.recover(path: plan.directory + "/results.jsonl") } catch { throw .output(error) }
        }
        let journal: ResultsJournal
        let ledger: SentLedger
        do {
            journal = try ResultsJournal(path: plan.directory + "/results.jsonl")
            ledger = try SentLedger(directory: plan.directory)
        } catch { throw .output(error) }
        let candidates = experiment.candidates
        let testExamples = plan.testExamples
        let stop = plan.options.stop
        let recorder = RunRecorder(plan: plan, journal: journal, startedAt: ContinuousClock.now, progress: progress)
        let finished = await recorder.restore(previous)
        previous = []
        // Batch jobs an interrupted process of this run submitted and did not collect: polled, not sent again.
        var pendingBatches: [String: PendingBatchJob] = [:]
        if plan.options.resume {
            do { pendingBatches = try BatchJobsFile.pending(directory: plan.directory) } catch {
                throw .output(.cannotRead(path: plan.directory + "/" + BatchJobsFile.name, reason: error.description))
            }
        }
        var workloads = self.workloads(plan, providers: providers, finished: finished)
        for i in workloads.indices { workloads[i].pendingBatch = pendingBatches[workloads[i].modelID] }
        await Scheduler.run(workloads, stop: stop, sequential: experiment.run.sequentialModels, request: { job in
            let candidate = candidates[job.candidateIndex]
            let example = testExamples[job.exampleIndex]
            return ModelRequest(prompt: plan.prompt(job) ?? RenderedPrompt(system: nil, user: example.input), input: example.input,
                                id: "\(candidate.id)/\(example.id)/\(job.repeatIndex)", labels: experiment.task.labels)
        }, onStartFailure: { model, error in
            await recorder.modelFailed(model, error)
        }, onColdStart: { cold in
            await recorder.started(cold)
        }, onProbe: { levels in
            await recorder.probed(levels)
        }, onSend: { job in
            do throws(ReportError) {
                try ledger.record(candidate: candidates[job.candidateIndex].id, example: testExamples[job.exampleIndex].id, repeatIndex: job.repeatIndex)
            } catch {
                stop.stop("\(SentLedger.fileName) cannot be written (\(error)); the run stopped so that every request sent is counted")
            }
        }, onBatch: { job, collected in
            do throws(ReportError) { try BatchJobsFile.append(job, collected: collected, directory: plan.directory) } catch {
                stop.stop("\(BatchJobsFile.name) cannot be written (\(error)); the run stopped so that no batch job is paid for twice")
            }
        }, onCompletions: { completions in
            await recorder.record(completions)
        })
        for provider in providers.values { await provider.stop() }
        journal.close()
        if let writeError = await recorder.writeError { throw .output(writeError) }

        var results = await recorder.takeResults()
        for i in results.indices { results[i].sortCanonically() }
        // The judge grades the answers once they are all in (and, resuming, those it had not graded yet).
        let judgements = try await JudgePass.run(plan, results: results)
        // A damaged ledger (edited by hand) leaves the results' own counts, a lower bound.
        let sent = (try? SentLedger.counts(directory: plan.directory)) ?? nil
        return ExecutedRun(results: results, modelFailures: await recorder.modelFailures, training: training, curves: curves,
                           environment: await recorder.environment(plan.environment, previous: plan.previousEnvironment), sent: sent,
                           coldStarts: plan.previousColdStarts + (await recorder.coldStarts),
                           capacity: await recorder.capacity(previous: plan.options.resume ? ((try? CapacityFile.read(directory: plan.directory)) ?? []) : []),
                           judgements: judgements)
    }

    /// A model's provider, made (and trained, for an in-process model) for this run; a model with a managed
    /// server gets it started before its first request and stopped after its last.
    static func makeProvider(_ model: ModelSpec, plan: RunPlan) throws(CompareError) -> PreparedProvider {
        let experiment = plan.experiment
        guard var kind = model.runnable else { throw .notRunnable(model: model.id, provider: model.providerName) }
        let context = ProviderContext(modelID: model.id, concurrency: plan.concurrency[model.id] ?? model.concurrency,
                                      baseDirectory: experiment.baseDirectory, labels: experiment.task.labels,
                                      train: plan.prepared.dataset.train, validation: plan.prepared.dataset.validation)
        // A shared server: one for every model naming the same block, on ports chosen once.
        if let server = model.server, server.shared {
            let holders = Set(plan.models.filter { $0.server == server }.map(\.id) + [model.id])
            let lease = plan.sharedServers.server(server, directory: experiment.baseDirectory, holders: holders)
            if server.choosesPort {
                guard let urlTemplate = kind.serverURL, let served = kind.served(at: lease.ports.map { ServerSettings.withPort(urlTemplate, $0) }) else {
                    throw .notRunnable(model: model.id, provider: model.providerName)
                }
                kind = served
            }
            var made = kind.makeProvider(context)
            made.provider = SharedServedProvider(inner: made.provider, shared: lease.server, modelID: model.id)
            return made
        }
        // Servers on ports evalkit chooses: one free port each, filled in for {port}, the model pointed at them all.
        var servers = model.server.map { [$0] } ?? []
        if let server = model.server, server.choosesPort {
            let ports = FreePorts.take(server.replicas)
            guard let urlTemplate = kind.serverURL, let served = kind.served(at: ports.map { ServerSettings.withPort(urlTemplate, $0) }) else {
                throw .notRunnable(model: model.id, provider: model.providerName)
            }
            kind = served
            servers = ports.map(server.on(port:))
        }
        var made = kind.makeProvider(context)
        if !servers.isEmpty {
            made.provider = ServedProvider(inner: made.provider, servers: servers.map {
                ManagedServer(settings: $0, modelID: model.id, directory: experiment.baseDirectory)
            })
        }
        return made
    }

    /// Each model's jobs, in example-major order so that an interrupted run has covered every candidate
    /// evenly, leaving out those `finished` holds.
    static func workloads(_ plan: RunPlan, providers: [String: any ModelProvider], finished: Set<RunRecorder.JobKey>) -> [ModelWorkload] {
        let experiment = plan.experiment
        let candidates = experiment.candidates
        let cache = ResponseCache(directory: plan.cacheDirectory, mode: plan.options.cacheMode)
        return plan.models.compactMap { model in
            guard let provider = providers[model.id] else { return nil }
            let indices = candidates.indices.filter { candidates[$0].modelID == model.id }
            var jobs: [RunJob] = []
            jobs.reserveCapacity(experiment.run.repeats * plan.testExamples.count * indices.count)
            for k in 0..<experiment.run.repeats {
                for e in plan.testExamples.indices {
                    for c in indices where finished.isEmpty || !finished.contains(RunRecorder.JobKey(candidates[c].id, plan.testExamples[e].id, k)) {
                        jobs.append(RunJob(candidateIndex: c, exampleIndex: e, repeatIndex: k))
                    }
                }
            }
            var workload = self.workload(model, provider: provider, jobs: jobs, plan: plan, cache: cache)
            workload.probe = (plan.options.probeCapacity && (plan.shard?.shard.index ?? 0) == 0 ? model.capacityProbe : nil).map { settings in
                CapacityProbe(settings: settings, latencyLimitMs: experiment.decision.maxP95LatencyMs,
                              candidates: indices.map { ($0, candidates[$0].id) }, exampleCount: plan.testExamples.count)
            }
            return workload
        }
    }

    /// How `jobs` reach `model`: its concurrency, retry policy, rate limits, the response cache (for a
    /// model that takes prompts), the run's seed, its files' fingerprint in every cache key, and a warm-up
    /// request after a start evalkit makes.
    static func workload(_ model: ModelSpec, provider: any ModelProvider, jobs: [RunJob], plan: RunPlan, cache: ResponseCache) -> ModelWorkload {
        let limits = model.limits
        let limiter = limits.requestsPerMinute == nil && limits.tokensPerMinute == nil ? nil
            : RateLimiter(requestsPerMinute: limits.requestsPerMinute, tokensPerMinute: limits.tokensPerMinute)
        var workload = ModelWorkload(modelID: model.id, provider: provider, concurrency: plan.concurrency[model.id] ?? model.concurrency, jobs: jobs,
                                     retry: RetryPolicy(limits), limiter: limiter, maxOutputTokens: model.provider.maxOutputTokens,
                                     cache: model.provider.usesPrompts ? cache : nil, seed: plan.experiment.run.seed,
                                     cacheSalt: plan.environment.model(model.id).map(CompareRun.cacheSalt) ?? "",
                                     warmUp: model.server != nil || model.provider.answersOneAtATime)
        workload.batch = model.batch
        return workload
    }
}

/// Keeps what a run produced as it arrives: appends each result to the journal, holds what the analysis
/// needs, stops the run at its budget or when the journal cannot be written, and reports progress.
actor RunRecorder {
    let candidates: [CandidateSpec]
    let examples: [Example]
    let journal: ResultsJournal
    let scorer: CompletionScorer
    let budget: Double?
    let stop: StopSignal
    private var spentUSD = 0.0
    let total: Int
    let startedAt: ContinuousClock.Instant
    let progress: @Sendable (ProgressSnapshot) -> Void
    private(set) var resultsByCandidate: [ResultColumn]
    private(set) var modelFailures: [(model: String, reason: String)] = []
    private(set) var coldStarts: [ColdStart] = []
    private var probedLevels: [CapacityLevel] = []
    private(set) var writeError: ReportError?
    private var done = 0
    private var errors = 0
    /// When this process recorded its first result, and how many it has recorded since (the progress estimate's rate).
    private var firstRecorded: ContinuousClock.Instant? = nil
    private var recorded = 0
    private var lastSync = ContinuousClock.now
    /// `system_fingerprint` values the servers reported, by model id.
    private var systemFingerprints: [String: Set<String>] = [:]

    init(plan: RunPlan, journal: ResultsJournal, startedAt: ContinuousClock.Instant, progress: @escaping @Sendable (ProgressSnapshot) -> Void) {
        candidates = plan.experiment.candidates
        examples = plan.testExamples
        budget = plan.experiment.run.budgetUSD
        stop = plan.options.stop
        self.journal = journal
        total = plan.plannedRequests
        self.startedAt = startedAt
        self.progress = progress
        scorer = CompletionScorer(plan: plan)
        resultsByCandidate = Array(repeating: ResultColumn(), count: candidates.count)
        // Each candidate's results, sized once: growing by doubling would hold up to twice as much.
        let perCandidate = candidates.isEmpty ? 0 : total / candidates.count
        for i in resultsByCandidate.indices { resultsByCandidate[i].reserveCapacity(perCandidate) }
    }

    /// Identifies a request across runs: candidate, example id, repeat.
    struct JobKey: Hashable, Sendable {
        var candidate: String, example: String, repeatIndex: Int
        init(_ candidate: String, _ example: String, _ repeatIndex: Int) { self.candidate = candidate; self.example = example; self.repeatIndex = repeatIndex }
    }

    /// Takes in the results of an interrupted run; returns the requests they cover.
    func restore(_ previous: [ExampleResult]) -> Set<JobKey> {
        let index = Dictionary(candidates.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        let exampleIDs = Set(examples.map(\.id))
        var keys = Set<JobKey>()
        for result in previous {
            guard let i = index[result.candidate], exampleIDs.contains(result.exampleID) else { continue }
            guard keys.insert(JobKey(result.candidate, result.exampleID, result.repeatIndex)).inserted else { continue }
            resultsByCandidate[i].append(result)
            done += 1
            if !result.answered { errors += 1 }
            spentUSD += result.costUSD ?? 0
        }
        return keys
    }

    /// The probed environment with the build fingerprints the servers reported in this run (and, when
    /// resuming, in the part of the run before the interruption, as far as its run.json recorded them).
    func environment(_ probed: RunEnvironment, previous: RunEnvironment?) -> RunEnvironment {
        var environment = probed
        for i in environment.models.indices {
            let id = environment.models[i].modelID
            let seen = systemFingerprints[id, default: []].union(previous?.model(id)?.systemFingerprints ?? [])
            environment.models[i].systemFingerprints = seen.sorted()
        }
        return environment
    }

    /// Hands over the results, leaving none behind, so that sorting them copies nothing.
    func takeResults() -> [ResultColumn] {
        defer { resultsByCandidate = [] }
        return resultsByCandidate
    }

    /// Keeps a model start, rounded as run.json keeps it, so the report and a re-rendered one agree.
    func started(_ cold: ColdStart) {
        var kept = cold
        kept.startMs = ExampleResult.roundLatency(cold.startMs)
        kept.warmupMs = cold.warmupMs.map(ExampleResult.roundLatency)
        coldStarts.append(kept)
    }

    func probed(_ levels: [CapacityLevel]) { probedLevels += levels.map(CapacityFile.rounded) }

    /// The probe's levels: this process's, and `previous` ones of candidates it did not probe.
    func capacity(previous: [CapacityLevel]) -> [CapacityLevel] {
        let probed = Set(probedLevels.map(\.candidate))
        return previous.filter { !probed.contains($0.candidate) } + probedLevels
    }

    func modelFailed(_ model: String, _ error: ProviderError) {
        modelFailures.append((model, error.description))
    }

    /// Scores completions, keeps their results and appends them to the journal in one write.
    func record(_ completions: [Completion]) {
        var batch: [ExampleResult] = []
        batch.reserveCapacity(completions.count)
        for completion in completions {
            if case .success(let response) = completion.outcome, let fingerprint = response.systemFingerprint {
                systemFingerprints[candidates[completion.job.candidateIndex].modelID, default: []].insert(fingerprint)
            }
            let result = scorer.result(completion)
            resultsByCandidate[completion.job.candidateIndex].append(result)
            spentUSD += result.costUSD ?? 0
            if !result.answered { errors += 1 }
            done += 1
            batch.append(result)
        }
        if let budget, spentUSD >= budget {
            stop.stop("the budget of \(Format.usd(budget)) ($.run.budget_usd) was reached after \(done) requests (\(Format.usd(spentUSD)) spent)")
        }
        if writeError == nil {
            do { try journal.append(contentsOf: batch) } catch {
                writeError = error
                // Answers that cannot be kept are not worth paying for: stop taking new requests.
                stop.stop("results.jsonl cannot be written (\(error)); the run stopped to lose no more answers")
            }
            // Each line is written through at once; fsync now and then bounds what a power cut can take.
            if ContinuousClock.now - lastSync > .seconds(1) {
                journal.sync()
                lastSync = .now
            }
        }
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        let now = ContinuousClock.now
        if !completions.isEmpty {
            if firstRecorded == nil { firstRecorded = now; recorded = 0 }
            recorded += completions.count
        }
        var snapshot = ProgressSnapshot(done: done, total: total, errors: errors, elapsedSeconds: seconds(now - startedAt))
        if let last = completions.last {
            let candidate = candidates[last.job.candidateIndex]
            snapshot.current = candidate.id == candidate.modelID ? candidate.id : "\(candidate.id) (model \(candidate.modelID))"
        }
        snapshot.measured = recorded
        snapshot.measuringSeconds = firstRecorded.map { seconds(now - $0) } ?? 0
        progress(snapshot)
    }
}

/// Turns a model's answer into a per-example result: the answer the task's scorer read from it and its
/// score, its tokens (the server's counts, else estimated) and its cost; a failed request is a result
/// with its error and a score of 0.
struct CompletionScorer {
    let plan: RunPlan
    let scorers: [any Scorer]
    let models: [ModelSpec?]

    init(plan: RunPlan) {
        self.plan = plan
        let experiment = plan.experiment
        let kind = experiment.task.scorer as? any ScorerKind ?? LabelMatchOptions()
        scorers = experiment.candidates.map { candidate in
            let promptParsing = candidate.promptID.flatMap { experiment.prompt($0)?.parsing }
            // A model without a prompt (the builtin classifier) answers with a label, so it is read exactly.
            let fallback = experiment.model(candidate.modelID)?.provider.usesPrompts == false ? LabelParsing(method: .exact) : experiment.task.parsing
            return kind.makeScorer(ScorerContext(labels: experiment.task.labels, parsing: promptParsing ?? fallback))
        }
        models = experiment.candidates.map { experiment.model($0.modelID) }
    }

    /// One completion as a result, rounded as results.jsonl will hold it.
    func result(_ completion: Completion) -> ExampleResult {
        let job = completion.job
        let candidate = plan.experiment.candidates[job.candidateIndex]
        let example = plan.testExamples[job.exampleIndex]
        let model = models[job.candidateIndex]
        var result = ExampleResult(candidate: candidate.id, model: candidate.modelID, prompt: candidate.promptID, exampleID: example.id,
                                   repeatIndex: job.repeatIndex, target: example.target, output: nil, label: nil, correct: false,
                                   latencyMs: completion.latencyMs)
        result.attempts = completion.attempts
        result.cached = completion.cached
        result.latencyTotalMs = completion.totalMs
        switch completion.outcome {
        case .success(let response):
            result.output = response.text
            result.labelProbabilities = response.labelProbabilities
            let score = scorers[job.candidateIndex].score(output: response.text, example: example)
            result.label = score.answer
            result.scoreParts = score.parts.map { ScorePart($0.name, $0.value.isNaN ? 0 : min(1, max(0, $0.value))) }
            // A scorer's value outside [0, 1] (or not a number) is clamped: it cannot trap or skew a mean.
            result.score = score.value.isNaN ? 0 : min(1, max(0, score.value))
            if model?.provider.usesPrompts == true {
                result.inputTokens = response.inputTokens
                result.cachedInputTokens = response.cachedInputTokens
                result.outputTokens = response.outputTokens
                if response.inputTokens == nil || response.outputTokens == nil {
                    result.tokensEstimated = true
                    if result.inputTokens == nil { result.inputTokens = Text.estimatedTokens(plan.prompt(job)?.completionText ?? example.input) }
                    if result.outputTokens == nil { result.outputTokens = Text.estimatedTokens(response.text) }
                }
            }
            // Output tokens a second after the first text: the tokens that followed it over the time they took.
            result.timeToFirstTokenMs = response.timeToFirstTokenMs
            if let generation = response.generationMs, generation > 0, let tokens = result.outputTokens, tokens > 1 {
                result.outputTokensPerSecond = Double(tokens - 1) / (generation / 1000)
            }
            result.costUSD = model?.pricing?.model.requestCost(RequestUsage(
                inputTokens: result.inputTokens, cachedInputTokens: result.cachedInputTokens, outputTokens: result.outputTokens,
                latencyMs: completion.latencyMs, concurrency: plan.concurrencyPerServer(candidate.modelID), batch: model?.batch != nil))
            result.replica = response.replica

        case .failure(let error):
            result.error = error.description
            // A failed call's parts count as wrong: they are those of an empty answer, never left out of a mean.
            result.scoreParts = scorers[job.candidateIndex].score(output: "", example: example).parts.map { ScorePart($0.name, 0) }
            // What every attempt met, when there was more than one: a flaky endpoint shows as such.
            if completion.faults.count > 1 { result.error = error.description + " (attempts: " + completion.faults.joined(separator: ", ") + ")" }
        }
        // Keep exactly what results.jsonl holds (latency and cost rounded as written), so the
        // report and `evalkit verify` compute from the same numbers.
        return result.rounded()
    }
}
