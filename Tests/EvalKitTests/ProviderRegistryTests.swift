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

struct KeywordProvider: ModelProvider {
    let options: KeywordOptions
    func start() async throws(ProviderError) {}
    func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        let input = request.input.lowercased()
        return ModelResponse(text: options.rules.first { input.contains($0.keyword) }?.label ?? options.fallback)
    }
    func stop() async {}
}

@Suite struct ProviderRegistryTests {
    @Test func aProviderDefinedOutsideEvalKitRunsOnceRegistered() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<12).map { i in ("t\(i)", ["I love it \(i)", "I hate it \(i)", "a chair \(i)"][i % 3], ["positive", "negative", "neutral"][i % 3]) }
        try Fixtures.write(Fixtures.jsonl(rows), to: "test.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl(rows.map { ("tr" + $0.0, $0.1, $0.2) }), to: "train.jsonl", in: dir)
        try Fixtures.write("{{input}}", to: "p.txt", in: dir)
        let config = try Fixtures.write("""
        {"name": "keywords", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "rules", "provider": "keyword", "role": "small", "options": {"love": "positive", "hate": "negative", "fallback": "neutral"}}]}
        """, to: "evalkit.json", in: dir)

        // evalkit's own catalog does not know it: the config error names the providers it does know.
        #expect { _ = try Preparation.prepare(configPath: config) } throws: { "\($0)".contains("$.models[0].provider") }

        let providers = ProviderRegistry.standard.adding(KeywordOptions.self)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config, providers: providers), options: options)
        #expect(outcome.summary.metrics.first?.accuracy == 1)
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("keyword rules (2), else neutral"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run", providers: providers) == [])
        // Its options' validation is its own, with JSON paths.
        #expect(KeywordOptions.read(options: .object([]), path: "$.models[0].options").issues.map(\.path) == ["$.models[0].options.fallback"])
    }
}
