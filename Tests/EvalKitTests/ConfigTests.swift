import EvalKit
import Foundation
import Testing

@Suite struct ConfigTests {
    static let validConfig = """
    {
      "name": "demo",
      "task": {"labels": ["negative", "neutral", "positive"]},
      "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
      "prompts": [{"id": "plain", "user": "plain.txt"}, {"id": "terse", "user": "terse.txt"}],
      "models": [
        {"id": "big", "provider": "openai", "role": "foundation",
         "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "SOME_KEY"},
         "pricing": {"input_per_million": 0.15, "output_per_million": 0.6, "source": "list price", "date": "2026-11-01"}},
        {"id": "clf", "provider": "builtin", "role": "fine-tuned"}
      ]
    }
    """

    @Test func validConfigGivesEveryPromptWithEveryPromptedModel() throws {
        let dir = try Fixtures.temporaryDirectory()
        let experiment = try Fixtures.experiment(Self.validConfig, in: dir)
        #expect(experiment.name == "demo")
        #expect(experiment.candidates.map(\.id) == ["big:plain", "big:terse", "clf"])
        // Per-token prices without a "model" are the api cost model.
        let api = try #require(experiment.model("big")?.pricing?.model as? APIPricing)
        #expect(api.inputPerMillion == 0.15 && api.outputPerMillion == 0.6 && api.cachedInputPerMillion == nil)
        #expect(experiment.resolve("train.jsonl") == dir + "/train.jsonl")
        #expect(experiment.configHash.count == 64)
    }

    @Test func everyProblemIsReportedAtOnceWithItsPath() throws {
        let dir = try Fixtures.temporaryDirectory()
        let broken = """
        {
          "name": "demo",
          "tsk": {},
          "task": {"labels": ["a", "b"], "parse": {"method": "regex", "pattern": "no group"}},
          "dataset": {"train": "t.jsonl", "fields": {"input": "text"}},
          "prompts": [{"id": "p"}],
          "models": [
            {"id": "m1", "provider": "opena", "role": "foundation"},
            {"id": "m2", "provider": "openai", "role": "boss", "options": {"base_url": "ftp://x", "model": "m", "temperature": 7}},
            {"id": "m3", "provider": "builtin", "role": "small", "pricing": {"input_per_million": -1}},
            {"id": "m5", "provider": "builtin", "role": "small", "options": {"learning_rate": 2, "l2": 0.5}},
            {"id": "m6", "provider": "builtin", "role": "small", "pricing": {"model": "reserved", "per_hour": 1}},
            {"id": "m7", "provider": "builtin", "role": "small", "pricing": {"model": "dedicated", "per_hour": 1, "peak_factor": 0.5},
             "capacity_probe": {"max_concurrency": 4}},
            {"id": "m8", "provider": "builtin", "role": "small", "pricing": {"model": "api", "per_hour": 1}}
          ],
          "candidates": [{"model": "m4", "prompt": "q"}],
          "run": {"repeats": 8000000000000000}
        }
        """
        let path = try Fixtures.write(broken, to: "evalkit.json", in: dir)
        do {
            _ = try ExperimentLoader.load(path: path)
            Issue.record("expected the config to be rejected")
        } catch {
            guard case .invalid(let file, let issues) = error else { Issue.record("unexpected \(error)"); return }
            #expect(file == path)
            let paths = issues.map(\.path)
            for expected in ["$.tsk", "$.task.parse.pattern", "$.dataset.test", "$.dataset.fields.target", "$.prompts[0].user",
                             "$.models[0].provider", "$.models[1].role", "$.models[1].options.base_url",
                             "$.models[1].options.temperature", "$.models[2].pricing.input_per_million",
                             "$.candidates[0].model", "$.models[3].options.l2", "$.models[4].pricing.model",
                             "$.models[5].pricing.peak_factor", "$.models[5].capacity_probe.max_concurrency",
                             "$.models[6].pricing.per_hour", "$.models[6].pricing.input_per_million", "$.run.repeats"] {
                #expect(paths.contains(expected), "missing \(expected) in \(paths)")
            }
            let provider = try #require(issues.first { $0.path == "$.models[0].provider" })
            #expect(provider.description.contains("did you mean \"openai\""))
            #expect(provider.found == "\"opena\"")
            // Every request is planned up front: 8e15 repeats would overflow the plan, not just take long.
            #expect(issues.first { $0.path == "$.run.repeats" }?.description.contains("an integer from 1 to 1000") == true)
            let unknown = try #require(issues.first { $0.path == "$.tsk" })
            #expect(unknown.description.contains("\"task\""))
            #expect(error.description.contains("\(issues.count) problems"))
        }
    }

