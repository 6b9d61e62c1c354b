import EvalKit
import Foundation
import Testing

/// The gate across environments: fingerprints recorded by real runs against a local server whose
/// speed, answers and reported build the test sets, and the same-machine comparison of two experiments.
@Suite(.serialized) struct EnvironmentGateTests {
    /// 45 test tweets: a third each love (positive), hate (negative) and neither (neutral).
    @discardableResult
    static func writeExperiment(in dir: String, serverURL: String, prompt: String = "Text: {{input}}\nSentiment:") throws -> String {
        var rows: [(String, String, String)] = []
        for i in 0..<45 {
            rows.append(("t\(i)", ["I love it, number \(i)", "I hate it, number \(i)", "a table, number \(i)"][i % 3], ["positive", "negative", "neutral"][i % 3]))
        }
        try Fixtures.write(Fixtures.jsonl(rows), to: "data/test.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl(Array(rows.prefix(9)).map { ("tr" + $0.0, $0.1, $0.2) }), to: "data/train.jsonl", in: dir)
        try Fixtures.write(prompt, to: "prompts/plain.txt", in: dir)
        return try Fixtures.write("""
        {
          "name": "env",
          "task": {"labels": ["negative", "neutral", "positive"]},
          "dataset": {"train": "data/train.jsonl", "test": "data/test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
          "prompts": [{"id": "plain", "user": "prompts/plain.txt"}],
          "models": [
            {"id": "local", "provider": "openai", "role": "foundation",
             "options": {"base_url": "\(serverURL)", "model": "fake", "endpoint": "completions"},
             "pricing": {"per_hour": 3.6, "source": "test price", "date": "2026-12-01"}, "concurrency": 2}
          ],
          "candidates": [{"model": "local", "prompt": "plain"}]
        }
        """, to: "evalkit.json", in: dir)
    }

    static func run(_ config: String, into out: String, cache: ResponseCache.Mode = .off, cacheDirectory: String? = nil) async throws -> RunFolder {
        var options = CompareOptions()
        options.outDirectory = out
        options.cacheMode = cache
        options.cacheDirectory = cacheDirectory
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        return try RunFolder.load(out)
    }

    static func check(_ current: RunFolder, _ baseline: RunFolder) throws -> CheckReport {
        try RegressionCheck.check(current: current, baseline: baseline, policy: CheckPolicy())
    }

    func row(_ report: CheckReport, _ metric: String) -> CheckRow? { report.rows.first { $0.metric == metric } }

    @Test func everyRunRecordsItsEnvironment() async throws {
        let server = try await FakeLLMServer(environment: ["FAKE_FINGERPRINT": "b4242-cpu"])
        let dir = try Fixtures.temporaryDirectory()
        let run = try await Self.run(try Self.writeExperiment(in: dir, serverURL: server.baseURL), into: dir + "/run")
        let environment = try #require(run.environment)
        #expect(environment.machine.logicalCores == ProcessInfo.processInfo.activeProcessorCount)
        #expect(!environment.machine.cpuModel.isEmpty && !environment.machine.architecture.isEmpty)
        let model = try #require(environment.model("local"))
        #expect(model.placement == .local)
        #expect(model.systemFingerprints == ["b4242-cpu"])
        #expect(environment.definition("local:plain")?.count == 64)
        // The record reads back from run.json exactly as written.
        let manifest = try JSON.parse(String(contentsOfFile: dir + "/run/run.json", encoding: .utf8))
        #expect(try RunEnvironment(json: try #require(manifest["environment"])) == environment)
    }

    @Test func aSlowerServerWithTheSameAnswersIsInformationNotAFailure() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let fast = try await FakeLLMServer(environment: ["FAKE_FINGERPRINT": "build-a"])
        let baseline = try await Self.run(try Self.writeExperiment(in: dir, serverURL: fast.baseURL), into: dir + "/base")
        await fast.stop()
        // Another build, 300 ms a request: many times slower than the loopback baseline even when a loaded
        // machine slows the baseline's own answers to tens of milliseconds (at 40 ms it was not, twice in six runs under busy loops).
        let slow = try await FakeLLMServer(environment: ["FAKE_FINGERPRINT": "build-b", "FAKE_DELAY_MS": "300"])
        let current = try await Self.run(try Self.writeExperiment(in: dir, serverURL: slow.baseURL), into: dir + "/now")
        let report = try Self.check(current, baseline)
        #expect(report.passed, "\(report.table)")
        let latency = try #require(row(report, "latency"))
        #expect(latency.verdict == .info)
        #expect(latency.detail.hasPrefix(RegressionCheck.environmentNote) && latency.detail.contains("would fail"), "\(latency.detail)")
        #expect(latency.detail.contains("build-b") && latency.detail.contains("sign test"))
        #expect(row(report, "cost per 1k (USD)")?.verdict == .info)
        #expect(row(report, "accuracy")?.verdict == .pass)
        #expect(report.headline.contains("environments differ"))
        #expect(report.environmentSummary.contains("--against-ref"))

        // The same slowdown with the same build is a regression.
        let sameBuild = try await FakeLLMServer(environment: ["FAKE_FINGERPRINT": "build-a", "FAKE_DELAY_MS": "300"])
        let slowed = try await Self.run(try Self.writeExperiment(in: dir, serverURL: sameBuild.baseURL), into: dir + "/slowed")
        let gated = try Self.check(slowed, baseline)
        #expect(!gated.passed)
        #expect(row(gated, "latency")?.verdict == .fail)
    }

