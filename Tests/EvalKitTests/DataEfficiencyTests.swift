import Foundation
import Testing
@testable import EvalKit

/// Step 4's "how many labelled examples": the builtin model trained on subsets of the training split, each
/// tested against the prompted reference, and the smallest non-inferior size.
@Suite(.serialized) struct DataEfficiencyTests {
    static func example(_ i: Int, _ target: String) -> Example { Example(id: "e\(i)", input: "text \(i)", target: target) }

    @Test func aSubsetKeepsEachLabelsShareAndTheFileOrder() {
        // 10 examples: 6 "a" and 4 "b"; 5 of them keep 3 and 2 (exact shares 3.0 and 2.0).
        let examples = (0..<10).map { Self.example($0, $0 % 5 < 3 ? "a" : "b") }
        let subset = Dataset.stratifiedSubset(examples, count: 5, seed: 7)
        #expect(subset.filter { $0.target == "a" }.count == 3 && subset.filter { $0.target == "b" }.count == 2)
        let positions = subset.compactMap { s in examples.firstIndex { $0.id == s.id } }
        #expect(positions == positions.sorted(), "file order kept")
        #expect(Dataset.stratifiedSubset(examples, count: 5, seed: 7) == subset, "the same seed, the same subset")
        // Shares 4 × 6/10 = 2.4 and 1.6: the larger remainder (b's 0.6) takes the fourth place.
        let four = Dataset.stratifiedSubset(examples, count: 4, seed: 1)
        #expect(four.filter { $0.target == "a" }.count == 2 && four.filter { $0.target == "b" }.count == 2)
        #expect(Dataset.stratifiedSubset(examples, count: 10, seed: 1) == examples && Dataset.stratifiedSubset(examples, count: 50, seed: 1) == examples)
    }

    @Test func theCurveNamesTheSmallestNonInferiorTrainingSet() async throws {
        let server = try await FakeLLMServer()
        defer { Task { await server.stop() } }
        let dir = try Fixtures.temporaryDirectory()
        // The fake server's keyword answers are right on "love"/"hate" texts and wrong on the rest (it says
        // neutral where the label is positive): the reference scores 2 in 3.
        let words = ["love", "hate", "great", "awful", "fine", "dull"], labels = ["positive", "negative", "positive", "negative", "positive", "negative"]
        try Fixtures.write(Fixtures.jsonl((0..<120).map { ("tr\($0)", "\(words[$0 % 6]) item \($0)", labels[$0 % 6]) }), to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl((0..<60).map { ("t\($0)", "\(words[$0 % 6]) thing \($0)", labels[$0 % 6]) }), to: "test.jsonl", in: dir)
        try Fixtures.write("Text: {{input}}\nSentiment:", to: "p.txt", in: dir)
        func builtin(_ n: Int?) -> String {
            #"{"id": "builtin-\#(n.map(String.init) ?? "all")", "provider": "builtin", "role": "fine-tuned", "options": {"epochs": 5, "seed": 3\#(n.map { ", \"train_examples\": \($0)" } ?? "")}}"#
        }
        let config = try Fixtures.write("""
        {"name": "curve", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "api", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "m"}},
                    \(builtin(2)), \(builtin(12)), \(builtin(nil))],
         "candidates": [{"model": "api", "prompt": "p"}, {"model": "builtin-2"}, {"model": "builtin-12"}, {"model": "builtin-all"}],
         "decision": {"reference": "api:p", "margin": 0.05, "label_cost_usd": 0.5}}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.probeCapacity = false
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let curve = try #require(outcome.summary.analysis.dataEfficiency.first)
        #expect(outcome.summary.analysis.dataEfficiency.count == 1 && curve.provider == "builtin")
        #expect(curve.points.map(\.examples) == [2, 12, 120])
        #expect(outcome.summary.training.first { $0.modelID == "builtin-12" }?.examples == 12)
        // The smallest size whose assessment is non-inferior, and its labels' cost at $0.50 each.
        let assessments = outcome.summary.analysis.assessments
        let expected = curve.points.first { p in assessments.first { $0.id == p.candidate }?.nonInferiority?.status == .shown }
        #expect(curve.smallestNonInferior == expected)
        #expect(curve.labellingCostUSD == expected.map { Double($0.examples) * 0.5 })
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("### How many labelled examples") && report.contains("| 12 | builtin-12 |"))
        #expect(report.contains(expected.map { "**\($0.examples) examples** (\($0.candidate)" } ?? "Not reached: no training set up to 120 examples"))
        let svg = try String(contentsOfFile: dir + "/run/" + DecisionReport.dataEfficiencyFile, encoding: .utf8)
        #expect(svg.contains("reference: api:p") && svg.components(separatedBy: "<circle").count - 1 == 3)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
        // Re-rendered from the folder, the curve is the same (its sizes come from run.json).
        let again = try RunFolderCommands.summary(of: dir + "/run")
        #expect(again.analysis.dataEfficiency == outcome.summary.analysis.dataEfficiency)
    }
}