    @Test func malformedJSONNamesLineAndColumn() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = try Fixtures.write("{\n  \"name\": \"x\",\n  \"task\": [1, 2,,]\n}", to: "evalkit.json", in: dir)
        do {
            _ = try ExperimentLoader.load(path: path)
            Issue.record("expected a JSON error")
        } catch {
            #expect(error.description.hasPrefix("\(path):3:"))
        }
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: ConfigError.self) { try ExperimentLoader.load(path: "/nonexistent/evalkit.json") }
        do { _ = try ExperimentLoader.load(path: "/nonexistent/evalkit.json") } catch {
            #expect(error.description.contains("no such file"))
        }
    }

    @Test func explicitCandidatesAreCheckedAgainstModelsAndPrompts() throws {
        let dir = try Fixtures.temporaryDirectory()
        var config = Self.validConfig
        config.removeLast(2)
        config += ",\n \"candidates\": [{\"model\": \"big\", \"prompt\": \"plain\"}, {\"model\": \"clf\"}, {\"model\": \"big\", \"prompt\": \"plian\"}]\n}"
        do {
            _ = try Fixtures.experiment(config, in: dir)
            Issue.record("expected an unknown prompt to be rejected")
        } catch let error as ConfigError {
            #expect(error.description.contains("$.candidates[2].prompt"))
            #expect(error.description.contains("did you mean \"plain\""))
        }
    }

    @Test func splitFieldAndRatioSourcesParse() throws {
        let dir = try Fixtures.temporaryDirectory()
        let byField = Self.validConfig.replacingOccurrences(of: "\"train\": \"train.jsonl\", \"test\": \"test.jsonl\"",
                                                            with: "\"path\": \"all.csv\", \"split_field\": \"split\"")
        let experiment = try Fixtures.experiment(byField, in: dir)
        guard case .splitField(let path, let field, _) = experiment.dataset.source else { Issue.record("wrong source"); return }
        #expect(path == "all.csv" && field == "split")

        let badRatio = Self.validConfig.replacingOccurrences(of: "\"train\": \"train.jsonl\", \"test\": \"test.jsonl\"",
                                                             with: "\"path\": \"all.csv\", \"split_ratios\": {\"train\": 0.5, \"test\": 0.4}")
        #expect(throws: ConfigError.self) { try Fixtures.experiment(badRatio, in: dir) }
    }

    /// A model not trained yet blocks only what needs it: the data-only commands and `--only` the others.
    @Test func aMissingModelFileBlocksOnlyWhatUsesIt() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt([("a", "I love it", "positive"), ("b", "I hate it", "negative")], in: dir)
        let config = try Fixtures.write("""
        {"name": "x", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "base", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}},
                    {"id": "tuned", "provider": "openai", "role": "fine-tuned", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "t"},
                     "training_log": "adapter/trainer_state.json"}]}
        """, to: "evalkit.json", in: dir)
        #expect { _ = try Preparation.prepare(configPath: config) } throws: { "\($0)".contains("$.models[1].training_log") }
        let dataOnly = try Preparation.prepare(configPath: config, checkingModels: false)
        #expect(Preparation.modelFileProblems(dataOnly.experiment).count == 1)
        #expect(Preparation.modelFileProblems(try dataOnly.restricted(toModels: ["base"]).experiment).isEmpty)
    }
}
