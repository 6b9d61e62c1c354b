import EvalKit
import Foundation
import Testing

/// `"mode": "batch"`: a model's requests sent as one provider batch job (OpenAI's Batch API, Anthropic's
/// Message Batches, as the fake server implements them), mapped back by custom id, priced at the batch price,
/// and picked up again by `--resume` when the job outlives the run.
@Suite(.serialized) struct BatchTests {
    /// 12 test examples (one whose request fails inside the job), one batch-mode model.
    static func writeExperiment(in dir: String, provider: String, url: String, batch: String = "{\"poll_seconds\": 0.05}") throws -> String {
        let words = ["I love this", "I hate that", "a plain day"]
        try Fixtures.write(Fixtures.jsonl((0..<6).map { ("tr\($0)", words[$0 % 3], ["positive", "negative", "neutral"][$0 % 3]) }), to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl((0..<12).map { i in
            (String(format: "t%02d", i), i == 5 ? "BATCHFAIL please" : "\(words[i % 3]) #\(i)", ["positive", "negative", "neutral"][i % 3])
        }), to: "test.jsonl", in: dir)
        try Fixtures.write("Tweet: {{input}}\nSentiment:", to: "p.txt", in: dir)
        let options = provider == "anthropic"
            ? "{\"base_url\": \"\(url)\", \"model\": \"m\", \"api_key_env\": \"EVALKIT_TEST_KEY\"}"
            : "{\"base_url\": \"\(url)\", \"model\": \"m\"}"
        return try Fixtures.write("""
        {"name": "batch", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "api", "provider": "\(provider)", "role": "foundation", "mode": "batch", "batch": \(batch), "options": \(options),
                     "pricing": {"input_per_million": 2, "output_per_million": 8, "batch_input_per_million": 1, "batch_output_per_million": 4}}]}
        """, to: "evalkit.json", in: dir)
    }

    static func run(_ config: String, into out: String) async throws -> CompareOutcome {
        var options = CompareOptions()
        options.outDirectory = out
        return try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
    }

