import EvalKit
import Foundation
import Testing

/// A provider defined here and nowhere else: it answers with the label its options name when the
/// input contains that label's keyword. Registering it is all it takes to run, report and verify it.
struct KeywordOptions: ProviderKind {
    static let name = "keyword"
    var rules: [(keyword: String, label: String)]
    var fallback: String

    var usesPrompts: Bool { true }
    var answersOneAtATime: Bool { false }
    var acceptsServer: Bool { false }
    var maxOutputTokens: Int { 1 }
    var serverURL: String? { nil }
    var fileArguments: [String] { [] }
    var answerReading: String? { "keyword rules" }
    var manifestMembers: [(String, JSON)] { [("rules", .number(Double(rules.count)))] }
    var reportLine: String { "keyword rules (\(rules.count)), else \(fallback)" }

    static func read(options: JSON, path: String) -> (options: KeywordOptions?, issues: [ConfigIssue]) {
        guard case .object(let members) = options, let fallback = options["fallback"]?.stringValue else {
            return (nil, [ConfigIssue(path: path + ".fallback", expected: "the label to answer when no keyword matches")])
        }
        let rules = members.compactMap { key, value in key == "fallback" ? nil : value.stringValue.map { (keyword: key, label: $0) } }
        return (KeywordOptions(rules: rules.sorted { $0.keyword < $1.keyword }, fallback: fallback), [])
    }

    func makeProvider(_ context: ProviderContext) -> PreparedProvider {
        PreparedProvider(provider: KeywordProvider(options: self))
    }
}

/// A scorer defined here and nowhere else, with partial credit: the share of the target's letters that
/// the output contains. Registering it is all it takes for its scores to run through the analysis.
struct LetterOverlapScorer: ScorerKind, Scorer {
    static let name = "letters"
    var isBinary: Bool { false }
    var readsLabels: Bool { false }
    var reportLine: String { "letters in common: the share of the target's letters the output contains" }

    static func read(options: JSON, path: String, task: TaskSpec) -> (options: LetterOverlapScorer?, issues: [ConfigIssue]) {
        if case .object(let members) = options, let key = members.first?.0 {
            return (nil, [ConfigIssue(path: path + "." + key, expected: "no options")])
        }
        return (LetterOverlapScorer(), [])
    }

    func makeScorer(_ context: ScorerContext) -> any Scorer { self }

    func score(output: String, example: Example) -> Score {
        let wanted = Set(example.target.lowercased().filter(\.isLetter)), found = Set(output.lowercased().filter(\.isLetter))
        return Score(answer: output, value: wanted.isEmpty ? 0 : Double(wanted.intersection(found).count) / Double(wanted.count))
    }
}

struct KeywordProvider: ModelProvider {
    let options: KeywordOptions
    func start() async throws(ProviderError) {}
    func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        let input = request.input.lowercased()
        return ModelResponse(text: options.rules.first { input.contains($0.keyword) }?.label ?? options.fallback)
    }
    func stop() async {}
}

