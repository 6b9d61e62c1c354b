import EvalKit
import Foundation
import Testing

/// The CI gate, baselines, diffs and stable re-rendering, on run folders built from known answers.
@Suite(.serialized) struct GateTests {
    static let config = """
    {
      "name": "gate", "task": {"labels": ["a", "b"]},
      "dataset": {"train": "missing-train.jsonl", "test": "missing-test.jsonl", "fields": {"input": "text", "target": "label"}},
      "prompts": [{"id": "p", "user": "p.txt"}],
      "models": [
        {"id": "big", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m"},
         "pricing": {"input_per_million": 10, "output_per_million": 30}},
        {"id": "small", "provider": "openai", "role": "small", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "s"},
         "pricing": {"input_per_million": 1, "output_per_million": 2}}
      ],
      "candidates": CANDIDATES
    }
    """

    struct Answers {
        var candidate: String
        var n: Int
        var latency: Double = 100
        var right: (Int) -> Bool
    }

    /// The environment both runs of a test share unless it says otherwise: one machine, the two local models, unchanged definitions.
    static func environment(cpu: String = "Test CPU", instructionSets: [String] = ["avx2"], candidates: [String] = ["big:p", "small:p"]) -> RunEnvironment {
        RunEnvironment(evalkitVersion: "test",
                       machine: MachineFingerprint(os: "Linux", architecture: "x86_64", cpuModel: cpu, logicalCores: 2, instructionSets: instructionSets),
                       models: ["big", "small"].map { ModelFingerprint(modelID: $0, placement: .local) },
                       candidates: candidates.map { CandidateDefinition(candidateID: $0, sha256: String(repeating: "a", count: 64)) })
    }

    /// Writes a run folder (config.json, results.jsonl, run.json with `environment`) and renders its reports with `evalkit report`'s code.
    static func writeRun(_ dir: String, id: String, candidates: [String] = ["big:p", "small:p"], answers: [Answers],
                         environment: RunEnvironment? = GateTests.environment(), modelPrefix: String = "") throws -> String {
        let folder = dir + "/" + id
        let list = candidates.map { c -> String in
            let parts = c.split(separator: ":")
            return "{\"model\": \"\(parts[0])\", \"prompt\": \"\(parts[1])\"}"
        }.joined(separator: ", ")
        try Fixtures.write(config.replacingOccurrences(of: "CANDIDATES", with: "[\(list)]")
            .replacingOccurrences(of: "{\"id\": \"big\"", with: "{\"id\": \"\(modelPrefix)big\"")
            .replacingOccurrences(of: "{\"id\": \"small\"", with: "{\"id\": \"\(modelPrefix)small\""), to: "config.json", in: folder)
        var lines = ""
        for a in answers {
            let model = String(a.candidate.split(separator: ":")[0])
            for i in 0..<a.n {
                let ok = a.right(i)
                let r = ExampleResult(candidate: a.candidate, model: model, prompt: "p", exampleID: String(format: "x%05d", i), target: "a",
                                      output: ok ? "a" : "b", label: ok ? "a" : "b", correct: ok, latencyMs: a.latency + Double(i % 7),
                                      inputTokens: 100, outputTokens: 1, costUSD: model.hasSuffix("big") ? 0.00103 : 0.000102)
                lines += r.json.encoded() + "\n"
            }
        }
        try Fixtures.write(lines, to: "results.jsonl", in: folder)
        try Fixtures.write("{\"run_id\": \"\(id)\", \"config_path\": \"\(folder)/config.json\", \"started_at\": \"2026-11-22T00:00:00Z\", "
                           + "\"duration_seconds\": 1, \"counts\": {\"test_evaluated\": \(answers.first?.n ?? 0)}, "
                           + "\"environment\": \(environment?.json.encoded() ?? "null")}", to: "run.json", in: folder)
        try RunFolderCommands.rerender(runDirectory: folder)
        return folder
    }

    func check(_ current: String, _ baseline: String, _ adjust: (inout CheckPolicy) -> Void = { _ in }) throws -> CheckReport {
        var policy = CheckPolicy()
        adjust(&policy)
        return try RegressionCheck.check(current: try RunFolder.load(current), baseline: try RunFolder.load(baseline), policy: policy)
    }

    func row(_ report: CheckReport, _ candidate: String, _ metric: String) -> CheckRow? {
        report.rows.first { $0.candidate == candidate && $0.metric == metric }
    }

