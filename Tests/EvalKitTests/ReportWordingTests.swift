import Foundation
import Testing
@testable import EvalKit

/// What a reader deciding needs beside the verdict: the majority-class rate, one-answer candidates, and a
/// training diagnosis about the model that was kept.
struct ReportWordingTests {
    static func result(_ candidate: String, _ id: String, target: String, label: String?) -> ExampleResult {
        ExampleResult(candidate: candidate, model: "m", prompt: "p", exampleID: id, target: target, output: label, label: label,
                      correct: label == target, latencyMs: 1)
    }

    @Test func majorityClassAndOneAnswerCandidates() throws {
        // 20 examples: 12 "a", 8 "b" (counted by hand). big answers "b" to 18 of 20 (90%, where "b" is 40% of
        // the targets: named); tuned answers like the targets but one (an "a" for a "b").
        let e = try DecisionTests().experiment("{}")
        let targets = (0..<20).map { $0 < 12 ? "a" : "b" }
        let big = targets.indices.map { i in Self.result("big:p", "e\(i)", target: targets[i], label: i < 2 ? "a" : "b") }
        let tuned = targets.indices.map { i in Self.result("tuned:p", "e\(i)", target: targets[i], label: i == 19 ? "a" : targets[i]) }
        let metrics = zip(e.candidates, [big, tuned]).map { c, r in
            MetricsCalculator.metrics(candidate: c.id, model: c.modelID, prompt: c.promptID, role: e.model(c.modelID)?.role ?? .small,
                                      labels: e.task.labels, results: r)
        }
        let analysis = DecisionAnalyzer.analyze(experiment: e, metrics: metrics, results: [big, tuned], trainingSeconds: [:])
        #expect(analysis.majorityClass == MajorityClass(label: "a", count: 12, examples: 20))
        #expect(analysis.majorityClass?.share == 0.6)
        #expect(analysis.dominantAnswers == [DominantAnswer(candidate: "big:p", label: "b", count: 18, answered: 20)])
        // A tie between labels goes to the first in alphabetical order, whatever the hashing.
        let tied = ["y", "x"].indices.map { Self.result("a", "t\($0)", target: ["y", "x"][$0], label: "x") }
        #expect(DecisionAnalyzer.majorityClass([tied])?.label == "x")
    }

    @Test func theDiagnosisSpeaksOfTheKeptEpoch() {
        // Accuracy gap 5 points at epoch 3 (kept), 15 points at epoch 5 (last).
        let train: [Double] = [0.65, 0.70, 0.75, 0.80, 0.85], validation: [Double] = [0.60, 0.65, 0.70, 0.70, 0.70]
        var points: [TrainingPoint] = []
        for e in 0..<5 {
            points.append(TrainingPoint(step: Double(e + 1), trainLoss: 1 / Double(e + 1), validationLoss: 0.5,
                                        trainAccuracy: train[e], validationAccuracy: validation[e]))
        }
        let kept = TrainingDiagnoser.diagnose(points, kept: 3)
        #expect(kept.fit == TrainingDiagnosis.Fit.goodFit)
        #expect(kept.evidence.contains("at epoch 3 (the epoch kept): a gap of 5.0 points") && kept.evidence.contains("15.0 points by epoch 5, the last trained"))
        let last = TrainingDiagnoser.diagnose(points)
        #expect(last.fit == TrainingDiagnosis.Fit.overfitting && last.evidence.contains("at epoch 5: a gap of 15.0 points"))
        let keptLate = TrainingDiagnoser.diagnose(points, kept: 4)
        #expect(keptLate.fit == TrainingDiagnosis.Fit.overfitting && keptLate.evidence.contains("at epoch 4 (the epoch kept): a gap of 10"))
    }
}

/// The progress line's estimate: from the answers since the first one, and only once there are enough.
struct ProgressEstimateTests {
    @Test func theEstimateWaitsForAnswersAndIgnoresTheStartUp() {
        var p = ProgressSnapshot(done: 5, total: 105, errors: 0, elapsedSeconds: 300)
        p.measured = 5
        p.measuringSeconds = 4
        #expect(p.etaSeconds == nil, "five answers are too few")
        // 300 s of model start-up before the first answer; then 11 answers in 10 s: 1 s an answer, 100 left.
        p.done = 5 + 6
        p.total = 111
        p.measured = 11
        p.measuringSeconds = 10
        #expect(p.etaSeconds == 100)
        p.done = 111
        #expect(p.etaSeconds == 0)
    }
}
