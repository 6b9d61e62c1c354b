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
    public var correct: Int
    public var invalid: Int
    /// Correct ÷ answered; failed calls are excluded and counted in `errors`.
    public var accuracy: Double?
    public var macroF1: Double?
    /// Answers with no readable label ÷ answered.
    public var invalidRate: Double?
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    public var meanInputTokens: Double?
    public var meanOutputTokens: Double?
    /// True when any token count was estimated rather than reported by the server.
    public var tokensEstimated: Bool
    /// Mean cost of an answered request × 1,000; nil without pricing.
    public var costPer1kUSD: Double?
    /// The first error message, to explain failures in the report.
    public var firstError: String?

    public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
}

/// Computes candidate metrics from per-example results.
public enum MetricsCalculator {
    /// Metrics of one candidate's results.
    public static func metrics(candidate: String, model: String, prompt: String?, role: ModelRole,
                               labels: [String], results: [ExampleResult]) -> CandidateMetrics {
        let answered = results.filter(\.answered)
        let correct = answered.filter(\.correct).count
        let invalid = answered.filter(\.invalid).count
        let latencies = answered.map(\.latencyMs).sorted()
        let inputs = answered.compactMap(\.inputTokens)
        let outputs = answered.compactMap(\.outputTokens)
        let costs = answered.compactMap(\.costUSD)
        return CandidateMetrics(
            candidate: candidate, model: model, prompt: prompt, role: role,
            requests: results.count, answered: answered.count, errors: results.count - answered.count,
            correct: correct, invalid: invalid,
            accuracy: answered.isEmpty ? nil : Double(correct) / Double(answered.count),
            macroF1: answered.isEmpty ? nil : macroF1(labels: labels, pairs: answered.map { ($0.target, $0.label) }),
            invalidRate: answered.isEmpty ? nil : Double(invalid) / Double(answered.count),
            latencyP50Ms: percentile(latencies, 0.5), latencyP95Ms: percentile(latencies, 0.95),
            meanInputTokens: mean(inputs.map(Double.init)), meanOutputTokens: mean(outputs.map(Double.init)),
            tokensEstimated: answered.contains(where: \.tokensEstimated),
            costPer1kUSD: costs.isEmpty || costs.count < answered.count ? nil : (mean(costs) ?? 0) * 1000,
            firstError: results.first(where: { $0.error != nil })?.error)
    }

    /// Percentile by linear interpolation between closest ranks (numpy's default); `sorted` ascending.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(sorted.count - 1, lower + 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    public static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Macro-averaged F1 over the labels that occur as a target or a prediction; an invalid
    /// output (nil prediction) counts as a miss for its target.
    public static func macroF1(labels: [String], pairs: [(target: String, predicted: String?)]) -> Double {
        var scores: [Double] = []
        for label in labels {
            let tp = pairs.filter { $0.target == label && $0.predicted == label }.count
            let fp = pairs.filter { $0.target != label && $0.predicted == label }.count
            let fn = pairs.filter { $0.target == label && $0.predicted != label }.count
            if tp + fp + fn == 0 { continue }
            scores.append(Double(2 * tp) / Double(2 * tp + fp + fn))
        }
        return scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }
}
