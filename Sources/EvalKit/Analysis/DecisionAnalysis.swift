import Foundation

/// A candidate tested against the reference on the examples both answered.
public struct PairedComparison: Sendable, Equatable {
    public var reference: String
    public var pairs: Int
    /// Pairs where only the candidate is right (b) and only the reference is right (c).
    public var onlyCandidateRight: Int
    public var onlyReferenceRight: Int
    /// Candidate accuracy minus reference accuracy on the paired examples.
    public var difference: Double
    /// Exact McNemar p-value, and the same after Holm's adjustment over all comparisons.
    public var pValue: Double
    public var pValueHolm: Double
    /// Seeded paired-bootstrap 95% interval of the difference.
    public var bootstrapLow: Double
    public var bootstrapHigh: Double
    /// Smallest difference these pairs detect at the policy's α and power; nil when no pair disagrees.
    public var minimumDetectable: Double?
    /// Pairs needed to detect a difference as large as the margin; nil when it cannot be computed.
    public var neededForMargin: Int?
}

/// Where a candidate's total cost over the horizon crosses the reference's.
public enum BreakEven: Sendable, Equatable {
    /// Cheaper than the reference above this many requests a month.
    case above(Double)
    /// Cheaper below this many requests a month.
    case below(Double)
    case always, never
    /// The reference itself, or a cost that is not known.
    case notApplicable
}

/// Everything the decision weighs about one candidate.
public struct CandidateAssessment: Sendable {
    public var metrics: CandidateMetrics
    public var accuracyLow: Double?
    public var accuracyHigh: Double?
    /// Share of examples whose repeated answers all agree; nil when each example was asked once.
    public var consistency: Double?
    /// Accuracy within each repeat, in repeat order.
    public var repeatAccuracies: [Double]
    /// Nil for the reference itself.
    public var comparison: PairedComparison?
    public var costPerRequestUSD: Double?
    public var oneTimeCostUSD: Double
    /// Where the one-time cost came from (config, measured training time, none).
    public var oneTimeCostSource: String
    public var monthlyCostUSD: Double?
    public var horizonCostUSD: Double?
    public var breakEven: BreakEven
    /// Each requirement this candidate fails, with by how much.
    public var requirementFailures: [String]
    /// Bootstrap lower bound ≥ −margin; nil when it could not be tested.
    public var nonInferior: Bool?
    public var qualifies: Bool
    public var recommended: Bool

    public var id: String { metrics.candidate }
}

/// The recommendation.
public enum Verdict: Sendable, Equatable {
    /// Keep prompting the foundation model with this candidate's prompt.
    case keepFoundation(candidate: String)
    /// Move to this smaller or fine-tuned model.
    case moveTo(candidate: String)
    /// No candidate meets every requirement and the margin.
    case noneQualifies
}

/// The analysis behind report.md's Decision and Step 3 sections.
public struct DecisionAnalysis: Sendable {
    public var policy: DecisionPolicy
    public var referenceID: String?
    /// Why this reference: named in the config, or the foundation model's most accurate prompt.
    public var referenceReason: String
    public var assessments: [CandidateAssessment]
    public var verdict: Verdict
    /// Number of comparisons the Holm adjustment covered.
    public var comparisons: Int

    public func assessment(_ id: String) -> CandidateAssessment? { assessments.first { $0.id == id } }
    public var recommended: CandidateAssessment? { assessments.first(where: \.recommended) }
}

/// Computes the decision from per-example results, the metrics and the policy.
public enum DecisionAnalyzer {
    /// Requests that fail more often than this make a candidate's figures unreliable.
    public static let defaultMaxErrorRate = 0.05

