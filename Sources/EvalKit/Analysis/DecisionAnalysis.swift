import Foundation

/// How a paired comparison was tested: chosen by the scores, not the config.
public enum PairedMethod: String, Sendable, Equatable {
    /// Right-or-wrong scores: exact McNemar test, Tango's score interval and score test.
    case proportions = "Tango score interval; exact McNemar test"
    /// Scores between 0 and 1: paired sign-flip permutation test of the mean difference, percentile
    /// bootstrap interval (2,000 resamples, fixed seed), non-inferiority from the same bootstrap.
    case resampling = "percentile bootstrap interval (2,000 resamples); paired sign-flip permutation test"
}

/// Two candidates compared on the examples both were asked (a failed request scores 0).
public struct PairedComparison: Sendable, Equatable {
    public var candidate: String
    /// What the candidate is compared with: the reference, the chosen candidate, a runner-up.
    public var reference: String
    public var method: PairedMethod
    public var pairs: Int
    /// Pairs where the candidate scored higher (b) and where the reference did (c); for right-or-wrong
    /// scores, those only the candidate got right and those only the reference did.
    public var candidateBetter: Int
    public var referenceBetter: Int
    /// Candidate mean score (accuracy) minus the reference's on the paired examples.
    public var difference: Double
    /// The interval of the difference at the policy's 1 − α (Tango's score interval, or the bootstrap's).
    public var low: Double
    public var high: Double
    /// Two-sided p-value of "no difference" (exact McNemar, or the sign-flip permutation test), and the
    /// same after Holm's adjustment within its family of comparisons.
    public var pValue: Double
    public var pValueHolm: Double
    /// Variance of the per-pair differences: what the sample sizes below rest on.
    public var differenceVariance: Double
    /// Standard deviation of the per-pair differences.
    public var differenceStandardDeviation: Double { differenceVariance.squareRoot() }
    /// With resampling: the bootstrap's one-sided p-value of "difference ≤ −margin".
    public var bootstrapNonInferiorityP: Double? = nil
    /// Smallest difference these pairs detect at the policy's α and power; nil when none is detectable.
    public var minimumDetectable: Double?
    /// Pairs a McNemar test needs to detect a difference as large as the margin, at the observed
    /// discordance (at least one discordant pair); nil when it cannot be computed.
    public var neededForMargin: Int?

    /// Share of pairs whose scores differ (for right-or-wrong scores: exactly one of the two is right).
    public var discordance: Double { pairs == 0 ? 0 : Double(candidateBetter + referenceBetter) / Double(pairs) }
}

/// What the paired interval says about a candidate against the reference and the margin.
public enum NonInferiority: String, Sendable {
    /// Worse than the reference by less than the margin, with confidence: the one-sided score test
    /// at α/2 rejects "worse by the margin or more" (Holm-adjusted over the comparisons with the reference).
    case shown = "non-inferior"
    /// Worse by more than the margin, with confidence: the interval's upper bound is below −margin.
    case inferior
    /// Neither: more examples are needed to tell.
    case inconclusive
}

/// The non-inferiority question for one candidate: the test, its outcome and the examples it needs.
public struct NonInferiorityTest: Sendable, Equatable {
    public var status: NonInferiority
    /// One-sided p-value of Tango's score test of "difference ≤ −margin", and the same after Holm's
    /// adjustment over every comparison with the reference.
    public var pValue: Double
    public var pValueHolm: Double
    /// Pairs needed to show non-inferiority with the policy's power if the observed difference is the
    /// true one; nil when the observed difference is beyond the margin.
    public var examplesNeeded: Int?
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
    /// Interval of the accuracy (failed requests score 0) at the policy's 1 − α: Wilson's for
    /// right-or-wrong scores, else a percentile bootstrap of the mean score.
    public var accuracyLow: Double?
    public var accuracyHigh: Double?
    /// Share of examples whose repeated answers all agree; nil when each example was asked once.
    public var consistency: Double?
    /// Accuracy within each repeat, in repeat order.
    public var repeatAccuracies: [Double]
    /// Precision, recall and F1 per label, and the confusion matrix (rows: target; columns: answer,
    /// then invalid), over the answered requests.
    public var labelScores: [MetricsCalculator.LabelScore] = []
    public var confusion: [[Int]] = []
    /// Nil for the reference itself.
    public var comparison: PairedComparison?
    /// Nil for the reference itself and for candidates that share no example with it.
    public var nonInferiority: NonInferiorityTest?
    /// Monthly cost ÷ monthly requests at the policy's volume (for per-request prices, the mean
    /// measured cost of a request); nil when the cost is unknown.
    public var costPerRequestUSD: Double?
    /// How the monthly cost was reached, or why it is unknown.
    public var monthlyCostBasis: String = ""
    /// One instance's throughput, where the cost model rests on it (dedicated).
    public var capacity: Capacity? = nil
    public var oneTimeCostUSD: Double
    /// Where the one-time cost came from (config, measured training time, none).
    public var oneTimeCostSource: String
    public var monthlyCostUSD: Double?
    public var horizonCostUSD: Double?
    public var breakEven: BreakEven
    /// Each requirement this candidate fails, with by how much.
    public var requirementFailures: [String]
    /// True for the reference and for candidates shown non-inferior; nil when it could not be tested.
    public var nonInferior: Bool?
    public var qualifies: Bool
    public var recommended: Bool

