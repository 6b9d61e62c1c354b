import EvalKit
import Foundation
import Testing

/// A model side with a scripted first attempt: it fails after `failAfterMs`, then answers at once.
/// Stands in for a flaky endpoint; the scheduler under test is evalkit's own.
actor FlakyModel: ModelProvider {
    let failAfterMs: Int
    private var failed: Set<String> = []
    init(failAfterMs: Int) { self.failAfterMs = failAfterMs }
    func start() async throws(ProviderError) {}
    func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        if failed.insert(request.id).inserted {
            try? await Task.sleep(for: .milliseconds(failAfterMs))
            throw .http(status: 503, url: "flaky", message: "busy", retryAfter: nil)
        }
        return ModelResponse(text: "positive")
    }
    func stop() async {}
}

@Suite(.serialized) struct LatencyAndCostTests {
    @Test func endToEndLatencyKeepsTheFailedAttempts() async throws {
        var limits = RequestLimits()
        limits.baseDelaySeconds = 0.001
        let workload = ModelWorkload(modelID: "flaky", provider: FlakyModel(failAfterMs: 300), concurrency: 2,
                                     jobs: (0..<4).map { RunJob(candidateIndex: 0, exampleIndex: $0) }, retry: RetryPolicy(limits))
        let collected = Collected()
        await Scheduler.run([workload], request: { ModelRequest(prompt: RenderedPrompt(system: nil, user: "x"), input: "x", id: "\($0.exampleIndex)") },
                            onCompletions: { await collected.add($0) })
        let completions = await collected.all
        #expect(completions.count == 4)
        for c in completions {
            // The answering attempt was quick; the request as a user saw it took the failed 300 ms too.
            #expect(c.attempts == 2 && c.latencyMs < 250 && c.totalMs >= 300 && c.totalMs >= c.latencyMs)
        }
    }

    /// A worker that takes 3 s to load before it answers, as a real model would.
    static func slowWorker(in dir: String) throws -> String {
        try Fixtures.write("""
        import json, sys, time
        time.sleep(3)
        for line in sys.stdin:
            if not line.strip():
                continue
            r = json.loads(line)
            out = "positive" if "love" in r["input"] else ("negative" if "hate" in r["input"] else "neutral")
            sys.stdout.write(json.dumps({"id": r["id"], "output": out}) + "\\n")
            sys.stdout.flush()
        """, to: "slow_worker.py", in: dir)
    }

