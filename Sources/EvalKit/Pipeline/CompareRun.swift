import Foundation

/// Settings of one `evalkit compare` invocation that are not in the experiment file.
public struct CompareOptions: Sendable {
    /// Write exactly into this folder instead of `reports/<experiment>/<run-id>/`.
    public var outDirectory: String?
    /// Root of the default run folders.
    public var reportsRoot: String = "reports"
    /// Evaluate only the first N test examples (overrides the config's `run.limit`).
    public var limit: Int?
    /// Requests in flight per model (overrides the config).
    public var concurrency: Int?
    /// The command line that reproduces this run, written into the report.
    public var reproduceCommand: String = "evalkit compare"
    /// Continue the run in `outDirectory`, whose run.json this is: its finished requests are kept and not
    /// sent again, and it keeps its id, start time and test subset (see `Preparation.resuming`).
    public var resuming: RunManifest?
    public var resume: Bool { resuming != nil }
    /// The response cache: used, off (`--no-cache`) or refreshed (`--refresh`).
    public var cacheMode: ResponseCache.Mode = .use
    /// Where cached answers live; default `.evalkit/cache` beside the experiment file.
    public var cacheDirectory: String?
    /// Raised from outside (Ctrl-C) to stop taking new work; requests in flight finish.
    public var stop = StopSignal()
    /// The models `--only` kept (recorded in run.json, so a check can run its baseline the same way).
    public var onlyModels: [String]?

    public init() {}
}

/// Where a run stands, for progress display.
public struct ProgressSnapshot: Sendable {
    public var done: Int
    public var total: Int
    public var errors: Int
    public var elapsedSeconds: Double

    /// Seconds left at the rate so far; nil before the first result.
    public var etaSeconds: Double? {
        guard done > 0, total > done else { return done >= total ? 0 : nil }
        return elapsedSeconds / Double(done) * Double(total - done)
    }
}

/// What a finished run produced.
public struct CompareOutcome: Sendable {
    public var runDirectory: String
    public var summary: RunSummary
    /// True when no candidate produced a single answer, or more requests failed than allowed.
    public var failed: Bool
    /// True when the run stopped before making every request (interrupted or over budget).
    public var incomplete: Bool
}

/// Why a run could not be carried out (distinct from failed model calls, which are results).
public enum CompareError: Error, CustomStringConvertible, Sendable {
    case output(ReportError)
    case overBudget(estimateUSD: Double, budgetUSD: Double)
    case similarity(ProviderError)
    /// A model whose options no provider of this evalkit can run (a catalog built by hand).
    case notRunnable(model: String, provider: String)

    public var description: String {
        switch self {
        case .output(let error): return error.description
        case .similarity(let error): return "cannot choose similar examples (step 2): \(error)"
        case let .notRunnable(model, provider): return "model \(model): provider \(provider) has no way to run here"
        case let .overBudget(estimate, budget):
            return "the run is estimated to cost \(Format.usd(estimate)), more than the budget of \(Format.usd(budget)) ($.run.budget_usd); "
                + "see 'evalkit compare --dry-run', lower --limit, or raise the budget"
        }
    }
}

/// `evalkit compare`: trains builtin models, runs every candidate on the test split, scores,
/// analyses and writes the run folder.
public enum CompareRun {
    /// What the run would send and cost, with nothing sent (`compare --dry-run`): the same test examples
    /// and budget rule as the run itself; prompts with embedding-chosen examples are sized with TF-IDF's choice.
    public static func estimate(_ prepared: PreparedExperiment, limit: Int?) async -> (estimate: RunEstimate, testExamples: Int) {
        let e = prepared.experiment
        let test = prepared.dataset.test(limit: limit ?? e.run.limit)
        let selections = (try? await SimilarSelections.compute(prepared, test: test, cacheDirectory: e.resolve(".evalkit/cache"), network: false)) ?? [:]
        return (CostEstimator.estimate(experiment: e, test: test, builders: prepared.builders, selections: selections), test.count)
    }