    public var id: String { metrics.candidate }
    /// Cost of 1,000 requests at the policy's monthly volume; nil when the cost is unknown.
    public var costPer1kUSD: Double? { costPerRequestUSD.map { $0 * 1000 } }
}

/// Accuracy against the number of labelled training examples: candidates of one kind of trained model (the
/// same provider and prompt) that differ in how many examples they were trained on.
public struct DataEfficiencyCurve: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var candidate: String
        public var examples: Int
        public var accuracy: Double?
        public var low: Double?
        public var high: Double?
        /// Shown non-inferior to the reference (nil when it could not be tested).
        public var nonInferior: Bool?
        /// Meets every requirement of the policy and the margin.
        public var qualifies: Bool
    }
    /// The provider the trained models share (e.g. "builtin"), and their prompt where they take one.
    public var provider: String
    public var prompt: String?
    /// The outside fine-tunes' method as declared (nil for evalkit's builtin model), and their teacher
    /// when a model's answers labelled the training sets (no labelling cost then).
    public var method: String? = nil
    public var teacher: String? = nil

    /// How the report and its chart name the curve: the method (or provider) and prompt, and the teacher.
    public var name: String {
        var text = method.map { "\($0) (\(provider))" } ?? provider
        if let prompt { text += " with prompt \(prompt)" }
        if let teacher { text += ", labels from \(teacher)" }
        return text
    }
    /// By training-set size, smallest first.
    public var points: [Point]
    /// The smallest training set whose candidate is shown non-inferior to the reference; nil when none is.
    public var smallestNonInferior: Point?
    /// The smallest whose candidate meets every requirement as well (accuracy, latency, cost, errors).
    public var smallestQualifying: Point?
    /// What labelling that many examples costs at `decision.label_cost_usd`; nil without a price.
    public var labellingCostUSD: Double?
    /// The same for the smallest qualifying training set.
    public var qualifyingLabellingCostUSD: Double? = nil
}

/// The most common label of the evaluated examples.
public struct MajorityClass: Sendable, Equatable {
    public var label: String
    public var count: Int
    public var examples: Int
    public var share: Double { examples > 0 ? Double(count) / Double(examples) : 0 }
}

/// One answer a candidate gave to most of the examples it answered.
public struct DominantAnswer: Sendable, Equatable {
    public var candidate: String
    public var label: String
    public var count: Int
    public var answered: Int
}

/// The recommendation.
public enum Verdict: Sendable, Equatable {
    /// Keep prompting the foundation model with this candidate's prompt.
    case keepFoundation(candidate: String)
    /// Move to this smaller or fine-tuned model.
    case moveTo(candidate: String)
    /// Candidates that meet every requirement and would be the cheaper choice could be as accurate
    /// as the reference or not: the data cannot tell yet. `fallback` is what qualifies meanwhile.
    case notEnoughEvidence(candidates: [String], fallback: String?)
    /// No candidate meets every requirement and the margin.
    case noneQualifies
}

/// The analysis behind report.md: every statistic it shows.
public struct DecisionAnalysis: Sendable {
    public var policy: DecisionPolicy
    public var referenceID: String?
    /// Why this reference: named in the config, or the foundation model's most accurate prompt.
    public var referenceReason: String
    public var assessments: [CandidateAssessment]
    public var verdict: Verdict
    /// Number of comparisons with the reference that Holm's adjustment covered.
    public var comparisons: Int
    /// Step 1: the most accurate foundation prompt against the runner-up (nil with fewer than two).
    public var promptComparison: PairedComparison?
    /// Step 2: each dynamic (similar-example) prompt against each static few-shot prompt of its model.
    public var dynamicComparisons: [PairedComparison] = []
    /// The LLM judge's work, cost and calibration; nil without a judge.
    public var judge: JudgeSummary? = nil
    /// The chosen candidate against each costlier qualifying candidate that is more accurate, Holm-adjusted as one family.
    public var rivalComparisons: [PairedComparison] = []

    /// Classification: the most common target among the evaluated examples and its share, the accuracy of
    /// always answering it (what a candidate must beat to have learnt anything); nil for other tasks.
    public var majorityClass: MajorityClass? = nil
    /// Candidates that gave one answer to most examples (a sign of a prompt the model does not follow).
    public var dominantAnswers: [DominantAnswer] = []
    /// Step 4: accuracy against training-set size, for candidates trained the same way on several sizes.
    public var dataEfficiency: [DataEfficiencyCurve] = []
    /// Step 4: the outside fine-tunes the config describes, methods and distilled students compared.
    public var fineTunes: FineTuneComparison? = nil

