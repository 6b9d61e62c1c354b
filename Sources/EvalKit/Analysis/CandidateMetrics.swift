import Foundation
import Synchronization

/// The measured figures of one candidate over the test split.
public struct CandidateMetrics: Sendable, Equatable {
    public var candidate: String
    public var model: String
    public var prompt: String?
    public var role: ModelRole
    /// Requests made (examples × repeats).
    public var requests: Int
    /// Requests that got an answer.
    public var answered: Int
    public var errors: Int
    /// Answers with a full score (right, for right-or-wrong scores).
    public var correct: Int
    public var invalid: Int
    /// Mean score over the requests (correct ÷ requests for right-or-wrong scores): a failed request
    /// scores 0 (intent to treat), so failing on the hard examples cannot raise it. Nil when nothing was
    /// requested.
    public var accuracy: Double?
    /// Mean score over the requests that got an answer, shown beside `accuracy`.
    public var answeredAccuracy: Double?
    /// True when every score is 0 or 1.
    public var binaryScores: Bool = true
    /// Macro-averaged F1 over the labels; nil when the task's scorer does not read labels.
    public var macroF1: Double?
    /// Answers with no readable label ÷ answered.
    public var invalidRate: Double?
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    /// Percentiles of the end-to-end latency a user would see: every request sent (failed ones
    /// included), from its first attempt to its outcome, retries and the waits between them included.
    public var latencyTotalP50Ms: Double? = nil
    public var latencyTotalP95Ms: Double? = nil
    /// Streamed answers (measured, not cached): time to first token at p50 and p95, and the median output
    /// tokens a second after it; nil without any.
    public var streamedAnswers = 0
    public var timeToFirstTokenP50Ms: Double? = nil
    public var timeToFirstTokenP95Ms: Double? = nil
    public var outputTokensPerSecond: Double? = nil
    /// Mean latency of the answered requests: what throughput is estimated from.
    public var latencyMeanMs: Double? = nil
    public var meanInputTokens: Double?
    public var meanOutputTokens: Double?
    /// True when any token count was estimated rather than reported by the server.
    public var tokensEstimated: Bool
    /// Mean cost of an answered request × 1,000; nil without pricing.
    public var costPer1kUSD: Double?
    /// The first error message, to explain failures in the report.
    public var firstError: String?
    /// Answers that came from the response cache rather than a new request.
    public var cachedAnswers: Int = 0
    /// Requests sent, retries included (cached answers send none).
    public var attempts: Int = 0
    /// Requests sent whose result was kept (the results' own attempt counts); `attempts` minus this is
    /// what went out and was lost with a killed process.
    public var recordedAttempts: Int = 0

    /// The mean of each measure the scorer gave beside the score (exact match, token F1, each field of an
    /// extraction, JSON validity), over the requests that have it; a failed request counts 0.
    public var scoreParts: [PartMean] = []

    public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
}

/// The mean of one score part over a candidate's results.
public struct PartMean: Sendable, Equatable {
    public var name: String
    public var mean: Double
    /// Results that have this part (an extraction field's: the examples whose target has the field).
    public var count: Int
}

/// A mean added to one value at a time: the same sum, in the same order, as `MetricsCalculator.mean` of the list.
struct RunningMean {
    private(set) var count = 0
    private var sum = 0.0
    mutating func add(_ value: Double) { sum += value; count += 1 }
    var mean: Double? { count == 0 ? nil : sum / Double(count) }
}

