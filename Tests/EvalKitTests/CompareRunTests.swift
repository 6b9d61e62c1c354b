import EvalKit
import Foundation
import Testing

/// Whole runs: a config on disk, a real HTTP server, a real worker, the builtin model, an unreachable model.
@Suite(.serialized) struct CompareRunTests {
    static func writeExperiment(in dir: String, serverURL: String, deadURL: String) throws -> String {
        var train: [(String, String, String)] = []
        for i in 0..<30 {
            train.append(("tr\(i)", ["I love it \(i)", "I hate it \(i)", "it is a thing \(i)"][i % 3], ["positive", "negative", "neutral"][i % 3]))
        }
        try Fixtures.write(Fixtures.jsonl(train), to: "data/train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("v1", "love love", "positive")]), to: "data/validation.jsonl", in: dir)
        let test: [(String, String, String)] = [
            ("t1", "I love | <b>pipes</b>", "positive"), ("t2", "awful, I hate it", "negative"), ("t3", "a table", "neutral"),
            ("t4", "great stuff", "positive"), ("t5", "FAIL500 please", "negative"), ("t6", "=1+1 formula", "neutral"),
        ]
        try Fixtures.write(Fixtures.jsonl(test), to: "data/test.jsonl", in: dir)
        try Fixtures.write("Classify as {{labels}}.", to: "prompts/system.txt", in: dir)
        try Fixtures.write("Text: {{input}}\nSentiment:", to: "prompts/plain.txt", in: dir)
        try Fixtures.write("{{examples}}\n\nText: {{input}}\nSentiment:", to: "prompts/few.txt", in: dir)
        return try Fixtures.write("""
        {
          "name": "e2e",
          "task": {"labels": ["negative", "neutral", "positive"]},
          "dataset": {"train": "data/train.jsonl", "validation": "data/validation.jsonl", "test": "data/test.jsonl",
                      "fields": {"input": "text", "target": "label", "id": "id"}},
          "prompts": [
            {"id": "plain", "system": "prompts/system.txt", "user": "prompts/plain.txt"},
            {"id": "few", "user": "prompts/few.txt", "examples": {"kind": "first", "k": 3}}
          ],
          "models": [
            {"id": "api", "provider": "openai", "role": "foundation", "options": {"base_url": "\(serverURL)", "model": "fake"},
             "pricing": {"input_per_million": 1.0, "output_per_million": 2.0, "source": "test price", "date": "2026-11-22"}},
            {"id": "gone", "provider": "openai", "role": "small", "options": {"base_url": "\(deadURL)", "model": "x", "timeout_seconds": 5}},
            {"id": "worker", "provider": "command", "role": "fine-tuned",
             "options": {"argv": ["python3", "\(Fixtures.repositoryRoot)/scripts/example-worker.py"]}},
            {"id": "clf", "provider": "builtin", "role": "fine-tuned", "options": {"epochs": 3, "hash_bits": 12},
             "pricing": {"per_hour": 3.6}}
          ],
          "candidates": [
            {"model": "api", "prompt": "plain"}, {"model": "api", "prompt": "few"}, {"model": "gone", "prompt": "plain"},
            {"model": "worker", "prompt": "plain"}, {"model": "clf"}
          ]
        }
        """, to: "evalkit.json", in: dir)
    }

    @Test func fullRunWritesTheFourFilesAndRecordsFailures() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let deadURL = "http://127.0.0.1:\(closedPort())/v1"
        let config = try Self.writeExperiment(in: dir, serverURL: server.baseURL, deadURL: deadURL)
        let prepared = try Preparation.prepare(configPath: config)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.reproduceCommand = "evalkit compare evalkit.json --out run"
        let outcome = try await CompareRun.run(prepared, options: options)
        #expect(!outcome.failed)
        for file in ["report.md", "summary.csv", "results.jsonl", "run.json"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/run/" + file), "missing \(file)")
        }
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.count == 5 * 6)
        let byCandidate = Dictionary(grouping: results, by: \.candidate)
        #expect(Set(byCandidate.keys) == ["api:plain", "api:few", "gone:plain", "worker:plain", "clf"])