    public func assessment(_ id: String) -> CandidateAssessment? { assessments.first { $0.id == id } }
    public var recommended: CandidateAssessment? { assessments.first(where: \.recommended) }
}

/// Computes the decision from per-example results, the metrics and the policy. Nothing depends on the
/// order of the candidates in the config or on a random seed: ties are broken by the rules below.
public enum DecisionAnalyzer {
    /// `capacities`: one instance's throughput per candidate as the capacity probe measured it; a candidate
    /// without one has it estimated from the accuracy pass.
    /// `trainingExamples`: the examples each trained model learnt from (by model id), where measured; an
    /// outside fine-tune's come from its `training` declaration. `adapterBytes`: each declared adapter's
    /// size as the run fingerprinted it (FineTuneComparison.adapterBytes).
    public static func analyze(experiment: Experiment, metrics: [CandidateMetrics], results: [some Collection<ExampleResult>],
                               trainingSeconds: [String: Double], trainingExamples: [String: Int] = [:], capacities: [String: Capacity] = [:],
                               judgements: [Judgement] = [], adapterBytes: [String: Int] = [:]) -> DecisionAnalysis {
        let policy = experiment.decision
        let measured = metrics.indices.filter { metrics[$0].requests > 0 && metrics[$0].answered > 0 }
        let (referenceIndex, reason) = chooseReference(experiment: experiment, metrics: metrics, answered: measured)
        // Paired tests against the reference, then Holm over all of them. One candidate's answers are
        // indexed at a time: with 100,000 results, indexing them all at once would double the memory.
        var comparisons: [Int: PairedComparison] = [:]
        var tests: [Int: NonInferiorityTest] = [:]
        if let r = referenceIndex {
            let referenceScores = firstScores(results[r])
            for i in measured where i != r {
                guard let c = compare(firstScores(results[i]), referenceScores, candidateID: metrics[i].candidate,
                                      referenceID: metrics[r].candidate, policy: policy) else { continue }
                comparisons[i] = c
                tests[i] = nonInferiority(c, policy: policy)
            }
            let keys = comparisons.keys.sorted()
            for (k, p) in zip(keys, Statistics.holm(keys.compactMap { comparisons[$0]?.pValue })) { comparisons[k]?.pValueHolm = p }
            for (k, p) in zip(keys, Statistics.holm(keys.compactMap { tests[$0]?.pValue })) {
                tests[k]?.pValueHolm = p
                if tests[k]?.status == .shown && p >= policy.alpha / 2 { tests[k]?.status = .inconclusive }
            }
        }

        let z = Statistics.normalQuantile(1 - policy.alpha / 2)
        let referenceCost = referenceIndex.map { costs(metrics[$0], experiment: experiment, trainingSeconds: trainingSeconds, capacities: capacities) }
        var assessments: [CandidateAssessment] = metrics.indices.map { i in
            let m = metrics[i]
            let interval = accuracyInterval(m, results[i], alpha: policy.alpha, z: z)
            let cost = costs(m, experiment: experiment, trainingSeconds: trainingSeconds, capacities: capacities)
            let failures = requirementFailures(m, low: interval?.low, costPer1k: cost.perRequest.map { $0 * 1000 }, unknownCost: cost.basis, policy: policy)
            let nonInferior: Bool? = i == referenceIndex ? true : tests[i].map { $0.status == .shown }
            let breakEven: BreakEven
            if i == referenceIndex { breakEven = .notApplicable } else if let rc = referenceCost {
                breakEven = cost.curve.flatMap { c in rc.curve.map { Self.breakEven(c, $0, volume: policy.monthlyRequests) } } ?? .notApplicable
            } else { breakEven = .notApplicable }
            return CandidateAssessment(
                metrics: m, accuracyLow: interval?.low, accuracyHigh: interval?.high,
                consistency: consistency(results[i], repeats: experiment.run.repeats),
                repeatAccuracies: repeatAccuracies(results[i], repeats: experiment.run.repeats),
                comparison: comparisons[i], nonInferiority: tests[i], costPerRequestUSD: cost.perRequest, monthlyCostBasis: cost.basis,
                capacity: cost.capacity, oneTimeCostUSD: cost.oneTime,
                oneTimeCostSource: cost.source, monthlyCostUSD: cost.monthly, horizonCostUSD: cost.horizon, breakEven: breakEven,
                requirementFailures: failures, nonInferior: nonInferior,
                qualifies: m.answered > 0 && failures.isEmpty && nonInferior == true, recommended: false)
        }
        for i in assessments.indices where metrics[i].answered > 0 && experiment.task.scorer.readsLabels {
            let tally = LabelTally(labels: experiment.task.labels, pairs: results[i].lazy.filter { $0.answered }.map { (target: $0.target, predicted: $0.label) })
            assessments[i].labelScores = MetricsCalculator.labelScores(tally)
            assessments[i].confusion = tally.confusion
        }
        let qualifying = assessments.indices.filter { assessments[$0].qualifies }
        let best = choose(qualifying, assessments, costTie: policy.costTie)
        // Candidates that meet every requirement, could not be told apart from the reference, and
        // would beat the best qualifying candidate on cost (or are all there is): the evidence is short.
        let undecided = assessments.indices.filter { i in
            guard assessments[i].requirementFailures.isEmpty, assessments[i].nonInferiority?.status == .inconclusive else { return false }
            guard let best else { return true }
            guard let cost = assessments[i].horizonCostUSD, let bestCost = assessments[best].horizonCostUSD else { return false }
            return cost * (1 + policy.costTie) < bestCost
        }.sorted { preferred(assessments[$0], over: assessments[$1]) }
        var verdict = Verdict.noneQualifies
        if let best { assessments[best].recommended = undecided.isEmpty }
        if !undecided.isEmpty {
            verdict = .notEnoughEvidence(candidates: undecided.map { assessments[$0].id }, fallback: best.map { assessments[$0].id })
        } else if let best {
            let chosen = assessments[best].metrics
            verdict = chosen.role == .foundation ? .keepFoundation(candidate: chosen.candidate) : .moveTo(candidate: chosen.candidate)
        }
        var analysis = DecisionAnalysis(policy: policy, referenceID: referenceIndex.map { metrics[$0].candidate }, referenceReason: reason,
                                        assessments: assessments, verdict: verdict, comparisons: comparisons.count)
        analysis.promptComparison = promptComparison(experiment: experiment, metrics: metrics, results: results, policy: policy)
        analysis.dynamicComparisons = dynamicComparisons(experiment: experiment, metrics: metrics, results: results, policy: policy)
        if let best { analysis.rivalComparisons = rivalComparisons(chosen: best, assessments: assessments, metrics: metrics, results: results, policy: policy) }
        analysis.judge = JudgeGrades.summary(judgements, experiment: experiment)
        analysis.dataEfficiency = dataEfficiency(experiment: experiment, assessments: assessments, trainingExamples: trainingExamples)
        analysis.fineTunes = FineTuneComparison.compute(experiment: experiment, assessments: assessments, metrics: metrics, results: results,
                                                        trainingSeconds: trainingSeconds, adapterBytes: adapterBytes, policy: policy)
        if experiment.task.type == .classification {
            analysis.majorityClass = majorityClass(results)
            analysis.dominantAnswers = dominantAnswers(assessments, labels: experiment.task.labels, majority: analysis.majorityClass)
        }
        return analysis
    }