/// Computes candidate metrics from per-example results.
public enum MetricsCalculator {
    /// Metrics of one candidate's results.
    public static func metrics(candidate: String, model: String, prompt: String?, role: ModelRole,
                               labels: [String], results: some Collection<ExampleResult>) -> CandidateMetrics {
        // One pass, copying no result: a candidate can have 100,000 of them.
        var answeredCount = 0, correct = 0, invalid = 0, cachedAnswers = 0, attempts = 0, scoreSum = 0.0, binary = true
        // Latencies are kept for their exact percentiles; token counts and costs only need their means,
        // summed in the results' order as the mean of a list would.
        var latencies: [Double] = [], inputs = RunningMean(), outputs = RunningMean(), costs = RunningMean()
        var tally = LabelTally(labels: labels)
        latencies.reserveCapacity(results.count)
        var estimated = false
        var totals: [Double] = [], firstTokens: [Double] = [], rates: [Double] = []
        totals.reserveCapacity(results.count)
        var partSums: [String: (sum: Double, count: Int)] = [:], partOrder: [String] = []
        for r in results {
            for part in r.scoreParts {
                if partSums[part.name] == nil { partOrder.append(part.name) }
                partSums[part.name, default: (0, 0)].sum += part.value
                partSums[part.name, default: (0, 0)].count += 1
            }
            attempts += r.attempts
            if r.cached { cachedAnswers += 1 }
            // A request never sent (its model did not start) has no latency to see.
            if r.attempts > 0 || r.cached { totals.append(r.latencyTotalMs) }
            if let ttft = r.timeToFirstTokenMs { firstTokens.append(ttft) }
            if let rate = r.outputTokensPerSecond { rates.append(rate) }
            guard r.answered else { continue }
            answeredCount += 1
            if r.correct { correct += 1 }
            scoreSum += r.score
            if r.score != 0 && r.score != 1 { binary = false }
            if r.invalid { invalid += 1 }
            latencies.append(r.latencyMs)
            if let t = r.inputTokens { inputs.add(Double(t)) }
            if let t = r.outputTokens { outputs.add(Double(t)) }
            if let c = r.costUSD { costs.add(c) }
            if r.tokensEstimated { estimated = true }
            tally.add(target: r.target, predicted: r.label)
        }
        latencies.sort()
        var metrics = CandidateMetrics(
            candidate: candidate, model: model, prompt: prompt, role: role,
            requests: results.count, answered: answeredCount, errors: results.count - answeredCount,
            correct: correct, invalid: invalid,
            accuracy: results.isEmpty ? nil : scoreSum / Double(results.count),
            answeredAccuracy: answeredCount == 0 ? nil : scoreSum / Double(answeredCount),
            macroF1: answeredCount == 0 ? nil : macroF1(tally),
            invalidRate: answeredCount == 0 ? nil : Double(invalid) / Double(answeredCount),
            latencyP50Ms: percentile(latencies, 0.5), latencyP95Ms: percentile(latencies, 0.95),
            meanInputTokens: inputs.mean, meanOutputTokens: outputs.mean,
            tokensEstimated: estimated,
            costPer1kUSD: costs.count == 0 || costs.count < answeredCount ? nil : (costs.mean ?? 0) * 1000,
            firstError: results.first(where: { $0.error != nil })?.error,
            cachedAnswers: cachedAnswers, attempts: attempts, recordedAttempts: attempts)
        metrics.binaryScores = binary
        metrics.latencyMeanMs = mean(latencies)
        totals.sort()
        metrics.latencyTotalP50Ms = percentile(totals, 0.5)
        metrics.latencyTotalP95Ms = percentile(totals, 0.95)
        firstTokens.sort()
        rates.sort()
        metrics.streamedAnswers = firstTokens.count
        metrics.timeToFirstTokenP50Ms = percentile(firstTokens, 0.5)
        metrics.timeToFirstTokenP95Ms = percentile(firstTokens, 0.95)
        metrics.outputTokensPerSecond = percentile(rates, 0.5)
        metrics.scoreParts = partOrder.compactMap { name in partSums[name].map { PartMean(name: name, mean: $0.sum / Double($0.count), count: $0.count) } }
        return metrics
    }

    /// Metrics of every candidate of an experiment, from its results in candidate order. `sent`: requests
    /// sent per candidate as the run's ledger counted them, which includes requests whose process was
    /// killed before their answer was kept; the results' own attempt counts are a lower bound (and the
    /// only count for runs begun before the ledger existed).
    public static func metrics(experiment: Experiment, results: [some Collection<ExampleResult> & Sendable], sent: [String: Int]? = nil) -> [CandidateMetrics] {
        // Candidates are independent: measured side by side, one core each.
        let computed = Mutex([CandidateMetrics?](repeating: nil, count: experiment.candidates.count))
        DispatchQueue.concurrentPerform(iterations: experiment.candidates.count) { index in
            let candidate = experiment.candidates[index]
            var m = metrics(candidate: candidate.id, model: candidate.modelID, prompt: candidate.promptID,
                            role: experiment.model(candidate.modelID)?.role ?? .foundation, labels: experiment.task.labels, results: results[index])
            if let count = sent?[candidate.id] { m.attempts = max(m.attempts, count) }
            // Macro-F1 over labels means nothing when the answers a scorer reads are not labels.
            if !experiment.task.scorer.readsLabels { m.macroF1 = nil }
            computed.withLock { $0[index] = m }
        }
        return computed.withLock { $0.compactMap { $0 } }
    }