    public static func run(_ prepared: PreparedExperiment, options: CompareOptions,
                           progress: @escaping @Sendable (ProgressSnapshot) -> Void = { _ in }) async throws(CompareError) -> CompareOutcome {
        var startedAt = Date()
        let experiment = prepared.experiment
        var runID = Self.runID(startedAt)
        var limit = options.limit ?? experiment.run.limit
        var previous: [ExampleResult] = []
        var previousEnvironment: RunEnvironment?
        if let manifest = options.resuming, let out = options.outDirectory {
            runID = manifest.runID
            startedAt = manifest.startedAt
            limit = manifest.limit ?? limit
            previousEnvironment = manifest.environment
            do { previous = try ResultsJournal.recover(path: out + "/results.jsonl") } catch { throw .output(error) }
        }
        let testExamples = prepared.dataset.test(limit: limit)
        let repeats = experiment.run.repeats
        let cacheDirectory = options.cacheDirectory ?? experiment.resolve(".evalkit/cache")
        let selections: SimilarSelections.Table
        do { selections = try await SimilarSelections.compute(prepared, test: testExamples, cacheDirectory: cacheDirectory) } catch {
            throw .similarity(error)
        }
        if let budget = experiment.run.budgetUSD {
            let estimate = CostEstimator.estimate(experiment: experiment, test: testExamples, builders: prepared.builders, selections: selections)
            if estimate.exceeds(budget) { throw .overBudget(estimateUSD: estimate.totalUSD, budgetUSD: budget) }
        }
        let usedModels = experiment.models.filter { model in experiment.candidates.contains { $0.modelID == model.id } }
        let directory: String
        let environment: RunEnvironment
        do {
            directory = try makeRunDirectory(options: options, experiment: experiment, runID: runID)
            // Written first, so an interrupted run can be resumed and checked.
            if !options.resume { try ReportWriter.copyConfig(experiment, to: directory) }
            let configJSON = SmallFile.bytes(at: directory + "/config.json").flatMap { try? JSON.parse(bytes: $0) }
            environment = EnvironmentProbe.probe(prepared, models: usedModels, configJSON: configJSON,
                                                 memoDirectory: experiment.resolve(".evalkit/digests"))
            var started = RunManifest(evalkitVersion: EvalKitInfo.version, experiment: experiment.name, runID: runID,
                                      configPath: experiment.configPath, configDirectory: ReportWriter.absoluteDirectory(of: experiment.configPath),
                                      configSHA256: experiment.configHash, startedAt: startedAt, command: options.reproduceCommand, status: .running)
            started.limit = limit
            started.only = options.onlyModels
            started.environment = environment
            try started.write(to: directory)
        } catch { throw .output(error) }

        // Step 3 of the data flow: builtin models train before any request is sent.
        var providers: [String: any ModelProvider] = [:]
        // The audit runs before any result is held: its working memory is free again by the time results pile up.
        // Over the test examples evaluated: leakage into examples the run never asked about does not bias it.
        let audit = DataAuditor.audit(prepared.dataset.evaluating(testExamples), labels: experiment.task.labels,
                                      minConfidence: experiment.audit.minConfidence, maxCharacters: experiment.audit.maxCharacters)
        var training: [RunSummary.TrainingSummary] = []
        var curves: [TrainingCurve] = []
        let concurrency = Dictionary(usedModels.map { ($0.id, $0.provider.answersOneAtATime ? 1 : (options.concurrency ?? $0.concurrency)) },
                                     uniquingKeysWith: { a, _ in a })
        for model in usedModels {
            let concurrency = concurrency[model.id] ?? 1
            guard let kind = model.runnable else { throw .notRunnable(model: model.id, provider: model.providerName) }
            let made = kind.makeProvider(ProviderContext(modelID: model.id, concurrency: concurrency, baseDirectory: experiment.baseDirectory,
                                                         labels: experiment.task.labels, train: prepared.dataset.train,
                                                         validation: prepared.dataset.validation))
            providers[model.id] = made.provider
            if let t = made.training {
                training.append(.init(modelID: model.id, seconds: t.seconds, examples: t.examples, last: t.last, bestEpoch: t.bestEpoch,
                                      stoppedEarly: t.stoppedEarly))
                curves.append(t.curve)
            }
            if let outside = RunSummary.TrainingSummary.outside(experiment, model: model) { training.append(outside) }
            // A model with a managed server: the server starts before its first request and stops after its last.
            if let server = model.server, let inner = providers[model.id] {
                providers[model.id] = ServedProvider(inner: inner, server: ManagedServer(settings: server, modelID: model.id, directory: experiment.baseDirectory))
            }
        }

        let journal: ResultsJournal
        let ledger: SentLedger
        do {
            journal = try ResultsJournal(path: directory + "/results.jsonl")
            ledger = try SentLedger(directory: directory)
        } catch { throw .output(error) }
        let candidates = experiment.candidates
        let stop = options.stop
        let planned = candidates.count * testExamples.count * repeats
        let recorder = RunRecorder(experiment: experiment, candidates: candidates, examples: testExamples, journal: journal,
                                   concurrency: concurrency, total: planned, startedAt: ContinuousClock.now, stop: stop, progress: progress)
        let finished = await recorder.restore(previous)
        let cache = ResponseCache(directory: cacheDirectory, mode: options.cacheMode)
        var workloads: [ModelWorkload] = []
        for model in usedModels {
            guard let provider = providers[model.id] else { continue }
            let indices = candidates.indices.filter { candidates[$0].modelID == model.id }
            // Example-major order, so an interrupted run has covered every candidate evenly.
            var jobs: [RunJob] = []
            jobs.reserveCapacity(repeats * testExamples.count * indices.count)
            for k in 0..<repeats {
                for e in testExamples.indices {
                    for c in indices where finished.isEmpty || !finished.contains(RunRecorder.JobKey(candidates[c].id, testExamples[e].id, k)) {
                        jobs.append(RunJob(candidateIndex: c, exampleIndex: e, repeatIndex: k))
                    }
                }
            }
            let limits = model.limits
            let limiter = limits.requestsPerMinute == nil && limits.tokensPerMinute == nil ? nil
                : RateLimiter(requestsPerMinute: limits.requestsPerMinute, tokensPerMinute: limits.tokensPerMinute)
            workloads.append(ModelWorkload(modelID: model.id, provider: provider, concurrency: concurrency[model.id] ?? 1, jobs: jobs,
                                           retry: RetryPolicy(limits), limiter: limiter, maxOutputTokens: model.provider.maxOutputTokens,
                                           cache: model.provider.usesPrompts ? cache : nil, seed: experiment.run.seed,
                                           cacheSalt: environment.model(model.id).map(cacheSalt) ?? ""))
        }
        let builders = prepared.builders
        // The prompt of one job: the candidate's template, with the similar examples chosen for this input.
        let render: @Sendable (RunJob) -> RenderedPrompt? = { job in
            let candidate = candidates[job.candidateIndex]
            let example = testExamples[job.exampleIndex]
            return candidate.promptID.flatMap { id in
                builders[id]?.render(input: example.input, examples: selections[id]?[example.id])
            }
        }
        await Scheduler.run(workloads, stop: stop, sequential: experiment.run.sequentialModels, request: { job in
            let candidate = candidates[job.candidateIndex]
            let example = testExamples[job.exampleIndex]
            return ModelRequest(prompt: render(job) ?? RenderedPrompt(system: nil, user: example.input), input: example.input,
                                id: "\(candidate.id)/\(example.id)/\(job.repeatIndex)", labels: experiment.task.labels)
        }, onStartFailure: { model, error in
            await recorder.modelFailed(model, error)
        }, onSend: { job in
            do throws(ReportError) {
                try ledger.record(candidate: candidates[job.candidateIndex].id, example: testExamples[job.exampleIndex].id, repeatIndex: job.repeatIndex)
            } catch {
                stop.stop("\(SentLedger.fileName) cannot be written (\(error)); the run stopped so that every request sent is counted")
            }
        }, onCompletions: { completions in
            await recorder.record(completions, prompt: render)
        })
        for provider in providers.values { await provider.stop() }
        journal.close()
        if let writeError = await recorder.writeError { throw .output(writeError) }

        var results = await recorder.takeResults()
        for i in results.indices { results[i].sortCanonically() }
        // A damaged ledger (edited by hand) leaves the results' own counts, a lower bound.
        let sent = (try? SentLedger.counts(directory: directory)) ?? nil
        let metrics = MetricsCalculator.metrics(experiment: experiment, results: results, sent: sent)
        let made = metrics.reduce(0) { $0 + $1.requests }
        let failedCalls = metrics.reduce(0) { $0 + $1.errors }
        let trainingSeconds = Dictionary(training.map { ($0.modelID, $0.seconds) }, uniquingKeysWith: { a, _ in a })
        let analysis = DecisionAnalyzer.analyze(experiment: experiment, metrics: metrics, results: results, trainingSeconds: trainingSeconds)
        let summary = RunSummary(
            experiment: experiment, runID: runID,
            splits: prepared.dataset.splits.map { .init(name: $0.name, count: $0.examples.count,
                                                        labelCounts: Dataset.labelCounts($0.examples, labels: experiment.task.labels)) },
            evaluatedExamples: testExamples.count, metrics: metrics, analysis: analysis, results: results,
            examples: testExamples,
            stopReason: made < planned ? stop.stopReason : nil, plannedRequests: planned, modelFailures: await recorder.modelFailures,
            training: training, startedAt: startedAt, finishedAt: Date(), reproduceCommand: options.reproduceCommand,
            evalkitVersion: EvalKitInfo.version,
            runFailure: runFailure(made: made, failed: failedCalls, limit: experiment.run.maxErrorRate),
            audit: audit, curves: curves + TrainingCurve.outside(experiment),
            environment: await recorder.environment(environment, previous: previousEnvironment),
            onlyModels: options.onlyModels, requestsSent: sent ?? [:])
        do { try ReportWriter.write(summary, to: directory) } catch { throw .output(error) }
        return CompareOutcome(runDirectory: directory, summary: summary,
                              failed: !metrics.contains { $0.answered > 0 } || summary.runFailure != nil, incomplete: made < planned)
    }