    @Test func aSignificantDropBeyondTheAllowanceFails() throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try Self.writeRun(dir, id: "base", answers: [.init(candidate: "big:p", n: 200) { $0 % 10 != 0 }, .init(candidate: "small:p", n: 200) { $0 % 5 != 0 }])
        // 90% → 70%: 40 examples flip to wrong, none to right.
        let now = try Self.writeRun(dir, id: "now", answers: [.init(candidate: "big:p", n: 200) { $0 % 10 != 0 && $0 % 5 != 1 && $0 >= 0 && !($0 % 10 == 3) },
                                                              .init(candidate: "small:p", n: 200) { $0 % 5 != 0 }])
        let report = try check(now, base)
        #expect(!report.passed)
        let accuracy = try #require(row(report, "big:p", "accuracy"))
        #expect(accuracy.verdict == .fail)
        #expect(accuracy.detail.contains("significant") && accuracy.detail.contains("exact McNemar on 200 shared examples"))
        #expect(row(report, "small:p", "accuracy")?.verdict == .pass)
    }

    @Test func idsThatLookLikeFormulasStillPairTheirResults() throws {
        // summary.csv guards "=big:p" as "'=big:p" for spreadsheets; the gate must still find its per-example results.
        let dir = try Fixtures.temporaryDirectory()
        let ids = ["=big:p", "=small:p"]
        let env = GateTests.environment(candidates: ids)
        var renamed = env
        renamed.models = ["=big", "=small"].map { ModelFingerprint(modelID: $0, placement: .local) }
        let base = try Self.writeRun(dir, id: "base", candidates: ids, answers: [.init(candidate: ids[0], n: 200) { $0 % 10 != 0 },
                                                                                  .init(candidate: ids[1], n: 200) { _ in true }],
                                     environment: renamed, modelPrefix: "=")
        let now = try Self.writeRun(dir, id: "now", candidates: ids, answers: [.init(candidate: ids[0], n: 200) { $0 % 2 == 0 },
                                                                                .init(candidate: ids[1], n: 200) { _ in true }],
                                    environment: renamed, modelPrefix: "=")
        #expect(try String(contentsOfFile: base + "/summary.csv", encoding: .utf8).contains("'=big:p"))
        let report = try check(now, base)
        let accuracy = try #require(row(report, "=big:p", "accuracy"))
        #expect(accuracy.verdict == .fail && accuracy.detail.contains("exact McNemar on 200 shared examples"), "\(accuracy.detail)")
        for text in ["=big:p", "'=x", "-1", "-x", "@a", "a\r\nb", "plain", "'", "''"] {
            #expect(CSV.unguarded(CSV.cell(text).trimmingCharacters(in: CharacterSet(charactersIn: "\""))) == text || CSV.cell(text).hasPrefix("\""), "\(text)")
        }
        #expect(try CSV.parse(CSV.row(["a\r\nb", "c"])).first?.fields == ["a\r\nb", "c"])
    }

    @Test func noiseWithinTheAllowancePasses() throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try Self.writeRun(dir, id: "base", answers: [.init(candidate: "big:p", n: 200) { $0 % 5 != 0 }, .init(candidate: "small:p", n: 200) { _ in true }])
        // 80.0% → 79.5%, with answers moving both ways.
        let now = try Self.writeRun(dir, id: "now", answers: [.init(candidate: "big:p", n: 200) { ($0 % 5 != 0 || $0 == 5) && $0 != 1 && $0 != 2 },
                                                              .init(candidate: "small:p", n: 200, latency: 130) { _ in true }])
        let report = try check(now, base)
        #expect(report.passed, "\(report.failures)")
        #expect(row(report, "big:p", "accuracy")?.detail.contains("within the allowed drop") == true)
        #expect(row(report, "small:p", "latency")?.verdict == .pass)
    }

    @Test func aSignificantButTinyDropUnderTheAllowancePasses() throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try Self.writeRun(dir, id: "base", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 2000) { _ in true }])
        // 30 of 2,000 flip to wrong: a 1.5-point drop with p ≈ 2e-9, under the 2-point allowance.
        let now = try Self.writeRun(dir, id: "now", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 2000) { $0 >= 30 }])
        let report = try check(now, base)
        #expect(report.passed)
        #expect(row(report, "big:p", "accuracy")?.change == "-1.5 pts")
        // The same drop fails when the allowance is one point.
        #expect(try !check(now, base) { $0.maxAccuracyDrop = 0.01 }.passed)
    }

    @Test func aLargeDropOnFewExamplesIsNotSignificant() throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try Self.writeRun(dir, id: "base", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 20) { $0 % 4 != 0 }])
        let now = try Self.writeRun(dir, id: "now", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 20) { $0 % 4 != 0 && $0 != 1 && $0 != 2 }])
        let report = try check(now, base)
        #expect(report.passed)
        #expect(row(report, "big:p", "accuracy")?.detail.contains("not significant") == true)
    }

    @Test func latencyAndCostRatiosAndMissingAndExtraCandidates() throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try Self.writeRun(dir, id: "base", answers: [.init(candidate: "big:p", n: 50) { _ in true }, .init(candidate: "small:p", n: 50) { _ in true }])
        let slower = try Self.writeRun(dir, id: "slower", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 50, latency: 300) { _ in true }])
        let report = try check(slower, base)
        #expect(row(report, "big:p", "latency")?.verdict == .fail)
        #expect(row(report, "small:p", "present")?.verdict == .fail)
        #expect(report.failures.count == 2)

        let extra = try Self.writeRun(dir, id: "extra", candidates: ["big:p", "small:p"], answers: [.init(candidate: "big:p", n: 50) { _ in true }, .init(candidate: "small:p", n: 50) { _ in true }])
        let narrow = try Self.writeRun(dir, id: "narrow", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 50) { _ in true }])
        let grown = try check(extra, narrow)
        #expect(grown.passed)
        #expect(row(grown, "small:p", "present")?.verdict == .new)
    }

    @Test func missingPerExampleResultsFallBackToIntervals() throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try Self.writeRun(dir, id: "base", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 300) { _ in true }])
        let now = try Self.writeRun(dir, id: "now", candidates: ["big:p"], answers: [.init(candidate: "big:p", n: 300) { $0 % 3 != 0 }])
        try FileManager.default.removeItem(atPath: base + "/results.jsonl")
        let report = try check(now, base)
        let accuracy = try #require(row(report, "big:p", "accuracy"))
        #expect(accuracy.verdict == .fail && accuracy.detail.contains("intervals do not overlap"))
    }

    @Test func stableReportsAndBaselinePromotionAndDiff() throws {
        let dir = try Fixtures.temporaryDirectory()
        let run = try Self.writeRun(dir, id: "run", answers: [.init(candidate: "big:p", n: 100) { $0 % 3 != 0 }, .init(candidate: "small:p", n: 100) { $0 % 4 != 0 }])
        let report = try String(contentsOfFile: run + "/report.md", encoding: .utf8)
        let summary = try String(contentsOfFile: run + "/summary.csv", encoding: .utf8)
        try RunFolderCommands.rerender(runDirectory: run)
        #expect(try String(contentsOfFile: run + "/report.md", encoding: .utf8) == report)
        #expect(try String(contentsOfFile: run + "/summary.csv", encoding: .utf8) == summary)

        let target = try RunFolderCommands.promoteBaseline(runDirectory: run, reportsRoot: dir + "/reports")
        #expect(target == dir + "/reports/gate/baseline")
        for file in ["summary.csv", "results.jsonl", "run.json", "config.json", "report.md"] {
            #expect(FileManager.default.fileExists(atPath: target + "/" + file), "\(file)")
        }
        #expect(try check(run, target).passed)

        var config = try String(contentsOfFile: run + "/config.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"output_per_million\": 2}", with: "\"output_per_million\": 3}")
        let changed = try Self.writeRun(dir, id: "changed", answers: [.init(candidate: "big:p", n: 100) { $0 % 3 != 0 || $0 == 3 }, .init(candidate: "small:p", n: 100) { $0 % 4 != 0 && $0 != 1 }])
        try config.write(toFile: changed + "/config.json", atomically: true, encoding: .utf8)
        let diff = RunDiff.markdown(try RunFolder.load(run), try RunFolder.load(changed))
        #expect(diff.contains("### big:p: 0 right → wrong, 1 wrong → right"))
        #expect(diff.contains("### small:p: 1 right → wrong, 0 wrong → right"))
        #expect(diff.contains("| $.models\\[1\\].pricing.output_per_million | 2 | 3 |"), "\(diff)")
        #expect(diff.contains("| big:p | 66.0% → 67.0% | +1.0 pts | McNemar p = 1.0000 on 100 |"))
    }
}