    /// Percentile by linear interpolation between closest ranks (numpy's default); `sorted` ascending.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double? { Quantile.linear(sorted, q) }

    public static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Precision, recall and F1 of one label.
    public struct LabelScore: Sendable, Equatable {
        public var label: String
        public var precision: Double?
        public var recall: Double?
        public var f1: Double
        /// Examples whose target is this label.
        public var support: Int
        /// False when the label occurs neither as a target nor as a prediction.
        public var occurs: Bool
    }

    /// Per-label scores; an invalid output (nil prediction) counts as a miss for its target.
    public static func labelScores(labels: [String], pairs: [(target: String, predicted: String?)]) -> [LabelScore] {
        labelScores(LabelTally(labels: labels, pairs: pairs))
    }

    /// Per-label scores from counted pairs.
    public static func labelScores(_ tally: LabelTally) -> [LabelScore] {
        tally.labels.indices.map { i in
            let tp = tally.counts[i][i]
            let fp = tally.predictedCount(i) - tp
            let fn = tally.targetCount(i) - tp
            return LabelScore(label: tally.labels[i], precision: tp + fp == 0 ? nil : Double(tp) / Double(tp + fp),
                              recall: tp + fn == 0 ? nil : Double(tp) / Double(tp + fn),
                              f1: tp + fp + fn == 0 ? 0 : Double(2 * tp) / Double(2 * tp + fp + fn), support: tp + fn, occurs: tp + fp + fn > 0)
        }
    }

    /// Macro-averaged F1 over the labels that occur as a target or a prediction.
    public static func macroF1(labels: [String], pairs: [(target: String, predicted: String?)]) -> Double {
        macroF1(LabelTally(labels: labels, pairs: pairs))
    }

    /// Macro-averaged F1 from counted pairs.
    public static func macroF1(_ tally: LabelTally) -> Double {
        let scores = labelScores(tally).filter(\.occurs)
        return scores.isEmpty ? 0 : scores.reduce(0) { $0 + $1.f1 } / Double(scores.count)
    }

    /// Counts of target (rows, label order) against prediction (columns, label order, then invalid).
    public static func confusion(labels: [String], pairs: [(target: String, predicted: String?)]) -> [[Int]] {
        LabelTally(labels: labels, pairs: pairs).confusion
    }
}

/// Target against predicted label, counted: what per-label scores and the confusion matrix are read from,
/// without keeping one pair per answer (a candidate can have 250,000 answers).
public struct LabelTally: Sendable, Equatable {
    public let labels: [String]
    /// Rows: targets in label order, then any target that is not a label; columns: predictions in label
    /// order, then no label (an invalid answer or one that is not a label).
    public private(set) var counts: [[Int]]
    private let index: [String: Int]

    public init(labels: [String]) {
        self.labels = labels
        index = Dictionary(labels.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        counts = Array(repeating: Array(repeating: 0, count: labels.count + 1), count: labels.count + 1)
    }

    public init(labels: [String], pairs: some Sequence<(target: String, predicted: String?)>) {
        self.init(labels: labels)
        for pair in pairs { add(target: pair.target, predicted: pair.predicted) }
    }

    /// Counts one answer.
    public mutating func add(target: String, predicted: String?) {
        let row = index[target] ?? labels.count
        counts[row][predicted.flatMap { index[$0] } ?? labels.count] += 1
    }

    /// Answers whose target is label `i`.
    public func targetCount(_ i: Int) -> Int { counts[i].reduce(0, +) }
    /// Answers that predicted label `i`.
    public func predictedCount(_ i: Int) -> Int { counts.reduce(0) { $0 + $1[i] } }
    /// The confusion matrix: targets that are labels (rows) against predictions (label columns, then invalid).
    public var confusion: [[Int]] { Array(counts.prefix(labels.count)) }
}