    @Test func changedAnswersFromAChangedBuildAreTheEnvironmentNotARegression() async throws {
        let dir = try Fixtures.temporaryDirectory()
        // One port for every server, so the experiment file is the same for all three runs.
        let port = closedPort()
        let config = try Self.writeExperiment(in: dir, serverURL: "http://127.0.0.1:\(port)/v1")
        func serve(_ environment: [String: String]) async throws -> FakeLLMServer {
            try await FakeLLMServer(arguments: [String(port)], environment: environment)
        }
        let original = try await serve(["FAKE_FINGERPRINT": "build-a"])
        let baseline = try await Self.run(config, into: dir + "/base")
        await original.stop()
        // The new build answers positive for negative and back: accuracy falls from 100% to 33%.
        let rebuilt = try await serve(["FAKE_FINGERPRINT": "build-b", "FAKE_SWAP": "1"])
        let current = try await Self.run(config, into: dir + "/now")
        await rebuilt.stop()
        let report = try Self.check(current, baseline)
        let accuracy = try #require(row(report, "accuracy"))
        #expect(accuracy.verdict == .info, "\(accuracy.detail)")
        #expect(accuracy.detail.contains("environment changed") && accuracy.detail.contains("would fail"))
        #expect(accuracy.detail.contains("definition is unchanged"))
        #expect(report.passed)

        // The same changed answers with an unchanged build: a real regression.
        let sameBuild = try await serve(["FAKE_FINGERPRINT": "build-a", "FAKE_SWAP": "1"])
        let swapped = try await Self.run(config, into: dir + "/swapped")
        await sameBuild.stop()
        let gated = try Self.check(swapped, baseline)
        #expect(row(gated, "accuracy")?.verdict == .fail)
        #expect(!gated.passed)
    }

