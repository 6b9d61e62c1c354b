import Foundation

/// Everything decided before a request is sent: the run's folder and id, the test examples (a resumed
/// run keeps its own), the few-shot examples chosen for each, the models used and their concurrency,
/// the budget check, the data audit and the environment. Making it writes config.json and a first
/// run.json, so an interrupted run can be resumed and checked.
struct RunPlan: Sendable {
    let prepared: PreparedExperiment
    let options: CompareOptions
    let runID: String
    let startedAt: Date
    let directory: String
    let testExamples: [Example]
    let selections: SimilarSelections.Table
    /// The models some candidate uses, in config order.
    let models: [ModelSpec]
    /// Requests in flight per model id.
    let concurrency: [String: Int]
    let plannedRequests: Int
    let audit: DataAudit
    /// The machine, models and candidate definitions, as probed before the run.
    let environment: RunEnvironment
    /// The environment of the interrupted run being resumed (its results are read when it executes, so
    /// they are not held twice).
    let previousEnvironment: RunEnvironment?
    /// The model starts of the processes a resumed run had before this one.
    let previousColdStarts: [ColdStart]
    let cacheDirectory: String
    /// The test examples before `--shard` chose its part.
    let examplesBeforeSharding: Int
    /// The part of the test examples this run evaluates, with the experiment's fingerprint; nil for a whole run.
    let shard: ShardRecord?
    /// The servers models of this run share (`"shared": true`), each made once.
    let sharedServers = SharedServers()

    var experiment: Experiment { prepared.experiment }

    static func make(_ prepared: PreparedExperiment, options: CompareOptions) async throws(CompareError) -> RunPlan {
        let experiment = prepared.experiment
        var startedAt = Date()
        var runID = CompareRun.runID(startedAt)
        var limit = options.limit ?? experiment.run.limit
        var previousEnvironment: RunEnvironment?
        var previousColdStarts: [ColdStart] = []
        var shard = options.shard
        if let manifest = options.resuming {
            // The resumed run keeps its id, start time and test subset (and, when it executes, every finished request).
            runID = manifest.runID
            startedAt = manifest.startedAt
            limit = manifest.limit ?? limit
            previousEnvironment = manifest.environment
            previousColdStarts = manifest.coldStarts ?? []
            shard = manifest.shard?.shard
        }
        let beforeSharding = prepared.dataset.test(limit: limit)
        let testExamples = shard?.select(beforeSharding) ?? beforeSharding
        let cacheDirectory = options.cacheDirectory ?? experiment.resolve(".evalkit/cache")
        let selections: SimilarSelections.Table
        do { selections = try await SimilarSelections.compute(prepared, test: testExamples, cacheDirectory: cacheDirectory) } catch {
            throw .similarity(error)
        }
        if let budget = experiment.run.budgetUSD {
            let estimate = CostEstimator.estimate(experiment: experiment, test: testExamples, builders: prepared.builders, selections: selections)
            if estimate.exceeds(budget) { throw .overBudget(estimateUSD: estimate.totalUSD, budgetUSD: budget) }
        }
        let models = experiment.models.filter { model in experiment.candidates.contains { $0.modelID == model.id } }
        // A model's concurrency holds on each of its replicas.
        let concurrency = Dictionary(models.map { ($0.id, $0.provider.answersOneAtATime ? 1 : (options.concurrency ?? $0.concurrency) * $0.replicaCount) },
                                     uniquingKeysWith: { a, _ in a })
        let directory: String
        let environment: RunEnvironment
        var shardRecord: ShardRecord?
        do {
            directory = try CompareRun.makeRunDirectory(options: options, experiment: experiment, runID: runID)
            if !options.resume { try ReportWriter.copyConfig(experiment, to: directory) }
            let configJSON = SmallFile.bytes(at: directory + "/config.json").flatMap { try? JSON.parse(bytes: $0) }
            environment = EnvironmentProbe.probe(prepared, models: models, configJSON: configJSON,
                                                 memoDirectory: experiment.resolve(".evalkit/digests"))
            var started = RunManifest(evalkitVersion: EvalKitInfo.version, experiment: experiment.name, runID: runID,
                                      configPath: experiment.configPath, configDirectory: ReportWriter.absoluteDirectory(of: experiment.configPath),
                                      configSHA256: experiment.configHash, startedAt: startedAt, command: options.reproduceCommand, status: .running)
            started.limit = limit
            started.only = options.onlyModels
            started.environment = environment
            if let resumed = options.resuming?.shard {
                shardRecord = resumed
            } else {
                shardRecord = shard.map { ShardRecord(shard: $0, fingerprint: shardFingerprint(experiment, limit: limit, only: options.onlyModels,
                                                                                                  environment: environment),
                                                      wholeRunCommand: options.wholeRunCommand) }
            }
            started.shard = shardRecord
            // A resumed run keeps what its earlier processes measured, should this one be killed too.
            started.coldStarts = previousColdStarts
            try started.write(to: directory)
        } catch { throw .output(error) }
        // Audited before any result is held, so its working memory is free again when results pile up;
        // over the test examples evaluated, as leakage into examples the run never asks about biases nothing.
        let audit = DataAuditor.audit(prepared.dataset.evaluating(testExamples), labels: experiment.task.labels,
                                      minConfidence: experiment.audit.minConfidence, maxCharacters: experiment.audit.maxCharacters)
        return RunPlan(prepared: prepared, options: options, runID: runID, startedAt: startedAt, directory: directory, testExamples: testExamples,
                       selections: selections, models: models, concurrency: concurrency,
                       plannedRequests: experiment.candidates.count * testExamples.count * experiment.run.repeats, audit: audit,
                       environment: environment, previousEnvironment: previousEnvironment, previousColdStarts: previousColdStarts,
                       cacheDirectory: cacheDirectory, examplesBeforeSharding: beforeSharding.count, shard: shardRecord)
    }

    /// What every shard of one evaluation must share, as one SHA-256: the evalkit version, the config file,
    /// the test subset before sharding (`--limit`, `--only`) and each candidate's definition (its dataset
    /// files, prompt templates, model settings and model files; see `EnvironmentProbe.definition`).
    static func shardFingerprint(_ experiment: Experiment, limit: Int?, only: [String]?, environment: RunEnvironment) -> String {
        let parts: [(String, JSON)] = [
            ("evalkit_version", .string(EvalKitInfo.version)),
            ("config_sha256", .string(experiment.configHash)),
            ("limit", limit.map { .number(Double($0)) } ?? .null),
            ("only", only.map { .array($0.sorted().map(JSON.string)) } ?? .null),
            ("candidates", .array(environment.candidates.map { .array([.string($0.candidateID), .string($0.sha256)]) })),
        ]
        return SHA256.hex(JSON.object(parts).encoded())
    }

    /// Requests in flight on each of a model's servers: a request shares its replica's machine with these.
    func concurrencyPerServer(_ modelID: String) -> Int {
        let replicas = experiment.models.first { $0.id == modelID }?.replicaCount ?? 1
        return max(1, (concurrency[modelID] ?? 1) / max(1, replicas))
    }

    /// The prompt of one job: the candidate's template, with the similar examples chosen for its input.
    func prompt(_ job: RunJob) -> RenderedPrompt? {
        let candidate = experiment.candidates[job.candidateIndex]
        let example = testExamples[job.exampleIndex]
        return candidate.promptID.flatMap { id in
            prepared.builders[id]?.render(input: example.input, examples: selections[id]?[example.id])
        }
    }
}
