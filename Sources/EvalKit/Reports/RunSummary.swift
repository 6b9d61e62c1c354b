import Foundation

/// Everything a run's reports are written from.
public struct RunSummary: Sendable {
    public struct SplitSummary: Sendable {
        public var name: String
        public var count: Int
        public var labelCounts: [(label: String, count: Int)]
    }

    /// A model's training, as measured: by evalkit for a builtin model, by the trainer for an outside fine-tune.
    public struct TrainingSummary: Sendable {
        public static let builtinSource = "builtin training"
        public var modelID: String
        public var seconds: Double
        /// Training examples, when known (an outside trainer's log does not say).
        public var examples: Int?
        /// "builtin training", or the path of the outside fine-tune's training log the time was read from.
        public var source: String = builtinSource
        public var last: EpochStats? = nil
        /// The epoch whose weights were kept, and whether early stopping ended training.
        public var bestEpoch: Int? = nil
        public var stoppedEarly = false
    }

    public var experiment: Experiment
    public var runID: String
    public var splits: [SplitSummary]
    /// Test examples evaluated (after `--limit`).
    public var evaluatedExamples: Int
    public var metrics: [CandidateMetrics]
    /// Intervals, paired tests, costs over the horizon and the verdict.
    public var analysis: DecisionAnalysis
    /// Per-example results by candidate, in candidate order (for the appendix).
    public var results: [ResultColumn]
    /// The test examples evaluated, in file order (inputs for the appendix's samples, and their label mix).
    public var examples: [Example]
    /// Why the run stopped before every request was made (a budget reached); nil when it finished.
    public var stopReason: String?
    /// Requests that were planned (candidates × examples × repeats).
    public var plannedRequests: Int
    /// Models that could not be used at all, with the reason (e.g. unreachable at a URL).
    public var modelFailures: [(model: String, reason: String)]
    public var training: [TrainingSummary]
    public var startedAt: Date
    public var finishedAt: Date
    /// The command line that reproduces the run.
    public var reproduceCommand: String
    public var evalkitVersion: String
    /// Why the run counts as failed although it has results (too many failed requests); nil otherwise.
    public var runFailure: String? = nil
    /// The data audit of step 4; nil when the dataset could not be read again (re-rendering).
    public var audit: DataAudit? = nil
    /// Training curves with their diagnoses.
    public var curves: [TrainingCurve] = []
    /// The machine, model builds and candidate definitions the run depended on (run.json's `environment`).
    public var environment: RunEnvironment? = nil
    /// The models `--only` restricted the run to; nil when it ran every candidate of its config.
    public var onlyModels: [String]? = nil
    /// Requests sent per candidate id over every process of the run (requests-sent.jsonl); nil when not counted.
    public var requestsSent: [String: Int]? = nil
    /// Each model start over every process of the run (start-up and warm-up, apart from the latencies).
    /// Nil for a run whose run.json predates their measurement.
    public var coldStarts: [ColdStart]? = []
    /// What the capacity probe measured (capacity.csv).
    public var capacity: [CapacityLevel] = []
    /// The test examples before `--shard` chose its part (the first `limit` of the split, or all of it).
    public var examplesBeforeSharding: Int? = nil
    /// The part of the test examples this run evaluated (`--shard`); nil for a whole run.
    public var shard: ShardRecord? = nil
    /// The shard runs a merged run was made from (`evalkit merge`); empty otherwise.
    public var mergedFrom: [MergedShard] = []
    /// Each prompt rendered once with `HTMLReport.inputMarker` for the input, for report.html; empty when the
    /// dataset its few-shot examples come from could not be read.
    public var promptPreviews: [String: RenderedPrompt] = [:]

    /// Whole milliseconds, as run.json records it, so a re-rendered report shows the same figure.
    public var durationSeconds: Double { (finishedAt.timeIntervalSince(startedAt) * 1000).rounded() / 1000 }
}

/// What a shard run records of its part: which one, and the fingerprint of the experiment every shard
/// of a merge must share.
public struct ShardRecord: Sendable, Equatable {
    public var shard: Shard
    /// SHA-256 over what decides the answers of every shard alike (see `RunPlan.shardFingerprint`).
    public var fingerprint: String
    /// The command that evaluates every shard's examples in one process: what a merged run records.
    public var wholeRunCommand: String
}

/// One shard run a merged run was made from.
public struct MergedShard: Sendable, Equatable {
    public var shard: Shard
    public var runID: String
}

/// The version of evalkit, written into every run's manifest.
public enum EvalKitInfo {
    public static let version = "0.1.0"
}

extension Date {
    /// ISO 8601 in UTC with seconds, e.g. 2026-11-22T22:31:04Z.
    var iso8601: String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: self)
    }
}

extension RunSummary.TrainingSummary {
    /// The training time a model's outside fine-tune log records (Hugging Face's `train_runtime`);
    /// nil without one. The model's one-time cost is that time at its price per hour.
    static func outside(_ experiment: Experiment, model: ModelSpec) -> RunSummary.TrainingSummary? {
        guard let path = model.trainingLog, let log = try? TrainingLogReader.read(experiment.resolve(path)),
              let seconds = log.runtimeSeconds else { return nil }
        return RunSummary.TrainingSummary(modelID: model.id, seconds: seconds, examples: nil, source: path)
    }
}