    @Test func aChangedPromptIsGatedEvenWhenTheBuildChanged() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let a = try await FakeLLMServer(environment: ["FAKE_FINGERPRINT": "build-a"])
        let baseline = try await Self.run(try Self.writeExperiment(in: dir + "/a", serverURL: a.baseURL), into: dir + "/base")
        let b = try await FakeLLMServer(environment: ["FAKE_FINGERPRINT": "build-b"])
        // The worse prompt ends with an instruction, so the server never sees the text last: always neutral.
        let current = try await Self.run(try Self.writeExperiment(in: dir + "/b", serverURL: b.baseURL,
                                                                   prompt: "Text: {{input}}\n\nAnswer with one word.\nSentiment:"), into: dir + "/now")
        let report = try Self.check(current, baseline)
        let accuracy = try #require(row(report, "accuracy"))
        #expect(accuracy.verdict == .fail)
        #expect(accuracy.detail.contains("the environment differs too"))
    }

    @Test func againstConfigComparesTwoExperimentsOnThisMachine() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let good = try Self.writeExperiment(in: dir + "/main", serverURL: server.baseURL)
        let worse = try Self.writeExperiment(in: dir + "/branch", serverURL: server.baseURL,
                                             prompt: "Text: {{input}}\n\nAnswer with one word.\nSentiment:")
        let cache = dir + "/cache"
        let current = try await Self.run(worse, into: dir + "/run", cache: .use, cacheDirectory: cache)
        let base = try await BaselineRerun.run(current: current, source: .config(path: good), outDirectory: dir + "/run-baseline", cacheDirectory: cache)
        let report = try Self.check(current, try RunFolder.load(base))
        #expect(report.environment.identical)
        #expect(!report.passed)
        let accuracy = try #require(row(report, "accuracy"))
        #expect(accuracy.verdict == .fail && accuracy.detail.contains("exact McNemar on 45 shared examples: 30 now wrong"), "\(accuracy.detail)")

        // The same experiment against itself passes, and its answers come from the run's own cache entries.
        let sent = try server.requests().count
        let same = try await BaselineRerun.run(current: current, source: .config(path: worse), outDirectory: dir + "/same", cacheDirectory: cache)
        #expect(try server.requests().count == sent)
        #expect(try Self.check(current, try RunFolder.load(same)).passed)
    }

    @Test func againstRefEvaluatesTheCommittedExperiment() async throws {
        let server = try await FakeLLMServer()
        let repo = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: repo, serverURL: server.baseURL)
        try Fixtures.write(".evalkit/\nrun*/\n", to: ".gitignore", in: repo)
        for command in [["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"]] {
            let outcome = try Subprocess.run(["git", "-C", repo] + command, in: repo)
            #expect(outcome.succeeded, "git \(command): \(outcome.errorOutput)")
        }
        // The branch drops the input from the end of the prompt (a worse prompt), uncommitted.
        try Fixtures.write("Text: {{input}}\n\nAnswer with one word.\nSentiment:", to: "prompts/plain.txt", in: repo)
        let current = try await Self.run(config, into: repo + "/run", cache: .use, cacheDirectory: repo + "/.evalkit/cache")
        let base = try await BaselineRerun.run(current: current, source: .gitReference("HEAD", configPath: "evalkit.json"), outDirectory: repo + "/run-baseline")
        let report = try Self.check(current, try RunFolder.load(base))
        #expect(row(report, "accuracy")?.verdict == .fail)
        // The committed prompt was the one evaluated, from a tree that no longer exists.
        let baseResults = try #require(try RunFolder.load(base).resultsByCandidateID?["local:plain"])
        #expect(baseResults.count == 45 && baseResults.filter { $0.correct }.count == 45)

        await #expect(throws: BaselineRerunError.self) {
            _ = try await BaselineRerun.run(current: current, source: .gitReference("no-such-ref", configPath: nil), outDirectory: repo + "/x")
        }
    }

    @Test func aChangedModelFileMissesTheCache() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let worker = try Fixtures.write(try String(contentsOfFile: Fixtures.repositoryRoot + "/scripts/example-worker.py", encoding: .utf8),
                                        to: "worker.py", in: dir)
        try Fixtures.write(Fixtures.jsonl([("t1", "I love it", "positive"), ("t2", "I hate it", "negative")]), to: "test.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("r1", "fine", "neutral")]), to: "train.jsonl", in: dir)
        try Fixtures.write("{{input}}", to: "p.txt", in: dir)
        let config = try Fixtures.write("""
        {"name": "salt", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "w", "provider": "command", "role": "small", "options": {"argv": ["python3", "worker.py"]}}]}
        """, to: "evalkit.json", in: dir)
        let first = try await Self.run(config, into: dir + "/one", cache: .use, cacheDirectory: dir + "/cache")
        #expect(first.summary.first?.number("cached_answers") == 0)
        let again = try await Self.run(config, into: dir + "/two", cache: .use, cacheDirectory: dir + "/cache")
        #expect(again.summary.first?.number("cached_answers") == 2)
        // The worker's script changed (a retrained model behind the same path): its answers are asked again.
        try (String(contentsOfFile: worker, encoding: .utf8) + "\n# retrained\n").write(toFile: worker, atomically: true, encoding: .utf8)
        let changed = try await Self.run(config, into: dir + "/three", cache: .use, cacheDirectory: dir + "/cache")
        #expect(changed.summary.first?.number("cached_answers") == 0)
        #expect(changed.environment?.model("w")?.files.map(\.path) == ["worker.py"])
    }

    @Test func identifyRecordsTheServerBuild() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let port = closedPort()
        try Self.writeExperiment(in: dir, serverURL: "http://127.0.0.1:\(port)/v1")
        let server = """
        "server": {"command": ["python3", "\(Fixtures.fixturesDirectory)/fake_llm_server.py", "requests.jsonl", "\(port)"],
                   "ready_url": "http://127.0.0.1:\(port)/v1/models",
                   "identify": ["python3", "-c", "print('fake-server 1.2.3'); print('AVX2 = 1')"]},
        """
        let text = try String(contentsOfFile: dir + "/evalkit.json", encoding: .utf8)
            .replacingOccurrences(of: "\"concurrency\": 2}", with: "\"concurrency\": 2, \(server.dropLast())}")
        let config = try Fixtures.write(text, to: "evalkit.json", in: dir)
        let run = try await Self.run(config, into: dir + "/run")
        let model = try #require(run.environment?.model("local"))
        #expect(model.build == "fake-server 1.2.3\nAVX2 = 1")
        #expect(model.placement == .local)
        // The log file the server writes did not exist yet; the script it runs did.
        #expect(model.files.map(\.path) == ["\(Fixtures.fixturesDirectory)/fake_llm_server.py"])

        // "files" names the model's files instead; one that is missing is a config problem.
        try Fixtures.write("weights", to: "weights.bin", in: dir)
        let listed = try Fixtures.write(text.replacingOccurrences(of: "\"concurrency\": 2,", with: "\"concurrency\": 2, \"files\": [\"weights.bin\"],"),
                                        to: "evalkit.json", in: dir)
        let second = try await Self.run(listed, into: dir + "/run2")
        #expect(second.environment?.model("local")?.files == [FileDigest(path: "weights.bin", bytes: 7, sha256: SHA256.hex("weights"))])
        try FileManager.default.removeItem(atPath: dir + "/weights.bin")
        #expect {
            _ = try Preparation.prepare(configPath: listed)
        } throws: { "\($0)".contains("$.models[0].files[0]: no file at") }
    }

    @Test func machineDifferencesLeaveLatencyAndLocalAnswersUngated() throws {
        let dir = try Fixtures.temporaryDirectory()
        let xeon = GateTests.environment(cpu: "Intel Xeon", instructionSets: ["avx2", "avx512f"])
        let base = try GateTests.writeRun(dir, id: "base", answers: [.init(candidate: "big:p", n: 200) { $0 % 10 != 0 }, .init(candidate: "small:p", n: 200) { _ in true }],
                                          environment: xeon)
        let answers: [GateTests.Answers] = [.init(candidate: "big:p", n: 200, latency: 400) { $0 % 2 == 0 }, .init(candidate: "small:p", n: 200) { _ in true }]
        let epyc = try GateTests.writeRun(dir, id: "epyc", answers: answers, environment: GateTests.environment(cpu: "AMD EPYC", instructionSets: ["avx2"]))
        let report = try RegressionCheck.check(current: try RunFolder.load(epyc), baseline: try RunFolder.load(base), policy: CheckPolicy())
        #expect(report.passed, "\(report.table)")
        let accuracy = try #require(report.rows.first { $0.candidate == "big:p" && $0.metric == "accuracy" })
        #expect(accuracy.verdict == .info && accuracy.detail.contains("CPU Intel Xeon → AMD EPYC") && accuracy.detail.contains("−avx512f"))
        #expect(report.rows.first { $0.candidate == "big:p" && $0.metric == "latency" }?.verdict == .info)
        #expect(report.environment.lines.contains { $0.contains("AMD EPYC") })
        #expect(report.markdown.contains("### Environment"))

        // On the baseline's machine the same numbers fail.
        let same = try GateTests.writeRun(dir, id: "same", answers: answers, environment: xeon)
        let gated = try RegressionCheck.check(current: try RunFolder.load(same), baseline: try RunFolder.load(base), policy: CheckPolicy())
        #expect(gated.rows.first { $0.candidate == "big:p" && $0.metric == "accuracy" }?.verdict == .fail)
        #expect(gated.rows.first { $0.candidate == "big:p" && $0.metric == "latency" }?.verdict == .fail)
        #expect(gated.environment.identical)

        // A baseline from before environments were recorded counts as another environment.
        let old = try GateTests.writeRun(dir, id: "old", answers: [.init(candidate: "big:p", n: 200) { $0 % 10 != 0 }, .init(candidate: "small:p", n: 200) { _ in true }],
                                         environment: nil)
        let unknown = try RegressionCheck.check(current: try RunFolder.load(same), baseline: try RunFolder.load(old), policy: CheckPolicy())
        #expect(unknown.passed)
        #expect(unknown.rows.first { $0.candidate == "big:p" && $0.metric == "accuracy" }?.detail.contains("records no environment") == true)
    }

    @Test func aNewerEnvironmentSchemaIsRefusedByName() throws {
        let json = try JSON.parse("{\"schema\": 99, \"machine\": {}}")
        #expect(throws: RunEnvironment.ReadError.newerSchema(99)) { try RunEnvironment(json: json) }
        #expect(RunEnvironment.ReadError.newerSchema(99).description.contains("newer than this evalkit reads"))
        #expect(throws: RunEnvironment.ReadError.self) { try RunEnvironment(json: JSON.parse("{\"schema\": 1.5}")) }
    }

    @Test func cpuInfoIsReadForModelAndInstructionSets() {
        let x86 = MachineFingerprint.parseCPUInfo("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma rdrand\n\nprocessor\t: 1\nmodel name\t: other\n")
        #expect(x86.model == "AMD EPYC 7B13" && x86.flags == ["avx", "avx2", "fma", "sse4_2"])
        let arm = MachineFingerprint.parseCPUInfo("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve i8mm\nCPU part\t: 0xd40\n")
        #expect(arm.model == nil && arm.flags == ["asimd", "asimddp", "i8mm", "sve"])
    }
}