    /// One curve per provider, prompt and training method (and teacher, for distilled labels) among the
    /// candidates whose training-set size is known, where they were trained on at least two different sizes.
    static func dataEfficiency(experiment: Experiment, assessments: [CandidateAssessment], trainingExamples: [String: Int]) -> [DataEfficiencyCurve] {
        var groups: [String: [(CandidateAssessment, Int)]] = [:], order: [String] = []
        for a in assessments {
            guard let model = experiment.model(a.metrics.model), let examples = trainingExamples[model.id] ?? model.training?.examples,
                  a.metrics.answered > 0 else { continue }
            let provider = model.provider.name
            let key = [provider, a.metrics.prompt ?? "", model.training?.method ?? "", model.training?.labelsFrom ?? ""].joined(separator: "\u{1}")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((a, examples))
        }
        return order.compactMap { key in
            guard let members = groups[key], Set(members.map(\.1)).count >= 2 else { return nil }
            let points = members.sorted { ($0.1, $0.0.id) < ($1.1, $1.0.id) }.map { a, n in
                DataEfficiencyCurve.Point(candidate: a.id, examples: n, accuracy: a.metrics.accuracy, low: a.accuracyLow, high: a.accuracyHigh,
                                          nonInferior: a.nonInferior, qualifies: a.qualifies)
            }
            let smallest = points.first { $0.nonInferior == true }, qualifying = points.first(where: \.qualifies)
            let training = experiment.model(members[0].0.metrics.model)?.training
            func labels(_ point: DataEfficiencyCurve.Point?) -> Double? {
                guard training?.labelsFrom == nil else { return nil }
                return point.flatMap { p in experiment.decision.labelCostUSD.map { Double(p.examples) * $0 } }
            }
            var curve = DataEfficiencyCurve(provider: key.components(separatedBy: "\u{1}")[0], prompt: members[0].0.metrics.prompt, points: points,
                                       smallestNonInferior: smallest, smallestQualifying: qualifying, labellingCostUSD: labels(smallest))
            curve.qualifyingLabellingCostUSD = labels(qualifying)
            curve.method = training?.method
            curve.teacher = training?.labelsFrom
            return curve
        }
    }

    /// A candidate whose most common answer covers at least this share of its answers is named.
    static let dominantShare = 0.8