@Suite struct RegistryTests {
    @Test func aProviderDefinedOutsideEvalKitRunsOnceRegistered() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<12).map { i in ("t\(i)", ["I love it \(i)", "I hate it \(i)", "a chair \(i)"][i % 3], ["positive", "negative", "neutral"][i % 3]) }
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        let config = try Fixtures.write("""
        {"name": "keywords", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "rules", "provider": "keyword", "role": "small", "options": {"love": "positive", "hate": "negative", "fallback": "neutral"}}]}
        """, to: "evalkit.json", in: dir)

        // evalkit's own catalog does not know it: the config error names the providers it does know.
        #expect { _ = try Preparation.prepare(configPath: config) } throws: { "\($0)".contains("$.models[0].provider") }

        let catalog = Catalog.standard.adding(KeywordOptions.self)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config, catalog: catalog), options: options)
        #expect(outcome.summary.metrics.first?.accuracy == 1)
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("keyword rules (2), else neutral"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run", catalog: catalog) == [])
        // Its options' validation is its own, with JSON paths.
        #expect(KeywordOptions.read(options: .object([]), path: "$.models[0].options").issues.map(\.path) == ["$.models[0].options.fallback"])
    }

    @Test func aScorerDefinedOutsideEvalKitScoresThroughTheAnalysis() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<12).map { i in ("t\(i)", ["I love it \(i)", "I hate it \(i)", "a chair \(i)"][i % 3], ["positive", "negative", "neutral"][i % 3]) }
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        func config(_ scorer: String) throws -> String {
            try Fixtures.write("""
            {"name": "letters", "task": {"labels": ["negative", "neutral", "positive"], "scorer": \(scorer)},
             "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
             "prompts": [{"id": "p", "user": "p.txt"}],
             "models": [{"id": "rules", "provider": "keyword", "role": "foundation", "options": {"love": "positive", "hate": "negative", "fallback": "neutral"}},
                        {"id": "lazy", "provider": "keyword", "role": "small", "options": {"fallback": "neutral"}}]}
            """, to: "evalkit.json", in: dir)
        }
        let catalog = Catalog.standard.adding(KeywordOptions.self).adding(LetterOverlapScorer.self)
        // Unknown to evalkit's own catalog, and its own options checked with their path.
        #expect { _ = try Preparation.prepare(configPath: try config("\"letters\""), catalog: Catalog.standard.adding(KeywordOptions.self)) }
            throws: { "\($0)".contains("$.task.scorer") && "\($0)".contains("\"label\"") }
        #expect { _ = try Preparation.prepare(configPath: try config("{\"type\": \"letters\", \"case\": 1}"), catalog: catalog) }
            throws: { "\($0)".contains("$.task.scorer.case") }

        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: try config("{\"type\": \"letters\"}"), catalog: catalog), options: options)
        // "neutral" shares t, e of "positive"'s 7 distinct letters and n, e, a, t of "negative"'s 7; results.jsonl keeps 6 decimals.
        let lines = try String(contentsOfFile: dir + "/run/results.jsonl", encoding: .utf8).split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        let lazyScores = Dictionary(uniqueKeysWithValues: lines.filter { $0["candidate"]?.stringValue == "lazy:p" }.compactMap { line in
            line["target"]?.stringValue.flatMap { target in line["score"]?.numberValue.map { (line["example_id"]?.stringValue ?? "", (target, $0)) } }
        })
        #expect(lazyScores.count == 12)
        #expect(lazyScores.values.allSatisfy { $0.1 == ["positive": 0.285714, "negative": 0.571429, "neutral": 1][$0.0] })
        let metrics = try #require(outcome.summary.metrics.first { $0.candidate == "lazy:p" })
        #expect(!metrics.binaryScores)
        #expect(abs((metrics.accuracy ?? 0) - (4 * 0.285714 + 4 * 0.571429 + 4) / 12) < 1e-12)
        #expect(metrics.correct == 4)

        let lazy = try #require(outcome.summary.analysis.assessment("lazy:p"))
        let comparison = try #require(lazy.comparison)
        #expect(comparison.method == .resampling && comparison.reference == "rules:p" && comparison.pairs == 12)
        #expect(comparison.candidateBetter == 0 && comparison.referenceBetter == 8)
        // scipy.stats.permutation_test on the 12 paired scores (permutation_type="samples", n_resamples=np.inf) gives 0.0078125.
        #expect(comparison.pValue == 0.0078125)
        #expect(lazy.nonInferiority?.status == .inferior)
        #expect(lazy.labelScores.isEmpty && lazy.confusion.isEmpty)
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("letters in common: the share of the target's letters the output contains"))
        #expect(report.contains("| lazy:p | small | 61.9% | 61.9% | −38.1 pts |") && report.contains("| 0.0078 | 0.0078 | inferior"))
        #expect(report.contains("paired sign-flip permutation test of the mean difference") && report.contains("SD of the differences"))
        #expect(report.contains("| score 0.29 | 1 | I love it 0 | positive | neutral |"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run", catalog: catalog) == [])
    }
}