    /// The part of a model's fingerprint that decides answers beyond the request: its files and build.
    static func cacheSalt(_ model: ModelFingerprint) -> String {
        guard !model.files.isEmpty || model.build != nil else { return "" }
        return "files=" + model.files.map(\.sha256).joined(separator: ",") + "|build=" + SHA256.hex(model.build ?? "")
    }

    /// Why the run as a whole counts as failed: more failed requests than `run.max_error_rate` allows.
    static func runFailure(made: Int, failed: Int, limit: Double?) -> String? {
        guard let limit, made > 0 else { return nil }
        let share = Double(failed) / Double(made)
        guard share > limit else { return nil }
        return "\(failed) of \(made) requests failed (\(Format.percent(share))), more than $.run.max_error_rate allows (\(Format.percent(limit)))"
    }

    /// A run id that sorts by time: UTC `yyyyMMdd-HHmmss`.
    static func runID(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: date)
    }

    static func makeRunDirectory(options: CompareOptions, experiment: Experiment, runID: String) throws(ReportError) -> String {
        let fm = FileManager.default
        var directory: String
        if let out = options.outDirectory {
            directory = out
            // --out writes exactly here: a previous run's journal would mix with this one (unless resuming it).
            if !options.resume {
                try? fm.removeItem(atPath: out + "/results.jsonl")
                try? fm.removeItem(atPath: out + "/" + SentLedger.fileName)
            }
        } else {
            let parent = options.reportsRoot + "/" + experiment.name
            directory = parent + "/" + runID
            var suffix = 2
            while fm.fileExists(atPath: directory) { directory = "\(parent)/\(runID)-\(suffix)"; suffix += 1 }
        }
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .cannotCreateFolder(path: directory, reason: error.localizedDescription)
        }
        return directory
    }
}