        // The API candidate: keyword answers, the injected 500 recorded as an error, real token counts and cost.
        let plain = try #require(byCandidate["api:plain"])
        #expect(plain.first { $0.exampleID == "t1" }?.label == "positive")
        #expect(plain.first { $0.exampleID == "t3" }?.label == "neutral")
        let failed = try #require(plain.first { $0.exampleID == "t5" })
        #expect(failed.error?.contains("HTTP 500") == true && failed.output == nil && !failed.correct)
        let answered = try #require(plain.first { $0.exampleID == "t2" })
        #expect(answered.tokensEstimated == false && answered.outputTokens == 2)
        let expectedCost = (Double(answered.inputTokens ?? 0) * 1.0 + 2 * 2.0) / 1_000_000
        #expect(abs((answered.costUSD ?? 0) - expectedCost) < 1e-15)

        // The unreachable model: every example recorded as failed, the run went on.
        #expect(byCandidate["gone:plain"]?.allSatisfy { $0.error?.contains("unreachable: \(deadURL)/models") == true } == true)
        #expect(outcome.summary.modelFailures.map(\.model) == ["gone"])

        // The worker and the builtin model answered everything.
        #expect(byCandidate["worker:plain"]?.allSatisfy(\.answered) == true)
        #expect(byCandidate["clf"]?.allSatisfy { $0.answered && $0.costUSD != nil } == true)

        // summary.csv: stable header and one row per candidate whose figures match the results.
        let rows = try CSV.parse(String(contentsOfFile: dir + "/run/summary.csv", encoding: .utf8))
        #expect(rows.first?.fields == SummaryTable.columns)
        #expect(rows.count == 6)
        let apiRow = try #require(rows.first { $0.fields.first == "api:plain" }).fields
        let column = { (name: String) in apiRow[SummaryTable.columns.firstIndex(of: name) ?? 0] }
        let answeredPlain = plain.filter(\.answered)
        #expect(column("errors") == "1" && column("answered") == "5")
        // Accuracy counts the failed request as wrong (6 requests); accuracy_answered leaves it out.
        #expect(column("accuracy") == Format.fixed(Double(answeredPlain.filter(\.correct).count) / 6, digits: 4))
        #expect(column("accuracy_answered") == Format.fixed(Double(answeredPlain.filter(\.correct).count) / 5, digits: 4))

