import Foundation

/// Step 4 in depth: the outside fine-tunes the config describes (`"training"` on a model) side by side —
/// methods trained on the same data, and distilled students against their teacher and against the
/// model trained the same way on gold labels.
public struct FineTuneComparison: Sendable, Equatable {
    /// One fine-tuned candidate: what made it (declared in the config), what it cost to make (measured
    /// training time, the adapter's size as the run found it) and how it did.
    public struct Row: Sendable, Equatable {
        public var candidate: String
        public var method: String
        public var examples: Int
        /// The teacher candidate whose answers labelled its training set; nil for gold labels.
        public var labelsFrom: String?
        public var trainableParameters: Int?
        public var trainingSeconds: Double?
        public var oneTimeCostUSD: Double
        /// Bytes of the adapter's files as the run fingerprinted them; nil when the run did not (no
        /// `adapter` declared, or its files are not among the model's files).
        public var adapterBytes: Int?
        public var accuracy: Double?
        public var accuracyLow: Double?
        public var accuracyHigh: Double?
        public var latencyP50Ms: Double?
        public var latencyP95Ms: Double?
    }

    /// A distilled student beside its teacher and the gold-trained model of the same method, prompt and size.
    public struct Distillation: Sendable, Equatable {
        public var student: String
        public var teacher: String
        public var goldTrained: String?
        /// Student against teacher, and against the gold-trained model (student first in both).
        public var againstTeacher: PairedComparison?
        public var againstGold: PairedComparison?
    }

    public var rows: [Row]
    /// Candidates of one prompt trained on the same number of examples with the same labels by different
    /// methods, each pair compared on the examples both answered; Holm-adjusted as one family.
    public var methodComparisons: [PairedComparison]
    /// Holm-adjusted as one family (every student's comparisons together).
    public var distillations: [Distillation]

    public var isEmpty: Bool { methodComparisons.isEmpty && distillations.isEmpty }

    /// Bytes of each model's declared adapter: the fingerprinted files at its path or under it (a folder).
    public static func adapterBytes(_ experiment: Experiment, environment: RunEnvironment?) -> [String: Int] {
        guard let environment else { return [:] }
        var out: [String: Int] = [:]
        for model in experiment.models {
            guard let adapter = model.training?.adapter, let files = environment.model(model.id)?.files else { continue }
            let folder = adapter.hasSuffix("/") ? adapter : adapter + "/"
            let matching = files.filter { $0.path == adapter || $0.path.hasPrefix(folder) }
            if !matching.isEmpty { out[model.id] = matching.reduce(0) { $0 + $1.bytes } }
        }
        return out
    }

    static func compute(experiment: Experiment, assessments: [CandidateAssessment], metrics: [CandidateMetrics],
                        results: [some Collection<ExampleResult>], trainingSeconds: [String: Double], adapterBytes: [String: Int],
                        policy: DecisionPolicy) -> FineTuneComparison? {
        let declared = assessments.indices.compactMap { i -> (Int, TrainingDeclaration)? in
            guard let training = experiment.model(metrics[i].model)?.training else { return nil }
            return (i, training)
        }
        guard !declared.isEmpty else { return nil }
        let rows = declared.map { i, t in
            let a = assessments[i], m = metrics[i]
            return Row(candidate: a.id, method: t.method, examples: t.examples, labelsFrom: t.labelsFrom, trainableParameters: t.trainableParameters,
                       trainingSeconds: trainingSeconds[m.model], oneTimeCostUSD: a.oneTimeCostUSD, adapterBytes: adapterBytes[m.model],
                       accuracy: m.accuracy, accuracyLow: a.accuracyLow, accuracyHigh: a.accuracyHigh,
                       latencyP50Ms: m.latencyP50Ms, latencyP95Ms: m.latencyP95Ms)
        }
        func index(_ candidate: String) -> Int? { metrics.firstIndex { $0.candidate == candidate && $0.answered > 0 } }
        func paired(_ a: Int, _ b: Int) -> PairedComparison? {
            DecisionAnalyzer.compare(DecisionAnalyzer.firstScores(results[a]), DecisionAnalyzer.firstScores(results[b]),
                                     candidateID: metrics[a].candidate, referenceID: metrics[b].candidate, policy: policy)
        }
        var methods: [PairedComparison] = []
        for (x, (i, ti)) in declared.enumerated() where metrics[i].answered > 0 {
            for (j, tj) in declared[(x + 1)...] where metrics[j].answered > 0 && tj.method != ti.method && tj.examples == ti.examples
                && tj.labelsFrom == ti.labelsFrom && metrics[j].prompt == metrics[i].prompt {
                if let c = paired(i, j) { methods.append(c) }
            }
        }
        let adjustedMethods = Statistics.holm(methods.map(\.pValue))
        for k in methods.indices { methods[k].pValueHolm = adjustedMethods[k] }

        var distillations: [Distillation] = []
        for (i, t) in declared {
            guard let teacher = t.labelsFrom, metrics[i].answered > 0 else { continue }
            let gold = declared.first { j, u in
                u.labelsFrom == nil && u.method == t.method && u.examples == t.examples && metrics[j].prompt == metrics[i].prompt && metrics[j].answered > 0
            }.map { metrics[$0.0].candidate }
            distillations.append(Distillation(student: metrics[i].candidate, teacher: teacher, goldTrained: gold,
                                              againstTeacher: index(teacher).flatMap { paired(i, $0) },
                                              againstGold: gold.flatMap(index).flatMap { paired(i, $0) }))
        }
        let pValues = distillations.flatMap { [$0.againstTeacher?.pValue, $0.againstGold?.pValue].compactMap { $0 } }
        var adjusted = Statistics.holm(pValues).makeIterator()
        for k in distillations.indices {
            if distillations[k].againstTeacher != nil, let p = adjusted.next() { distillations[k].againstTeacher?.pValueHolm = p }
            if distillations[k].againstGold != nil, let p = adjusted.next() { distillations[k].againstGold?.pValueHolm = p }
        }
        return FineTuneComparison(rows: rows, methodComparisons: methods, distillations: distillations)
    }
}