    public static func analyze(experiment: Experiment, metrics: [CandidateMetrics], results: [some Collection<ExampleResult>],
                               trainingSeconds: [String: Double]) -> DecisionAnalysis {
        let policy = experiment.decision
        let answered = metrics.indices.filter { metrics[$0].answered > 0 }
        let (referenceIndex, reason) = chooseReference(experiment: experiment, metrics: metrics, answered: answered)
        // Paired tests against the reference, then Holm over all of them. One candidate's answers are
        // indexed at a time: with 100,000 results, indexing them all at once would double the memory.
        var comparisons: [Int: PairedComparison] = [:]
        if let r = referenceIndex {
            let referenceAnswers = firstAnswers(results[r])
            for i in answered where i != r {
                comparisons[i] = compare(firstAnswers(results[i]), referenceAnswers, referenceID: metrics[r].candidate, policy: policy,
                                         seed: experiment.run.seed &+ UInt64(i))
            }
            let keys = comparisons.keys.sorted()
            let adjusted = Statistics.holm(keys.compactMap { comparisons[$0]?.pValue })
            for (k, p) in zip(keys, adjusted) { comparisons[k]?.pValueHolm = p }
        }

        let referenceCost = referenceIndex.map { costs(metrics[$0], experiment: experiment, trainingSeconds: trainingSeconds, policy: policy) }
        var assessments: [CandidateAssessment] = metrics.indices.map { i in
            let m = metrics[i]
            let interval = Statistics.wilson(successes: m.correct, trials: m.answered)
            let cost = costs(m, experiment: experiment, trainingSeconds: trainingSeconds, policy: policy)
            let failures = requirementFailures(m, policy: policy)
            let nonInferior: Bool? = i == referenceIndex ? true : comparisons[i].map { $0.bootstrapLow >= -policy.margin }
            let breakEven: BreakEven
            if i == referenceIndex { breakEven = .notApplicable } else if let rc = referenceCost {
                breakEven = Self.breakEven(oneTime: cost.oneTime, perRequest: cost.perRequest, referenceOneTime: rc.oneTime,
                                           referencePerRequest: rc.perRequest, months: policy.horizonMonths)
            } else { breakEven = .notApplicable }
            return CandidateAssessment(
                metrics: m, accuracyLow: interval?.low, accuracyHigh: interval?.high,
                consistency: consistency(results[i], repeats: experiment.run.repeats),
                repeatAccuracies: repeatAccuracies(results[i], repeats: experiment.run.repeats),
                comparison: comparisons[i], costPerRequestUSD: cost.perRequest, oneTimeCostUSD: cost.oneTime,
                oneTimeCostSource: cost.source, monthlyCostUSD: cost.monthly, horizonCostUSD: cost.horizon, breakEven: breakEven,
                requirementFailures: failures, nonInferior: nonInferior,
                qualifies: m.answered > 0 && failures.isEmpty && nonInferior == true, recommended: false)
        }
        // Cheapest over the horizon among those that qualify; unknown cost ranks last, then accuracy.
        let best = assessments.indices.filter { assessments[$0].qualifies }.min { a, b in
            let ca = assessments[a].horizonCostUSD ?? .infinity, cb = assessments[b].horizonCostUSD ?? .infinity
            if ca != cb { return ca < cb }
            return (assessments[a].metrics.accuracy ?? 0) > (assessments[b].metrics.accuracy ?? 0)
        }
        var verdict = Verdict.noneQualifies
        if let best {
            assessments[best].recommended = true
            let chosen = assessments[best].metrics
            verdict = chosen.role == .foundation ? .keepFoundation(candidate: chosen.candidate) : .moveTo(candidate: chosen.candidate)
        }
        return DecisionAnalysis(policy: policy, referenceID: referenceIndex.map { metrics[$0].candidate }, referenceReason: reason,
                                assessments: assessments, verdict: verdict, comparisons: comparisons.count)
    }

    static func chooseReference(experiment: Experiment, metrics: [CandidateMetrics], answered: [Int]) -> (Int?, String) {
        if let named = experiment.decision.reference, let index = metrics.firstIndex(where: { $0.candidate == named }) {
            return metrics[index].answered > 0 ? (index, "named in the config") : (nil, "the configured reference \(named) produced no answers")
        }
        func mostAccurate(_ indices: [Int]) -> Int? {
            indices.max { (metrics[$0].accuracy ?? 0, -$0) < (metrics[$1].accuracy ?? 0, -$1) }
        }
        if let index = mostAccurate(answered.filter { metrics[$0].role == .foundation }) {
            return (index, "the foundation model's most accurate prompt")
        }
        if let index = mostAccurate(answered) {
            return (index, "the most accurate candidate, as no foundation-model candidate produced answers")
        }
        return (nil, "no candidate produced answers")
    }

    /// The first repeat's answered result for each example id.
    static func firstAnswers(_ results: some Collection<ExampleResult>) -> [String: Bool] {
        var out: [String: Bool] = [:]
        for r in results where r.repeatIndex == 0 && r.answered { out[r.exampleID] = r.correct }
        return out
    }

    /// Compares a candidate with the reference on the examples both answered.
    public static func compare(_ candidate: [String: Bool], _ reference: [String: Bool], referenceID: String,
                               policy: DecisionPolicy, seed: UInt64) -> PairedComparison? {
        let ids = candidate.keys.filter { reference[$0] != nil }.sorted()
        guard !ids.isEmpty else { return nil }
        let pairs = ids.map { (first: candidate[$0] ?? false, second: reference[$0] ?? false) }
        let b = pairs.filter { $0.first && !$0.second }.count
        let c = pairs.filter { !$0.first && $0.second }.count
        let n = Double(pairs.count)
        let interval = Statistics.pairedBootstrap(pairs, iterations: policy.bootstrapIterations, seed: seed) ?? (0, 0)
        let discordance = Double(b + c) / n
        let p = Statistics.mcNemarExact(b: b, c: c)
        return PairedComparison(
            reference: referenceID, pairs: pairs.count, onlyCandidateRight: b, onlyReferenceRight: c,
            difference: Double(b - c) / n, pValue: p, pValueHolm: p, bootstrapLow: interval.low, bootstrapHigh: interval.high,
            minimumDetectable: Statistics.minimumDetectableDifference(pairs: pairs.count, discordance: discordance,
                                                                      alpha: policy.alpha, power: policy.power),
            neededForMargin: Statistics.pairedSampleSize(delta: policy.margin, discordance: discordance, alpha: policy.alpha, power: policy.power))
    }

