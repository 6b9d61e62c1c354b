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
    /// Run the capacity probe of the models that have one (`--no-probe`: a dedicated cost then rests on the
    /// throughput estimated from the accuracy pass, and the report says so).
    public var probeCapacity = true
    /// Where cached answers live; default `.evalkit/cache` beside the experiment file.
    public var cacheDirectory: String?
    /// Raised from outside (Ctrl-C) to stop taking new work; requests in flight finish.
    public var stop = StopSignal()
    /// The models `--only` kept (recorded in run.json, so a check can run its baseline the same way).
    public var onlyModels: [String]?
    /// Evaluate only this part of the test examples (`--shard K/N`), for `evalkit merge` to join. Only
    /// shard 0 runs the capacity probe: shards run side by side would measure each other's load.
    public var shard: Shard?
    /// With `shard`, the command that runs every shard's examples in one process (what a merged run records).
    public var wholeRunCommand: String = "evalkit compare"

    public init() {}
}

/// Where a run stands, for progress display.
public struct ProgressSnapshot: Sendable {
    public var done: Int
    public var total: Int
    public var errors: Int
    public var elapsedSeconds: Double
    /// The candidate (and its model) whose answer came last: what the run is working on.
    public var current: String? = nil
    /// Results this process recorded since its first one, and the seconds since that first one: the rate
    /// the estimate uses, so model start-up and results carried over by --resume do not distort it.
    public var measured = 0
    public var measuringSeconds = 0.0

    public init(done: Int, total: Int, errors: Int, elapsedSeconds: Double) {
        self.done = done; self.total = total; self.errors = errors; self.elapsedSeconds = elapsedSeconds
    }

    /// Results needed before the estimate is shown: one early answer says little about the rest.
    public static let resultsBeforeEstimate = 10

    /// Seconds left at the rate since the first answer; nil until there is enough to go on.
    public var etaSeconds: Double? {
        guard total > done else { return 0 }
        guard measured >= Self.resultsBeforeEstimate, measuringSeconds > 0 else { return nil }
        return measuringSeconds / Double(measured - 1) * Double(total - done)
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

    /// Plans the run (its folder, test examples, few-shot choices, models and budget), executes it (trains
    /// in-process models, sends every request, journals every answer) and summarises it (analysis and reports).
    public static func run(_ prepared: PreparedExperiment, options: CompareOptions,
                           progress: @escaping @Sendable (ProgressSnapshot) -> Void = { _ in }) async throws(CompareError) -> CompareOutcome {
        let plan = try await RunPlan.make(prepared, options: options)
        let executed = try await RunExecution.execute(plan, progress: progress)
        return try summarise(plan, executed)
    }

    /// The analysis and the reports of an executed run.
    static func summarise(_ plan: RunPlan, _ executed: ExecutedRun) throws(CompareError) -> CompareOutcome {
        let experiment = plan.experiment
        let results = JudgeGrades.apply(executed.judgements, to: executed.results, experiment: experiment)
        let metrics = MetricsCalculator.metrics(experiment: experiment, results: results, sent: executed.sent)
        let made = metrics.reduce(0) { $0 + $1.requests }
        // A judge pass cut short (a stop, a batch job still running) leaves answers ungraded: the run is not finished.
        let toGrade = experiment.task.judge == nil ? 0 : JudgePass.items(plan, results: executed.results).count
        let judgeShort = executed.judgements.count < toGrade
        let incomplete = made < plan.plannedRequests || judgeShort
        let failedCalls = metrics.reduce(0) { $0 + $1.errors }
        let trainingSeconds = Dictionary(executed.training.map { ($0.modelID, $0.seconds) }, uniquingKeysWith: { a, _ in a })
        let trainingExamples = Dictionary(executed.training.compactMap { t in t.examples.map { (t.modelID, $0) } }, uniquingKeysWith: { a, _ in a })
        let analysis = DecisionAnalyzer.analyze(experiment: experiment, metrics: metrics, results: results, trainingSeconds: trainingSeconds,
                                                trainingExamples: trainingExamples,
                                                capacities: Capacity.best(of: executed.capacity, latencyLimitMs: experiment.decision.maxP95LatencyMs),
                                                judgements: executed.judgements,
                                                adapterBytes: FineTuneComparison.adapterBytes(experiment, environment: executed.environment))
        var summary = RunSummary(
            experiment: experiment, runID: plan.runID,
            splits: plan.prepared.dataset.splits.map { .init(name: $0.name, count: $0.examples.count,
                                                             labelCounts: Dataset.labelCounts($0.examples, labels: experiment.task.labels)) },
            evaluatedExamples: plan.testExamples.count, metrics: metrics, analysis: analysis, results: results,
            examples: plan.testExamples,
            stopReason: incomplete ? plan.options.stop.stopReason ?? "the LLM judge graded \(executed.judgements.count) of \(toGrade) answers" : nil,
            plannedRequests: plan.plannedRequests,
            modelFailures: executed.modelFailures,
            training: executed.training, startedAt: plan.startedAt, finishedAt: Date(), reproduceCommand: plan.options.reproduceCommand,
            evalkitVersion: EvalKitInfo.version,
            runFailure: runFailure(made: made, failed: failedCalls, limit: experiment.run.maxErrorRate),
            audit: plan.audit, curves: executed.curves + TrainingCurve.outside(experiment),
            environment: executed.environment, onlyModels: plan.options.onlyModels, requestsSent: executed.sent ?? [:],
            coldStarts: executed.coldStarts, capacity: executed.capacity,
            examplesBeforeSharding: plan.examplesBeforeSharding, shard: plan.shard)
        summary.promptPreviews = HTMLReport.promptPreviews(plan.prepared.builders)
        do { try ReportWriter.write(summary, to: plan.directory) } catch { throw .output(error) }
        return CompareOutcome(runDirectory: plan.directory, summary: summary,
                              // A shard whose part holds no example (few examples, many shards) has nothing to fail.
                              failed: (plan.plannedRequests > 0 && !metrics.contains { $0.answered > 0 }) || summary.runFailure != nil,
                              incomplete: incomplete)
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