/// Scores each completion, appends it to the journal and keeps what the analysis needs.
actor RunRecorder {
    let experiment: Experiment
    let candidates: [CandidateSpec]
    let examples: [Example]
    let journal: ResultsJournal
    let parsers: [LabelParser]
    let models: [ModelSpec?]
    let concurrency: [String: Int]
    let budget: Double?
    let stop: StopSignal
    private var spentUSD = 0.0
    let total: Int
    let startedAt: ContinuousClock.Instant
    let progress: @Sendable (ProgressSnapshot) -> Void
    private(set) var resultsByCandidate: [ResultColumn]
    private(set) var modelFailures: [(model: String, reason: String)] = []
    private(set) var writeError: ReportError?
    private var done = 0
    private var errors = 0
    private var lastSync = ContinuousClock.now
    /// `system_fingerprint` values the servers reported, by model id.
    private var systemFingerprints: [String: Set<String>] = [:]

    init(experiment: Experiment, candidates: [CandidateSpec], examples: [Example], journal: ResultsJournal, concurrency: [String: Int],
         total: Int, startedAt: ContinuousClock.Instant, stop: StopSignal, progress: @escaping @Sendable (ProgressSnapshot) -> Void) {
        self.concurrency = concurrency
        self.budget = experiment.run.budgetUSD
        self.stop = stop
        self.experiment = experiment
        self.candidates = candidates
        self.examples = examples
        self.journal = journal
        self.total = total
        self.startedAt = startedAt
        self.progress = progress
        parsers = candidates.map { candidate in
            let promptParsing = candidate.promptID.flatMap { experiment.prompt($0)?.parsing }
            // The builtin classifier answers with a label, so it is read exactly.
            let fallback = experiment.model(candidate.modelID)?.provider.usesPrompts == false ? LabelParsing(method: .exact) : experiment.task.parsing
            return LabelParser(labels: experiment.task.labels, parsing: promptParsing ?? fallback)
        }
        models = candidates.map { experiment.model($0.modelID) }
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

    func modelFailed(_ model: String, _ error: ProviderError) {
        modelFailures.append((model, error.description))
    }

    /// Scores completions, keeps their results and appends them to the journal in one write.
    func record(_ completions: [Completion], prompt: (RunJob) -> RenderedPrompt?) {
        var batch: [ExampleResult] = []
        batch.reserveCapacity(completions.count)
        for completion in completions {
            let result = score(completion, prompt: prompt)
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
        let elapsed = ContinuousClock.now - startedAt
        progress(ProgressSnapshot(done: done, total: total, errors: errors,
                                  elapsedSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
    }

    /// One completion as a result, rounded as results.jsonl will hold it.
    private func score(_ completion: Completion, prompt: (RunJob) -> RenderedPrompt?) -> ExampleResult {
        let job = completion.job
        let candidate = candidates[job.candidateIndex]
        let example = examples[job.exampleIndex]
        let model = models[job.candidateIndex]
        var result = ExampleResult(candidate: candidate.id, model: candidate.modelID, prompt: candidate.promptID, exampleID: example.id,
                                   repeatIndex: job.repeatIndex, target: example.target, output: nil, label: nil, correct: false,
                                   latencyMs: completion.latencyMs)
        result.attempts = completion.attempts
        result.cached = completion.cached
        switch completion.outcome {
        case .success(let response):
            if let fingerprint = response.systemFingerprint { systemFingerprints[candidate.modelID, default: []].insert(fingerprint) }
            result.output = response.text
            result.labelProbabilities = response.labelProbabilities
            result.label = parsers[job.candidateIndex].parse(response.text)
            result.correct = result.label == example.target
            if model?.provider.usesPrompts == true {
                result.inputTokens = response.inputTokens
                result.outputTokens = response.outputTokens
                if response.inputTokens == nil || response.outputTokens == nil {
                    result.tokensEstimated = true
                    if result.inputTokens == nil { result.inputTokens = Text.estimatedTokens(prompt(job)?.completionText ?? example.input) }
                    if result.outputTokens == nil { result.outputTokens = Text.estimatedTokens(response.text) }
                }
            }
            result.costUSD = CostModel.cost(pricing: model?.pricing, inputTokens: result.inputTokens, outputTokens: result.outputTokens,
                                            latencyMs: completion.latencyMs, concurrency: concurrency[candidate.modelID] ?? 1)

        case .failure(let error):
            result.error = error.description
            // What every attempt met, when there was more than one: a flaky endpoint shows as such.
            if completion.faults.count > 1 { result.error = error.description + " (attempts: " + completion.faults.joined(separator: ", ") + ")" }
        }
        // Keep exactly what results.jsonl holds (latency and cost rounded as written), so the
        // report and `evalkit verify` compute from the same numbers.
        return result.rounded()
    }
}
