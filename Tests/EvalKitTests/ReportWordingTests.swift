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

    @Test func majorityClassAndOneAnswerCandidates() {
        // 10 examples: 6 "neg", 3 "pos", 1 "neu" (counted by hand). Candidate a answers "pos" 9 times of 10;
        // b answers like the targets; c answers "neg" 7 times (70%: under the 80% that names a candidate).
        let targets = ["neg", "neg", "neg", "neg", "neg", "neg", "pos", "pos", "pos", "neu"]
        let a = targets.indices.map { Self.result("a", "e\($0)", target: targets[$0], label: $0 == 0 ? "neg" : "pos") }
        let b = targets.indices.map { Self.result("b", "e\($0)", target: targets[$0], label: targets[$0]) }
        let c = targets.indices.map { Self.result("c", "e\($0)", target: targets[$0], label: $0 < 7 ? "neg" : "pos") }
        let metrics = ["a", "b", "c"].map { CandidateMetrics.placeholder($0) }
        let (majority, dominant) = DecisionAnalyzer.labelMix(metrics: metrics, results: [a, b, c])
        #expect(majority == MajorityClass(label: "neg", count: 6, examples: 10))
        #expect(majority?.share == 0.6)
        #expect(dominant == [DominantAnswer(candidate: "a", label: "pos", count: 9, answered: 10)])
        // A tie between labels goes to the first in alphabetical order, whatever the hashing.
        let tied = ["x", "y"].indices.map { Self.result("a", "t\($0)", target: ["y", "x"][$0], label: "x") }
        #expect(DecisionAnalyzer.labelMix(metrics: [CandidateMetrics.placeholder("a")], results: [tied]).0?.label == "x")
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

extension CandidateMetrics {
    /// Metrics with only the candidate's name, for analyses that read nothing else.
    static func placeholder(_ candidate: String) -> CandidateMetrics {
        MetricsCalculator.metrics(candidate: candidate, model: "m", prompt: "p", role: .foundation, labels: [], results: [ExampleResult]())
    }
}