    struct Costs {
        var perRequest: Double?
        var oneTime: Double
        var source: String
        var monthly: Double?
        var horizon: Double?
    }

    static func costs(_ m: CandidateMetrics, experiment: Experiment, trainingSeconds: [String: Double], policy: DecisionPolicy) -> Costs {
        let model = experiment.model(m.model)
        let (oneTime, source) = oneTimeCost(model, trainingSeconds: trainingSeconds[m.model])
        let perRequest = m.costPer1kUSD.map { $0 / 1000 }
        let monthly = perRequest.map { $0 * policy.monthlyRequests }
        return Costs(perRequest: perRequest, oneTime: oneTime, source: source, monthly: monthly,
                     horizon: monthly.map { oneTime + $0 * policy.horizonMonths })
    }

    /// A model's one-time cost: from the config, else measured training time at its hourly price.
    public static func oneTimeCost(_ model: ModelSpec?, trainingSeconds: Double?) -> (usd: Double, source: String) {
        if let ft = model?.fineTuning {
            var source: String
            switch ft.basis {
            case .fixed(let usd): source = "config: $\(JSON.formatNumber(usd))"
            case let .tokens(tokens, epochs, price):
                source = "config: \(JSON.formatNumber(tokens)) training tokens × \(JSON.formatNumber(epochs)) epochs × $\(JSON.formatNumber(price))/M"
            }
            let origin = [ft.source, ft.date.map { "as of \($0)" }].compactMap { $0 }.joined(separator: ", ")
            if !origin.isEmpty { source += " (\(origin))" }
            return (ft.usd, source)
        }
        if let seconds = trainingSeconds, case .perHour(let hourly)? = model?.pricing?.basis {
            return (seconds / 3600 * hourly, "measured training time \(Format.fixed(seconds, digits: 2)) s × $\(JSON.formatNumber(hourly))/h")
        }
        return (0, "none")
    }

    /// Solves oneTime + V·months·perRequest = referenceOneTime + V·months·referencePerRequest for V.
    public static func breakEven(oneTime: Double, perRequest: Double?, referenceOneTime: Double, referencePerRequest: Double?,
                                 months: Double) -> BreakEven {
        guard let c = perRequest, let r = referencePerRequest, months > 0 else { return .notApplicable }
        let fixedGap = oneTime - referenceOneTime
        if c < r {
            let volume = fixedGap / (months * (r - c))
            return volume <= 0 ? .always : .above(volume)
        }
        if c > r {
            let volume = -fixedGap / (months * (c - r))
            return volume <= 0 ? .never : .below(volume)
        }
        return fixedGap < 0 ? .always : .never
    }

    static func requirementFailures(_ m: CandidateMetrics, policy: DecisionPolicy) -> [String] {
        guard m.answered > 0 else { return ["no answers (\(m.firstError ?? "every request failed"))"] }
        var failures: [String] = []
        if let min = policy.minAccuracy, let accuracy = m.accuracy, accuracy < min {
            failures.append("accuracy \(Format.percent(accuracy)) is \(Format.fixed((min - accuracy) * 100, digits: 1)) points below the required \(Format.percent(min))")
        }
        if let max = policy.maxP95LatencyMs, let p95 = m.latencyP95Ms, p95 > max {
            failures.append("p95 latency \(Format.fixed(p95, digits: 1)) ms exceeds \(Format.fixed(max, digits: 1)) ms by \(Format.fixed(p95 - max, digits: 1)) ms")
        }
        if let max = policy.maxCostPer1kUSD {
            if let cost = m.costPer1kUSD {
                if cost > max { failures.append("cost \(Format.usd(cost)) per 1k requests exceeds \(Format.usd(max)) by \(Format.usd(cost - max))") }
            } else {
                failures.append("cost per 1k requests is unknown (no pricing), so the cost limit \(Format.usd(max)) cannot be checked")
            }
        }
        if m.errorRate > defaultMaxErrorRate {
            failures.append("\(Format.percent(m.errorRate)) of requests failed (more than \(Format.percent(defaultMaxErrorRate, digits: 0)))")
        }
        return failures
    }

    static func consistency(_ results: some Collection<ExampleResult>, repeats: Int) -> Double? {
        guard repeats > 1 else { return nil }
        var labels: [String: [String?]] = [:]
        for r in results where r.answered { labels[r.exampleID, default: []].append(r.label) }
        let complete = labels.values.filter { $0.count == repeats }
        guard !complete.isEmpty else { return nil }
        let agreeing = complete.filter { answers in answers.allSatisfy { $0 == answers[0] } }.count
        return Double(agreeing) / Double(complete.count)
    }

    static func repeatAccuracies(_ results: some Collection<ExampleResult>, repeats: Int) -> [Double] {
        guard repeats > 1 else { return [] }
        return (0..<repeats).compactMap { k in
            let answered = results.lazy.filter { $0.repeatIndex == k && $0.answered }
            let count = answered.count
            return count == 0 ? nil : Double(answered.filter(\.correct).count) / Double(count)
        }
    }
}