        // report.md: dataset table, candidates, failures with the URL, the reproduce command, escaped inputs.
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("| train | 30 | 10 | 10 | 10 |"))
        #expect(report.contains("| test | 6 | 2 | 2 | 2 |"))
        #expect(report.contains("model **gone** was not used: unreachable: \(deadURL)/models"))
        #expect(report.contains("evalkit compare evalkit.json --out run"))
        #expect(report.contains(prepared.experiment.configHash.prefix(16)))
        #expect(report.contains("$1 / M input tokens, $2 / M output tokens (test price, as of 2026-11-22)"))

        let manifest = try JSON.parse(String(contentsOfFile: dir + "/run/run.json", encoding: .utf8))
        #expect(manifest["config_sha256"]?.stringValue == prepared.experiment.configHash)
        #expect(manifest["counts"]?["requests"]?.numberValue == 30)
        // Six from the unreachable model, and the injected HTTP 500 once for each of the two api prompts.
        #expect(manifest["counts"]?["errors"]?.numberValue == 8)
        #expect(manifest["schema"]?.numberValue == Double(RunManifest.schema))

        // run.json reads back as it was written; one of a newer schema is refused by name, and one written
        // before the schema key existed (the committed baseline's) still reads.
        let read = try RunManifest(json: manifest)
        #expect(read.json == manifest)
        var newer = manifest.objectValue ?? []
        newer[0].1 = .number(Double(RunManifest.schema + 1))
        try (JSON.object(newer).encoded() + "\n").write(toFile: dir + "/run/run.json", atomically: true, encoding: .utf8)
        #expect { _ = try RunFolder.load(dir + "/run") } throws: { "\($0)".contains("schema \(RunManifest.schema + 1) is newer than this evalkit reads") }
        var newerResults = manifest.objectValue ?? []
        newerResults[1].1 = .number(Double(ExampleResult.schema + 1))
        try (JSON.object(newerResults).encoded() + "\n").write(toFile: dir + "/run/run.json", atomically: true, encoding: .utf8)
        #expect { _ = try RunFolder.load(dir + "/run") } throws: { "\($0)".contains("results.jsonl has schema \(ExampleResult.schema + 1)") }
        let baseline = try RunFolder.load(Fixtures.repositoryRoot + "/reports/twitter-sentiment/baseline")
        #expect(baseline.manifest.counts?.testEvaluated == 250 && baseline.manifest.status == .finished)
    }

    @Test func limitEvaluatesTheFirstNExamplesAndDefaultFolderSortsByTime() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, serverURL: server.baseURL, deadURL: "http://127.0.0.1:\(closedPort())/v1")
        let prepared = try Preparation.prepare(configPath: config)
        var options = CompareOptions()
        options.reportsRoot = dir + "/reports"
        options.limit = 2
        let first = try await CompareRun.run(prepared, options: options)
        let second = try await CompareRun.run(prepared, options: options)
        #expect(first.runDirectory.hasPrefix(dir + "/reports/e2e/"))
        #expect(first.runDirectory < second.runDirectory)
        let results = try ResultsJournal.read(path: first.runDirectory + "/results.jsonl")
        #expect(Set(results.map(\.exampleID)) == ["t1", "t2"])
        #expect(first.summary.evaluatedExamples == 2)
        // The first two miss a label the split has: the report says so.
        let report = try String(contentsOfFile: first.runDirectory + "/report.md", encoding: .utf8)
        #expect(report.contains("**Unrepresentative sample:** the first 2 test examples differ from the whole split in their labels ("))
        #expect(report.contains("neutral 0.0% against 33.3%"))
        options.limit = 3
        let fair = try await CompareRun.run(prepared, options: options)
        #expect(try !String(contentsOfFile: fair.runDirectory + "/report.md", encoding: .utf8).contains("Unrepresentative"))
    }

    @Test func verifyPassesOnARealRunAndFailsOnATamperedOne() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, serverURL: server.baseURL, deadURL: "http://127.0.0.1:\(closedPort())/v1")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])

        // Change one accuracy figure by a tenth of a point.
        let path = dir + "/run/summary.csv"
        var rows = try CSV.parse(String(contentsOfFile: path, encoding: .utf8)).map(\.fields)
        let column = try #require(SummaryTable.columns.firstIndex(of: "accuracy"))
        let row = try #require(rows.firstIndex { $0.first == "api:plain" })
        let original = rows[row][column]
        rows[row][column] = Format.fixed((Double(original) ?? 0) + 0.001, digits: 4)
        try rows.map(CSV.row).joined().write(toFile: path, atomically: true, encoding: .utf8)
        let mismatches = try RunVerifier.verify(runDirectory: dir + "/run")
        #expect(mismatches == [RunVerifier.Mismatch(candidate: "api:plain", column: "accuracy", found: rows[row][column], expected: original)])
        rows[row][column] = original

        // A duplicated row, a figure edited in report.md, a value edited in analysis.json: each is named.
        try (rows + [rows[row]]).map(CSV.row).joined().write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [RunVerifier.Mismatch(candidate: "api:plain", column: "(row)", found: "2 rows", expected: "one row")])
        try rows.map(CSV.row).joined().write(toFile: path, atomically: true, encoding: .utf8)
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        let decision = try #require(report.range(of: "## Decision"))
        let accuracy = try #require(report.range(of: #"\d+\.\d%"#, options: .regularExpression, range: decision.upperBound..<report.endIndex))
        try report.replacingCharacters(in: accuracy, with: "99.9%").write(toFile: dir + "/run/report.md", atomically: true, encoding: .utf8)
        let edited = try RunVerifier.verify(runDirectory: dir + "/run")
        #expect(edited.count == 1 && edited.first?.candidate == "report.md" && edited.first?.found.contains("99.9%") == true, "\(edited)")
        try report.write(toFile: dir + "/run/report.md", atomically: true, encoding: .utf8)
        let analysisPath = dir + "/run/analysis.json"
        let analysis = try String(contentsOfFile: analysisPath, encoding: .utf8)
        try analysis.replacingOccurrences(of: "\"qualifies\":false", with: "\"qualifies\":true").write(toFile: analysisPath, atomically: true, encoding: .utf8)
        let tampered = try RunVerifier.verify(runDirectory: dir + "/run")
        #expect(!tampered.isEmpty && tampered.allSatisfy { $0.candidate == "analysis.json" && $0.found.contains(".qualifies") }, "\(tampered)")
        try analysis.write(toFile: analysisPath, atomically: true, encoding: .utf8)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])

        // A count no Int holds in results.jsonl is a named error, not a trap.
        let lines = try String(contentsOfFile: dir + "/run/results.jsonl", encoding: .utf8)
        try lines.replacingOccurrences(of: "\"repeat\":0", with: "\"repeat\":1e19").write(toFile: dir + "/run/results.jsonl", atomically: true, encoding: .utf8)
        #expect { _ = try RunVerifier.verify(runDirectory: dir + "/run") } throws: { "\($0)".contains("results.jsonl:1: not a results.jsonl record") }
        try lines.write(toFile: dir + "/run/results.jsonl", atomically: true, encoding: .utf8)

        // A result line changed after the fact is caught too.
        let journal = dir + "/run/results.jsonl"
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        try text.replacingOccurrences(of: "\"latency_ms\":", with: "\"latency_ms\":1").write(toFile: journal, atomically: true, encoding: .utf8)
        try rows.map(CSV.row).joined().write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run").contains { $0.column == "latency_p50_ms" })
    }

    @Test func repeatsMeasureConsistencyAndTheBudgetStopsARunCleanly() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, serverURL: server.baseURL, deadURL: "http://127.0.0.1:\(closedPort())/v1")
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"candidates\": [", with: "\"run\": {\"repeats\": 3, \"concurrency\": 1},\n  \"candidates\": [")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        var options = CompareOptions()
        options.outDirectory = dir + "/repeats"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let plain = try #require(outcome.summary.analysis.assessment("api:plain"))
        #expect(plain.metrics.requests == 18)
        // The keyword server answers the same way every time.
        #expect(plain.consistency == 1)
        #expect(plain.repeatAccuracies.count == 3)
        #expect(try String(contentsOfFile: dir + "/repeats/report.md", encoding: .utf8).contains("× 3 repeats"))

        // A budget far below one run's spend: estimated too high to start…
        let budgeted = text.replacingOccurrences(of: "\"repeats\": 3,", with: "\"repeats\": 3, \"budget_usd\": 0.0000001,")
        try budgeted.write(toFile: config, atomically: true, encoding: .utf8)
        await #expect { try await CompareRun.run(try Preparation.prepare(configPath: config), options: options) } throws: { error in
            guard case .overBudget? = error as? CompareError else { return false }
            return "\(error)".contains("$.run.budget_usd")
        }
        // …and, when the spend cannot be estimated beforehand (self-hosted at a price per hour), stopped
        // cleanly once the measured spend reaches the budget, keeping what it got.
        let tight = text.replacingOccurrences(of: "\"repeats\": 3,", with: "\"repeats\": 3, \"budget_usd\": 2,")
            .replacingOccurrences(of: "\"input_per_million\": 1.0, \"output_per_million\": 2.0", with: "\"per_hour\": 3600000")
        try tight.write(toFile: config, atomically: true, encoding: .utf8)
        options.outDirectory = dir + "/budget"
        let stopped = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let reason = try #require(stopped.summary.stopReason)
        #expect(reason.contains("budget"))
        let made = try ResultsJournal.read(path: dir + "/budget/results.jsonl").count
        #expect(made < stopped.summary.plannedRequests)
        #expect(made == stopped.summary.metrics.reduce(0) { $0 + $1.requests })
        #expect(try String(contentsOfFile: dir + "/budget/report.md", encoding: .utf8).contains("Stopped early"))
    }
}