    @Test func coldStartIsMeasuredApartAndCandidateOrderChangesNoFigure() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<9).map { i in ("t\(i)", ["I love it \(i)", "I hate it \(i)", "a chair \(i)"][i % 3], ["positive", "negative", "neutral"][i % 3]) }
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        try Fixtures.write("{{input}}", to: "a.txt", in: dir)
        try Fixtures.write("Text: {{input}}", to: "b.txt", in: dir)
        let worker = try Self.slowWorker(in: dir)
        func run(_ order: [String]) async throws -> (CompareOutcome, JSON) {
            let candidates = order.map { "{\"model\": \"worker\", \"prompt\": \"\($0)\"}" }.joined(separator: ", ")
            let config = try Fixtures.write("""
            {"name": "cold", "task": {"labels": ["negative", "neutral", "positive"]},
             "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
             "prompts": [{"id": "a", "user": "a.txt"}, {"id": "b", "user": "b.txt"}],
             "models": [{"id": "worker", "provider": "command", "role": "small", "options": {"argv": ["python3", "\(worker)"]},
                         "pricing": {"model": "dedicated", "per_hour": 0.1}}],
             "candidates": [\(candidates)]}
            """, to: "evalkit.json", in: dir)
            var options = CompareOptions()
            options.outDirectory = dir + "/run-" + order.joined()
            options.cacheMode = .off
            let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
            let manifest = try JSON.parse(try String(contentsOfFile: options.outDirectory! + "/run.json", encoding: .utf8))
            return (outcome, manifest)
        }
        let (first, firstManifest) = try await run(["a", "b"])
        let (second, secondManifest) = try await run(["b", "a"])
        for manifest in [firstManifest, secondManifest] {
            // The 3 s load lands in the warm-up request, recorded in run.json.
            let cold = try #require(manifest["cold_starts"]?.arrayValue?.first)
            #expect(cold["model"]?.stringValue == "worker" && (cold["warmup_ms"]?.numberValue ?? 0) >= 2900)
        }
        for outcome in [first, second] {
            for m in outcome.summary.metrics {
                // No candidate carries the load, whichever came first.
                #expect(m.answered == 9, "\(m.candidate)")
            }
            // The model's first request (the first candidate's first example) is the one a start would land in; had it
            // paid for the load it would have taken at least the 3 s the worker sleeps.
            let firstRequest = try #require(outcome.summary.results.first?.first { $0.exampleID == "1" })
            #expect(firstRequest.latencyMs < 3000 && firstRequest.latencyTotalMs < 3000, "\(firstRequest.latencyMs) ms")
        }
        // Each candidate's cost: one dedicated machine whichever order ran them.
        for id in ["worker:a", "worker:b"] {
            let x = try #require(first.summary.analysis.assessment(id)), y = try #require(second.summary.analysis.assessment(id))
            #expect(x.monthlyCostUSD == 73 && y.monthlyCostUSD == 73)
            // Dedicated pricing probes the model by default; a worker answers one request at a time, so at 1 in flight only.
            #expect(x.monthlyCostBasis.contains("1 instance") && x.capacity?.source == .probe && x.capacity?.concurrency == 1)
        }
        let report = try String(contentsOfFile: dir + "/run-ab/report.md", encoding: .utf8)
        #expect(report.contains("Cold start, measured apart and in no latency figure") && report.contains("worker start"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run-ab") == [])
    }

    @Test func theCapacityProbeFindsTheKneeOfASaturatingServer() async throws {
        // The server works on at most 2 requests at once, 300 ms each: 3.3 requests/s at 1 in flight, 6.7 at 2, no more at 4.
        let server = try await FakeLLMServer(environment: ["FAKE_DELAY_MS": "300", "FAKE_SLOTS": "2"])
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<4).map { i in ("t\(i)", ["I love it \(i)", "I hate it \(i)"][i % 2], ["positive", "negative"][i % 2]) }
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        let config = try Fixtures.write("""
        {"name": "probe", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "local", "provider": "openai", "role": "small", "concurrency": 1,
                     "options": {"base_url": "\(server.baseURL)", "model": "fake"},
                     "pricing": {"model": "dedicated", "per_hour": 1, "peak_factor": 2},
                     "capacity_probe": {"max_concurrency": 16, "requests_per_level": 16}}],
         "decision": {"monthly_requests": 100000000}}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.cacheMode = .off
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let levels = outcome.summary.capacity
        // It doubled the requests in flight while throughput grew and stopped at the first level that added
        // less than 10 % (on a busy machine the server's own overhead can move that to 4 or 8 in flight).
        #expect(levels.count >= 3 && Array(levels.map(\.concurrency).prefix(3)) == [1, 2, 4], "\(levels)")
        let last = try #require(levels.last)
        #expect(last.requestsPerSecond < levels.dropLast().map(\.requestsPerSecond).max()! * CapacityProbe.growth, "\(levels)")
        #expect(levels.allSatisfy { $0.errors == 0 && $0.requests == 16 && $0.candidate == "local:p" })
        let assessment = try #require(outcome.summary.analysis.assessment("local:p"))
        let capacity = try #require(assessment.capacity)
        // The knee: never 1 in flight (a second slot doubles throughput), and no more than the 2 slots serve.
        #expect(capacity.source == .probe && capacity.concurrency >= 2, "\(levels)")
        #expect(capacity.requestsPerSecond > 4.5 && capacity.requestsPerSecond <= 6.8, "\(capacity.requestsPerSecond)")
        // 100M requests a month at twice the average rate is 76.1 requests/s: ⌈76.1 ÷ capacity⌉ machines at $730 a month.
        let machines = (100_000_000 / (730 * 3600) * 2 / capacity.requestsPerSecond).rounded(.up)
        #expect(assessment.monthlyCostUSD == machines * 730)
        // The probe's requests are its own: the accuracy pass's 4 plus 16 a level reached the server (no warm-up for a server evalkit did not start).
        #expect(try server.requests().count == 4 + 16 * levels.count)
        let csv = try String(contentsOfFile: dir + "/run/capacity.csv", encoding: .utf8)
        #expect(csv.hasPrefix("candidate,concurrency,requests,errors,seconds,requests_per_second,p50_ms,p95_ms\n"))
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("Capacity probe:") && report.contains("| local:p | \(capacity.concurrency) ★ | 16 | 0 |"))
        #expect(FileManager.default.fileExists(atPath: dir + "/run/capacity.svg"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
        // Without the probe (--no-probe) the same cost rests on the accuracy pass's estimate, and says so.
        options.outDirectory = dir + "/unprobed"
        options.probeCapacity = false
        let unprobed = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(unprobed.summary.capacity.isEmpty && !FileManager.default.fileExists(atPath: dir + "/unprobed/capacity.csv"))
        #expect(unprobed.summary.analysis.assessment("local:p")?.capacity?.source == .accuracyPass)
        // A damaged capacity.csv is named with its line.
        try Fixtures.write(csv + "local:p,x,1,0,1,1,,\n", to: "run/capacity.csv", in: dir)
        #expect { _ = try RunVerifier.verify(runDirectory: dir + "/run") } throws: {
            "\($0)".contains("capacity.csv") && "\($0)".contains("line \(levels.count + 2)")
        }
    }

    @Test func anUnknownCostIsNeitherCheaperNorCostlierAndTheVerdictSaysSo() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<60).map { i in ("t\(i)", ["I love it \(i)", "I hate it \(i)"][i % 2], ["positive", "negative"][i % 2]) }
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        // Two identical classifiers: the same answers, one priced and one not.
        let config = try Fixtures.write("""
        {"name": "unknown", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "priced", "provider": "builtin", "role": "small", "options": {"epochs": 3, "hash_bits": 12},
                     "pricing": {"model": "serverless", "per_hour": 1}},
                    {"id": "unpriced", "provider": "builtin", "role": "small", "options": {"epochs": 3, "hash_bits": 12}}],
         "decision": {"reference": "unpriced", "margin": 0.1}}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let unpriced = try #require(outcome.summary.analysis.assessment("unpriced"))
        #expect(unpriced.qualifies && unpriced.horizonCostUSD == nil && unpriced.breakEven == .notApplicable)
        #expect(outcome.summary.analysis.verdict == .moveTo(candidate: "priced"))
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("Not weighed on cost: unpriced (") && report.contains("could be cheaper or costlier than priced"))
    }

    @Test(arguments: [true, false]) func streamedAnswersGiveTimeToFirstToken(serverSendsUsage: Bool) async throws {
        // Each streamed word waits 60 ms: "I think it is neutral" arrives over about 300 ms, its first word after 60.
        var environment = ["FAKE_STREAM_GAP_MS": "60"]
        if !serverSendsUsage { environment["FAKE_STREAM_USAGE"] = "0" }
        let server = try await FakeLLMServer(environment: environment)
        let dir = try Fixtures.temporaryDirectory()
        let rows = (0..<4).map { i in ("t\(i)", ["I love it \(i)", "a chair \(i)"][i % 2], ["positive", "neutral"][i % 2]) }
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        let config = try Fixtures.write("""
        {"name": "stream", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "chat", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "fake", "stream": true}},
                    {"id": "raw", "provider": "openai", "role": "small",
                     "options": {"base_url": "\(server.baseURL)", "model": "fake", "endpoint": "completions", "stream": true}}]}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.cacheMode = .off
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        for column in outcome.summary.results {
            for r in column {
                // The text is put together from the stream and read as usual.
                #expect(r.answered && r.correct, "\(r.candidate) \(r.exampleID): \(r.output ?? r.error ?? "")")
                let ttft = try #require(r.timeToFirstTokenMs)
                #expect(ttft >= 50 && ttft <= r.latencyMs, "\(ttft) of \(r.latencyMs) ms")
                // Usage when the stream carries it (one token a word here), estimated and marked when it does not.
                #expect(r.tokensEstimated == !serverSendsUsage)
                if r.target == "neutral" {
                    if serverSendsUsage { #expect(r.outputTokens == 5) }
                    // 4 tokens after the first over about 240 ms: some 17 a second (from 5 estimated tokens without usage),
                    // fewer or more on a busy machine, where the words can arrive late or in a burst; a stream read in one
                    // piece has no time between its first text and its end, so no rate rather than an infinite one.
                    if let rate = r.outputTokensPerSecond { #expect(rate > 1 && rate < 1000, "\(rate)") }
                }
            }
        }
        // On a quiet machine the words arrive as they are sent, and the rate is measured.
        #expect(outcome.summary.results.joined().contains { $0.outputTokensPerSecond != nil })
        let m = try #require(outcome.summary.metrics.first)
        #expect(m.streamedAnswers == 4 && (m.timeToFirstTokenP50Ms ?? 0) >= 50)
        let sent = try server.requests()
        #expect(sent.allSatisfy { $0["body"]?["stream"]?.boolValue == true && $0["body"]?["stream_options"]?["include_usage"]?.boolValue == true })
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("Streamed answers (`\"stream\": true`): chat:p time to first token p50"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
    }

    /// A stream that breaks: an event that is not JSON, a body cut short. Each is that request's recorded
    /// failure, with what went wrong; the other answers are scored and the run verifies.
    @Test func aBrokenStreamIsARecordedFailure() async throws {
        let server = try await FakeLLMServer(environment: ["FAKE_STREAM_GAP_MS": "1"])
        let dir = try Fixtures.temporaryDirectory()
        let rows = [("t0", "I love it BADSTREAM", "positive"), ("t1", "I love it CUTSTREAM", "positive"), ("t2", "I love it", "positive"),
                    ("t3", "a chair", "neutral")]
        try Fixtures.writeSplitsAndPrompt(rows, in: dir)
        let config = try Fixtures.write("""
        {"name": "broken-stream", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "chat", "provider": "openai", "role": "foundation", "retry": {"max_attempts": 1},
                     "options": {"base_url": "\(server.baseURL)", "model": "fake", "stream": true}}]}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.cacheMode = .off
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let results = Dictionary(uniqueKeysWithValues: try #require(outcome.summary.results.first).map { ($0.exampleID, $0) })
        let bad = try #require(results["1"]), cut = try #require(results["2"])
        #expect(!bad.answered && bad.output == nil && bad.score == 0)
        #expect(bad.error?.contains("JSON") == true, "\(bad.error ?? "")")
        #expect(!cut.answered && cut.output == nil && cut.error != nil, "\(cut.output ?? "")")
        #expect(results["3"]?.correct == true && results["4"]?.correct == true)
        #expect(outcome.summary.metrics.first?.errors == 2)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
    }
}