    /// The majority class of the evaluated examples (first repeat, every candidate's examples); ties go to
    /// the label first in alphabetical order, so the figure never depends on hashing.
    static func majorityClass(_ results: [some Collection<ExampleResult>]) -> MajorityClass? {
        var targets: [String: String] = [:]
        for column in results { for r in column where r.repeatIndex == 0 { targets[r.exampleID] = r.target } }
        var counts: [String: Int] = [:]
        for target in targets.values { counts[target, default: 0] += 1 }
        guard let top = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) else { return nil }
        return MajorityClass(label: top.key, count: top.value, examples: targets.count)
    }

    /// Candidates whose answers (the confusion matrix's columns) are mostly one label that is not nearly
    /// as common among the targets.
    static func dominantAnswers(_ assessments: [CandidateAssessment], labels: [String], majority: MajorityClass?) -> [DominantAnswer] {
        guard let majority, majority.examples > 0 else { return [] }
        return assessments.compactMap { a in
            let answered = a.metrics.answered
            guard answered >= 10, !a.confusion.isEmpty else { return nil }
            let columns = labels.indices.map { j in a.confusion.reduce(0) { $0 + (j < $1.count ? $1[j] : 0) } }
            // Ties go to the label listed first.
            guard let j = columns.indices.max(by: { columns[$0] != columns[$1] ? columns[$0] < columns[$1] : $0 > $1 }) else { return nil }
            let share = Double(columns[j]) / Double(answered)
            let targetShare = Double(a.confusion.indices.contains(j) ? a.confusion[j].reduce(0, +) : 0) / Double(max(answered, 1))
            guard share >= dominantShare, share > targetShare + 0.1 else { return nil }
            return DominantAnswer(candidate: a.id, label: labels[j], count: columns[j], answered: answered)
        }
    }

    /// The recommended candidate among `qualifying`: the most accurate of those whose cost over the horizon
    /// is within `costTie` of the lowest (ties to the cheaper, then the lower id); by `preferred` alone when
    /// no qualifying candidate has a known cost.
    static func choose(_ qualifying: [Int], _ assessments: [CandidateAssessment], costTie: Double) -> Int? {
        guard let cheapest = qualifying.min(by: { preferred(assessments[$0], over: assessments[$1]) }) else { return nil }
        guard let lowest = assessments[cheapest].horizonCostUSD else { return cheapest }
        let band = qualifying.filter { (assessments[$0].horizonCostUSD ?? .infinity) <= lowest * (1 + costTie) }
        return band.min { a, b in
            let xa = assessments[a].metrics.accuracy ?? -1, xb = assessments[b].metrics.accuracy ?? -1
            return xa != xb ? xa > xb : preferred(assessments[a], over: assessments[b])
        }
    }

    /// The order candidates are preferred in: lower horizon cost (unknown cost last), then higher
    /// accuracy, then candidate id. Two candidates equal on cost and accuracy are a tie, broken by id.
    public static func preferred(_ a: CandidateAssessment, over b: CandidateAssessment) -> Bool {
        let ca = a.horizonCostUSD ?? .infinity, cb = b.horizonCostUSD ?? .infinity
        if ca != cb { return ca < cb }
        let xa = a.metrics.accuracy ?? -1, xb = b.metrics.accuracy ?? -1
        if xa != xb { return xa > xb }
        return a.id < b.id
    }

    /// The reference: the candidate named in the config, else the most accurate foundation candidate
    /// (ties go to the lower candidate id), else the most accurate candidate.
    static func chooseReference(experiment: Experiment, metrics: [CandidateMetrics], answered: [Int]) -> (Int?, String) {
        if let named = experiment.decision.reference, let index = metrics.firstIndex(where: { $0.candidate == named }) {
            return metrics[index].answered > 0 ? (index, "named in the config") : (nil, "the configured reference \(named) produced no answers")
        }
        func mostAccurate(_ indices: [Int]) -> Int? {
            indices.min { a, b in
                let xa = metrics[a].accuracy ?? 0, xb = metrics[b].accuracy ?? 0
                return xa != xb ? xa > xb : metrics[a].candidate < metrics[b].candidate
            }
        }
        if let index = mostAccurate(answered.filter { metrics[$0].role == .foundation }) {
            return (index, "the foundation model's most accurate prompt (ties to the lower candidate id)")
        }
        if let index = mostAccurate(answered) {
            return (index, "the most accurate candidate, as no foundation-model candidate produced answers")
        }
        return (nil, "no candidate produced answers")
    }

    /// The first repeat's score for each example asked (0 for a failed request).
    public static func firstScores(_ results: some Collection<ExampleResult>) -> [String: Double] {
        var out: [String: Double] = [:]
        for r in results where r.repeatIndex == 0 { out[r.exampleID] = r.answered ? r.score : 0 }
        return out
    }

    /// The accuracy interval: Wilson's when every score is 0 or 1, else a percentile bootstrap of the
    /// mean score over the requests (a failed request scores 0).
    static func accuracyInterval(_ m: CandidateMetrics, _ results: some Collection<ExampleResult>, alpha: Double, z: Double) -> (low: Double, high: Double)? {
        guard !m.binaryScores else { return Statistics.wilson(successes: m.correct, trials: m.requests, z: z) }
        return Statistics.bootstrapMean(results.map { $0.answered ? $0.score : 0 }, alpha: alpha).map { ($0.low, $0.high) }
    }

    /// The first repeat's answered results by example id (failed requests left out): what latency and
    /// answer-by-answer comparisons pair.
    public static func firstAnswers(_ results: some Collection<ExampleResult>) -> [String: ExampleResult] {
        var out: [String: ExampleResult] = [:]
        for r in results where r.repeatIndex == 0 && r.answered { out[r.exampleID] = r }
        return out
    }

    /// Compares a candidate with another on the examples both were asked: by the proportion methods when
    /// every score is 0 or 1, else by resampling.
    public static func compare(_ candidate: [String: Double], _ reference: [String: Double], candidateID: String, referenceID: String,
                               policy: DecisionPolicy) -> PairedComparison? {
        let paired = PairedOutcomes(candidate, reference)
        let b = paired.firstBetter, c = paired.secondBetter, n = paired.pairs
        guard n > 0 else { return nil }
        let p = paired.pValue
        if paired.binary {
            guard let interval = Statistics.tangoInterval(b: b, c: c, n: n, alpha: policy.alpha) else { return nil }
            let discordance = Double(b + c) / Double(n), difference = Double(b - c) / Double(n)
            return PairedComparison(
                candidate: candidateID, reference: referenceID, method: .proportions, pairs: n, candidateBetter: b, referenceBetter: c,
                difference: difference, low: interval.low, high: interval.high, pValue: p, pValueHolm: p,
                differenceVariance: discordance - difference * difference,
                minimumDetectable: Statistics.minimumDetectableDifference(pairs: n, discordance: discordance, alpha: policy.alpha, power: policy.power),
                neededForMargin: Statistics.pairedSampleSize(delta: policy.margin, discordance: max(discordance, 1 / Double(n)),
                                                             alpha: policy.alpha, power: policy.power))
        }
        let d = paired.differences
        let difference = d.reduce(0, +) / Double(n)
        guard let boot = Statistics.bootstrapMean(d, alpha: policy.alpha, threshold: -policy.margin) else { return nil }
        let variance = d.reduce(0) { $0 + ($1 - difference) * ($1 - difference) } / Double(n)
        // Identical scores on every pair leave no variance; one pair's worth keeps the sample sizes finite.
        let planning = max(variance, 1 / Double(n))
        return PairedComparison(
            candidate: candidateID, reference: referenceID, method: .resampling, pairs: n, candidateBetter: b, referenceBetter: c,
            difference: difference, low: boot.low, high: boot.high, pValue: p, pValueHolm: p, differenceVariance: variance,
            bootstrapNonInferiorityP: boot.shareAtOrBelow,
            minimumDetectable: variance > 0 ? Statistics.minimumDetectableMeanDifference(pairs: n, variance: variance, alpha: policy.alpha, power: policy.power) : nil,
            neededForMargin: Statistics.meanDifferenceSampleSize(delta: policy.margin, variance: planning, alpha: policy.alpha, power: policy.power))
    }

    /// The non-inferiority question before Holm's adjustment: shown when the one-sided test at α/2
    /// rejects "worse by the margin or more" (the 1 − α interval's lower bound is above −margin): Tango's
    /// score test for right-or-wrong scores, else the bootstrap's share of means at or below −margin.
    static func nonInferiority(_ c: PairedComparison, policy: DecisionPolicy) -> NonInferiorityTest {
        let p: Double, needed: Int?
        switch c.method {
        case .proportions:
            p = Statistics.tangoUpperP(theta: -policy.margin, b: c.candidateBetter, c: c.referenceBetter, n: c.pairs)
            needed = Statistics.nonInferioritySampleSize(delta: c.difference, discordance: c.discordance, margin: policy.margin,
                                                         observedPairs: c.pairs, alpha: policy.alpha, power: policy.power)
        case .resampling:
            p = c.bootstrapNonInferiorityP ?? 1
            let gap = c.difference + policy.margin
            needed = gap > 0 ? Statistics.meanDifferenceSampleSize(delta: gap, variance: max(c.differenceVariance, 1 / Double(c.pairs)),
                                                                   alpha: policy.alpha, power: policy.power) : nil
        }
        let status: NonInferiority = p < policy.alpha / 2 ? .shown : (c.high < -policy.margin ? .inferior : .inconclusive)
        return NonInferiorityTest(status: status, pValue: p, pValueHolm: p, examplesNeeded: needed)
    }

    /// Step 1: the most accurate foundation candidate against the runner-up (ties by candidate id).
    static func promptComparison(experiment: Experiment, metrics: [CandidateMetrics], results: [some Collection<ExampleResult>],
                                 policy: DecisionPolicy) -> PairedComparison? {
        let ranked = metrics.indices.filter { metrics[$0].role == .foundation && metrics[$0].answered > 0 }.sorted { a, b in
            let xa = metrics[a].accuracy ?? 0, xb = metrics[b].accuracy ?? 0
            return xa != xb ? xa > xb : metrics[a].candidate < metrics[b].candidate
        }
        guard ranked.count > 1 else { return nil }
        return compare(firstScores(results[ranked[0]]), firstScores(results[ranked[1]]), candidateID: metrics[ranked[0]].candidate,
                       referenceID: metrics[ranked[1]].candidate, policy: policy)
    }

    /// Step 2: each prompt with similar examples against each static few-shot prompt on the same model.
    static func dynamicComparisons(experiment: Experiment, metrics: [CandidateMetrics], results: [some Collection<ExampleResult>],
                                   policy: DecisionPolicy) -> [PairedComparison] {
        func kind(_ m: CandidateMetrics) -> ExampleSelection? { m.prompt.flatMap { experiment.prompt($0)?.examples } }
        var out: [PairedComparison] = []
        for d in metrics.indices where kind(metrics[d])?.isDynamic == true && metrics[d].answered > 0 {
            for s in metrics.indices where metrics[s].model == metrics[d].model && kind(metrics[s])?.isStaticFewShot == true && metrics[s].answered > 0 {
                if let c = compare(firstScores(results[d]), firstScores(results[s]), candidateID: metrics[d].candidate,
                                   referenceID: metrics[s].candidate, policy: policy) { out.append(c) }
            }
        }
        let adjusted = Statistics.holm(out.map(\.pValue))
        for i in out.indices { out[i].pValueHolm = adjusted[i] }
        return out.sorted { ($0.candidate, $0.reference) < ($1.candidate, $1.reference) }
    }

    /// Each qualifying candidate that costs more than the chosen one (or whose cost is unknown) and is
    /// more accurate, compared with the chosen one; Holm-adjusted as one family.
    static func rivalComparisons(chosen: Int, assessments: [CandidateAssessment], metrics: [CandidateMetrics],
                                 results: [some Collection<ExampleResult>], policy: DecisionPolicy) -> [PairedComparison] {
        let chosenScores = firstScores(results[chosen])
        var out: [PairedComparison] = []
        for i in assessments.indices where i != chosen && assessments[i].qualifies
            && (assessments[i].metrics.accuracy ?? 0) > (assessments[chosen].metrics.accuracy ?? 0) {
            if let c = compare(firstScores(results[i]), chosenScores, candidateID: assessments[i].id, referenceID: assessments[chosen].id,
                               policy: policy) { out.append(c) }
        }
        let adjusted = Statistics.holm(out.map(\.pValue))
        for i in out.indices { out[i].pValueHolm = adjusted[i] }
        return out.sorted { $0.candidate < $1.candidate }
    }

    /// A candidate's costs at the policy's volume, and the cost model and measurements behind them.
    struct Costs {
        var perRequest: Double?
        var oneTime: Double
        var source: String
        var monthly: Double?
        var horizon: Double?
        var basis: String
        var capacity: Capacity?
        /// The cost at any volume; nil without pricing.
        var curve: HorizonCost?
    }

    static func costs(_ m: CandidateMetrics, experiment: Experiment, trainingSeconds: [String: Double], capacities: [String: Capacity]) -> Costs {
        let policy = experiment.decision
        let model = experiment.model(m.model)
        let (oneTime, source) = oneTimeCost(model, trainingSeconds: trainingSeconds[m.model])
        let measured = CostMeasurements(meanRequestCostUSD: m.costPer1kUSD.map { $0 / 1000 },
                                        capacity: capacities[m.candidate] ?? estimatedCapacity(m, model: model))
        guard let kind = model?.pricing?.model as? any CostModelKind else {
            return Costs(perRequest: nil, oneTime: oneTime, source: source, monthly: nil, horizon: nil, basis: "no pricing given", capacity: nil, curve: nil)
        }
        let figure = kind.monthly(volume: policy.monthlyRequests, measured: measured)
        let perRequest = kind.linearRate(measured) ?? figure.usd.map { $0 / max(1, policy.monthlyRequests) }
        return Costs(perRequest: perRequest, oneTime: oneTime, source: source, monthly: figure.usd,
                     horizon: figure.usd.map { oneTime + $0 * policy.horizonMonths }, basis: figure.basis,
                     capacity: kind.linearRate(measured) == nil ? measured.capacity : nil,
                     curve: HorizonCost(model: kind, measured: measured, oneTime: oneTime, months: policy.horizonMonths))
    }

    /// One instance's throughput as the accuracy pass saw it: requests in flight ÷ mean latency of the
    /// answered requests (with requests queued at a server that serves one at a time, latency grows
    /// with them, so the figure stays that server's rate).
    static func estimatedCapacity(_ m: CandidateMetrics, model: ModelSpec?) -> Capacity? {
        guard let mean = m.latencyMeanMs, mean > 0, let model else { return nil }
        let inFlight = model.provider.answersOneAtATime ? 1 : model.concurrency
        return Capacity(requestsPerSecond: Double(inFlight) / (mean / 1000), concurrency: inFlight, source: .accuracyPass)
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
        if let seconds = trainingSeconds, let hourly = model?.pricing?.model.hourlyPrice {
            return (seconds / 3600 * hourly, "measured training time \(Format.fixed(seconds, digits: 2)) s × $\(JSON.formatNumber(hourly))/h")
        }
        return (0, "none")
    }

    /// Where `candidate`'s total over the horizon crosses `reference`'s: solved exactly when both cost the
    /// same per request at any volume, else found on the costs' own curves (instances are whole, so a
    /// dedicated model's cost rises in steps): the crossing nearest the policy's `volume`, to 1 request.
    public static func breakEven(_ candidate: HorizonCost, _ reference: HorizonCost, volume: Double) -> BreakEven {
        if let c = candidate.model.linearRate(candidate.measured), let r = reference.model.linearRate(reference.measured) {
            return breakEven(oneTime: candidate.oneTime, perRequest: c, referenceOneTime: reference.oneTime, referencePerRequest: r,
                             months: candidate.months)
        }
        func gap(_ v: Double) -> Double? {
            guard let x = candidate.total(volume: v), let y = reference.total(volume: v) else { return nil }
            return x - y
        }
        // Volumes from 1 to 10¹² requests a month, 50 a decade, and the policy's own.
        let grid = ((0...600).map { pow(10, Double($0) / 50) } + [volume]).sorted()
        var signs: [(volume: Double, cheaper: Bool)] = []
        for v in grid {
            guard let g = gap(v) else { return .notApplicable }
            signs.append((v, g < 0))
        }
        if signs.allSatisfy(\.cheaper) { return .always }
        if !signs.contains(where: \.cheaper) { return .never }
        // Each change of sign between neighbouring volumes, narrowed to one request by bisection.
        var crossings: [(volume: Double, cheaperAbove: Bool)] = []
        for k in 1..<signs.count where signs[k].cheaper != signs[k - 1].cheaper {
            var low = signs[k - 1].volume, high = signs[k].volume
            while high - low > 1 {
                let mid = (low + high) / 2
                if ((gap(mid) ?? 0) < 0) == signs[k - 1].cheaper { low = mid } else { high = mid }
            }
            crossings.append((high, signs[k].cheaper))
        }
        guard let nearest = crossings.min(by: { abs(log($0.volume / volume)) < abs(log($1.volume / volume)) }) else { return .notApplicable }
        return nearest.cheaperAbove ? .above(nearest.volume) : .below(nearest.volume)
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

    static func requirementFailures(_ m: CandidateMetrics, low: Double?, costPer1k: Double?, unknownCost: String, policy: DecisionPolicy) -> [String] {
        guard m.answered > 0 else { return ["no answers (\(m.firstError ?? "every request failed"))"] }
        var failures: [String] = []
        if let min = policy.minAccuracy, let accuracy = m.accuracy {
            switch policy.minAccuracyBy {
            case .estimate where accuracy < min:
                failures.append("accuracy \(Format.percent(accuracy)) is \(Format.fixed((min - accuracy) * 100, digits: 1)) points below the required \(Format.percent(min))")
            case .lowerBound where (low ?? 0) < min:
                failures.append("the lower bound of its accuracy interval, \(Format.percent(low)), is below the required \(Format.percent(min)) "
                                + "(accuracy \(Format.percent(accuracy)); $.decision.requirements.min_accuracy_by is \"lower_bound\")")
            default: break
            }
        }
        if let max = policy.maxP95LatencyMs, let p95 = m.latencyP95Ms, p95 > max {
            failures.append("p95 latency \(Format.fixed(p95, digits: 1)) ms exceeds \(Format.fixed(max, digits: 1)) ms by \(Format.fixed(p95 - max, digits: 1)) ms")
        }
        if let max = policy.maxCostPer1kUSD {
            if let cost = costPer1k {
                if cost > max { failures.append("cost \(Format.usd(cost)) per 1k requests exceeds \(Format.usd(max)) by \(Format.usd(cost - max))") }
            } else {
                failures.append("cost per 1k requests is unknown (\(unknownCost)), so the cost limit \(Format.usd(max)) cannot be checked")
            }
        }
        if m.errorRate > policy.maxErrorRate {
            failures.append("\(Format.percent(m.errorRate)) of requests failed (more than the \(Format.percent(policy.maxErrorRate)) allowed by $.decision.max_error_rate)")
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
        // One pass for every repeat (each repeat's sum still adds its scores in the results' order).
        var sums = [Double](repeating: 0, count: repeats), counts = [Int](repeating: 0, count: repeats)
        for r in results where r.repeatIndex >= 0 && r.repeatIndex < repeats {
            sums[r.repeatIndex] += r.answered ? r.score : 0
            counts[r.repeatIndex] += 1
        }
        return (0..<repeats).compactMap { k in counts[k] == 0 ? nil : sums[k] / Double(counts[k]) }
    }
}