/// A model fine-tuned outside evalkit: its trainer's log gives the training time and curve.
@Suite struct OutsideFineTuneTests {
    @Test func theTrainersMeasuredTimeSetsTheOneTimeCostAndTheCurveIsDiagnosed() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(Fixtures.jsonl([("tr1", "I love it", "positive"), ("tr2", "I hate it", "negative")]), to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("t1", "I love it", "positive"), ("t2", "awful, I hate it", "negative")]), to: "test.jsonl", in: dir)
        try Fixtures.write("Text: {{input}}\nSentiment:", to: "plain.txt", in: dir)
        // Hugging Face Trainer's state: eval every 10 steps, the best checkpoint at step 20, 720 s measured.
        try Fixtures.write("""
        {"best_metric": 0.5, "best_model_checkpoint": "work/checkpoints/checkpoint-20", "global_step": 40, "log_history": [
          {"step": 5, "loss": 2.0}, {"step": 10, "loss": 1.0}, {"step": 10, "eval_loss": 0.9},
          {"step": 15, "loss": 0.6}, {"step": 20, "loss": 0.4}, {"step": 20, "eval_loss": 0.5},
          {"step": 25, "loss": 0.2}, {"step": 30, "loss": 0.1}, {"step": 30, "eval_loss": 0.7},
          {"step": 35, "loss": 0.05}, {"step": 40, "loss": 0.02}, {"step": 40, "eval_loss": 0.9},
          {"step": 40, "train_runtime": 720.0, "train_loss": 0.5}
        ]}
        """, to: "lora/trainer_state.json", in: dir)
        let config = try Fixtures.write("""
        {"name": "outside", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "plain", "user": "plain.txt"}],
         "models": [
           {"id": "base", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "fake"},
            "pricing": {"per_hour": 0.5}},
           {"id": "tuned", "provider": "openai", "role": "fine-tuned", "options": {"base_url": "\(server.baseURL)", "model": "fake"},
            "pricing": {"per_hour": 0.5}, "training_log": "lora/trainer_state.json"}],
         "candidates": [{"model": "base", "prompt": "plain"}, {"model": "tuned", "prompt": "plain"}],
         "decision": {"reference": "base:plain"}}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let tuned = try #require(outcome.summary.analysis.assessments.first { $0.id == "tuned:plain" })
        // 720 s at $0.50 an hour.
        #expect(abs(tuned.oneTimeCostUSD - 0.1) < 1e-12)
        #expect(tuned.oneTimeCostSource.contains("measured training time 720.00 s"))
        #expect(outcome.summary.analysis.assessments.first { $0.id == "base:plain" }?.oneTimeCostUSD == 0)

        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("**tuned** was fine-tuned outside evalkit: its trainer measured 720.0 s of training"))
        #expect(report.contains("the checkpoint kept is step 20"))
        #expect(report.contains("**tuned** (lora/trainer_state.json): **overfitting**"))
        let manifest = try JSON.parse(String(contentsOfFile: dir + "/run/run.json", encoding: .utf8))
        let entry = try #require(manifest["training"]?.arrayValue?.first)
        #expect(entry["model"]?.stringValue == "tuned" && entry["seconds"]?.numberValue == 720 && entry["source"]?.stringValue == "lora/trainer_state.json")
        #expect(entry["examples"]?.isNull == true)

        // Re-rendered from the run folder alone, the report is the same.
        try RunFolderCommands.rerender(runDirectory: dir + "/run")
        #expect(try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8) == report)
    }
}