    @Test(arguments: ["openai", "anthropic"]) func aBatchJobAnswersEveryRequestAtTheBatchPrice(provider: String) async throws {
        setenv("EVALKIT_TEST_KEY", "k", 1)
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, provider: provider, url: server.baseURL)
        let outcome = try await Self.run(config, into: dir + "/run")
        let metrics = try #require(outcome.summary.metrics.first)
        #expect(metrics.answered == 11 && metrics.errors == 1)
        let log = try server.requests()
        #expect(log.filter { $0["batch_id"] != nil }.count == 1, "one job for the whole test set")
        #expect(!log.contains { ($0["path"]?.stringValue ?? "").hasSuffix("/chat/completions") || ($0["path"]?.stringValue ?? "").hasSuffix("/messages") },
                "no request went to the online endpoint")
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        let failed = try #require(results.first { $0.exampleID == "t05" })
        #expect(failed.error?.contains(provider == "openai" ? "injected batch failure" : "errored: injected batch failure") == true, "\(failed.error ?? "")")
        // Every answer has the job's turnaround as its latency, and the batch price: tokens × $1 / $4 per million.
        let answered = results.filter { $0.error == nil }
        #expect(Set(answered.map(\.latencyMs)).count == 1 && (answered.first?.latencyMs ?? 0) > 0)
        for result in answered {
            let expected = (Double(result.inputTokens ?? 0) * 1 + Double(result.outputTokens ?? 0) * 4) / 1_000_000
            #expect(abs((result.costUSD ?? -1) - expected) < 1e-12, "\(result.costUSD ?? -1) against \(expected)")
            #expect(result.label == ["positive", "negative", "neutral"][Int(result.exampleID.dropFirst()).map { $0 % 3 } ?? 0])
        }
        let jobs = try String(contentsOfFile: dir + "/run/" + BatchJobsFile.name, encoding: .utf8).split(separator: "\n")
        #expect(jobs.count == 2 && jobs[1].contains("\"collected\":true"))
        #expect(try BatchJobsFile.pending(directory: dir + "/run").isEmpty)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("their latency is the batch job's turnaround"), "the report says what the latency is")
        // The dry run prices the same tokens at the batch price too.
        let (estimate, _) = await CompareRun.estimate(try Preparation.prepare(configPath: config), limit: nil)
        let planned = try #require(estimate.candidates.first)
        #expect(abs((planned.estimatedCostUSD ?? -1) - (Double(planned.estimatedInputTokens) * 1 + Double(planned.maxOutputTokens) * 4) / 1_000_000) < 1e-12)
        // A cached re-run asks nothing.
        let again = try await Self.run(config, into: dir + "/again")
        #expect(again.summary.metrics.first?.cachedAnswers == 11)
        #expect(try server.requests().filter { $0["batch_id"] != nil }.count == 1 + 1, "the failed request alone goes in a second job")
    }

    @Test func anExpiredJobKeepsWhatItAnsweredAndFailsTheRest() async throws {
        let server = try await FakeLLMServer(environment: ["FAKE_BATCH_EXPIRE": "1"])
        let dir = try Fixtures.temporaryDirectory()
        let outcome = try await Self.run(try Self.writeExperiment(in: dir, provider: "openai", url: server.baseURL), into: dir + "/run")
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.count == 12)
        #expect(results.filter { $0.error?.contains("batch_expired") == true }.count == 6)
        #expect(outcome.summary.metrics.first?.answered == 5, "the first half answered, less the one that failed inside the job")
    }

    /// A job still running when the run may wait no longer is left to finish: the run stops with the job
    /// recorded, and `--resume` collects it without submitting it again.
    @Test func aJobThatOutlivesTheRunIsCollectedOnResume() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let release = dir + "/release"
        let server = try await FakeLLMServer(environment: ["FAKE_BATCH_RELEASE": release])
        let config = try Self.writeExperiment(in: dir, provider: "openai", url: server.baseURL, batch: "{\"poll_seconds\": 0.05, \"max_wait_seconds\": 0.3}")
        let first = try await Self.run(config, into: dir + "/run")
        #expect(first.incomplete)
        #expect(first.summary.stopReason?.contains("still running after 0.3 s") == true, "\(first.summary.stopReason ?? "")")
        #expect(try ResultsJournal.read(path: dir + "/run/results.jsonl").isEmpty)
        let pending = try #require(try BatchJobsFile.pending(directory: dir + "/run")["api"])
        #expect(pending.requests == 12)

        FileManager.default.createFile(atPath: release, contents: Data())
        let (prepared, manifest) = try Preparation.resuming(directory: dir + "/run")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.resuming = manifest
        let resumed = try await CompareRun.run(prepared, options: options)
        #expect(!resumed.incomplete)
        #expect(resumed.summary.metrics.first?.answered == 11)
        #expect(try server.requests().filter { $0["batch_id"] != nil }.count == 1, "re-attached to the job, not paid for twice")
        #expect(try BatchJobsFile.pending(directory: dir + "/run").isEmpty)
        // A damaged record is refused by line (a job left unseen would be paid for twice); a torn last line is a write cut short.
        let records = try String(contentsOfFile: dir + "/run/" + BatchJobsFile.name, encoding: .utf8)
        try ("{\"model\": 3}\n" + records).write(toFile: dir + "/run/" + BatchJobsFile.name, atomically: true, encoding: .utf8)
        #expect { _ = try BatchJobsFile.pending(directory: dir + "/run") } throws: { "\($0)".contains("\(BatchJobsFile.name):1: not a batch job record") }
        try (records + "{\"model\": \"api\", \"job").write(toFile: dir + "/run/" + BatchJobsFile.name, atomically: true, encoding: .utf8)
        #expect(try BatchJobsFile.pending(directory: dir + "/run").isEmpty)
        // Sent once, as the ledger counts it: 12 requests in one job.
        let manifestJSON = try JSON.parse(String(contentsOfFile: dir + "/run/run.json", encoding: .utf8))
        #expect(manifestJSON["requests_sent"]?["total"]?.countValue == 12)
    }

    @Test func aJudgesBatchJobThatOutlivesTheRunIsCollectedOnResume() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let release = dir + "/release"
        let server = try await FakeLLMServer(environment: ["FAKE_BATCH_RELEASE": release])
        let written = try JudgeTests.write(in: dir, serverURL: server.baseURL)
        let judgeModel = #"{"id": "judge", "provider": "openai", "role": "foundation", "retry": {"max_attempts": 1},"#
        let config = try String(contentsOfFile: written, encoding: .utf8)
        #expect(config.contains(judgeModel))
        try config.replacingOccurrences(of: judgeModel, with: judgeModel + #" "mode": "batch", "batch": {"poll_seconds": 0.05, "max_wait_seconds": 0.3},"#)
            .write(toFile: written, atomically: true, encoding: .utf8)
        let first = try await Self.run(written, into: dir + "/run")
        #expect(first.incomplete || first.summary.stopReason != nil)
        let pending = try BatchJobsFile.pending(directory: dir + "/run")
        // 4 candidate answers and 11 human answers to grade, in one job recorded under the judge's own key.
        #expect(pending.keys.sorted() == ["judge/judge"] && pending["judge/judge"]?.requests == 15, "\(pending)")
        #expect(try JudgementsFile.read(directory: dir + "/run").isEmpty)

        FileManager.default.createFile(atPath: release, contents: Data())
        let (prepared, manifest) = try Preparation.resuming(directory: dir + "/run")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.resuming = manifest
        _ = try await CompareRun.run(prepared, options: options)
        #expect(try server.requests().filter { $0["batch_id"] != nil }.count == 1, "re-attached to the judge's job, not paid for twice")
        #expect(try BatchJobsFile.pending(directory: dir + "/run").isEmpty)
        #expect(try JudgementsFile.read(directory: dir + "/run").count == 15)
    }

    @Test func batchSettingsAreCheckedByPath() throws {
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, provider: "openai", url: "http://127.0.0.1:9/v1")
        let text = try String(contentsOfFile: config, encoding: .utf8)
        for (from, to, path) in [
            ("\"provider\": \"openai\"", "\"provider\": \"builtin\"", "$.models[0].mode"),
            ("\"mode\": \"batch\", ", "", "$.models[0].batch"),
            ("\"poll_seconds\": 0.05", "\"poll_seconds\": -1", "$.models[0].batch.poll_seconds"),
            (", \"batch_output_per_million\": 4", "", "$.models[0].pricing"),
            ("\"mode\": \"batch\"", "\"mode\": \"later\"", "$.models[0].mode"),
            ("\"model\": \"m\"}", "\"model\": \"m\", \"stream\": true}", "$.models[0].mode"),
            ("\"base_url\": \"http://127.0.0.1:9/v1\"", "\"base_url\": \"http://127.0.0.1:{port}/v1\"", "$.models[0].options.base_url"),
        ] {
            let broken = try Fixtures.write(text.replacingOccurrences(of: from, with: to), to: "broken.json", in: dir)
            #expect { _ = try ExperimentLoader.load(path: broken) } throws: { "\($0)".contains(path) }
        }
    }
}
