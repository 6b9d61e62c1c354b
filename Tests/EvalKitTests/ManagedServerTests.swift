import EvalKit
import Foundation
import Testing

/// Servers evalkit starts itself: readiness, failures with their log, and no process left behind.
@Suite(.serialized) struct ManagedServerTests {
    /// A config whose one model is served by `command` (run through sh, which records its PID in `pid`).
    static func writeExperiment(in dir: String, port: Int, command: String, timeout: Double = 20, n: Int = 6) throws -> String {
        try Fixtures.write(Fixtures.jsonl([("a", "I love it", "positive"), ("b", "I hate it", "negative"), ("c", "a thing", "neutral")]),
                           to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl((0..<n).map { ("t\($0)", ["I love it", "I hate it", "a thing"][$0 % 3] + " \($0)", ["positive", "negative", "neutral"][$0 % 3]) }),
                           to: "test.jsonl", in: dir)
        try Fixtures.write("Text: {{input}}\nSentiment:", to: "p.txt", in: dir)
        let shell = "echo $$ > \(dir)/pid; exec \(command)"
        return try Fixtures.write("""
        {"name": "served", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "local", "provider": "openai", "role": "small",
                     "options": {"base_url": "http://127.0.0.1:\(port)/v1", "model": "m", "timeout_seconds": 5},
                     "server": {"command": ["sh", "-c", \(JSON.string(shell).encoded())], "ready_url": "http://127.0.0.1:\(port)/v1/models",
                                "startup_timeout_seconds": \(timeout)}}]}
        """, to: "evalkit.json", in: dir)
    }

    /// Starts `evalkit compare` on a managed fault server and waits for its first result; returns the
    /// evalkit process and the server's PID.
    static func compareUntilFirstResult(in dir: String, port: Int, extra: [String] = []) async throws -> (TestProcess, Int32) {
        _ = try writeExperiment(in: dir, port: port, command: "python3 \(Fixtures.fixturesDirectory)/fault_server.py \(dir)/log.jsonl 0.3 \(port)", n: 60)
        let process = try TestProcess.evalkit(["compare", "--no-cache", "--out", "run"] + extra, in: dir, discardOutput: true)
        await eventually { !((try? String(contentsOfFile: dir + "/run/results.jsonl", encoding: .utf8)) ?? "").isEmpty }
        return (process, try serverPID(dir))
    }

    static func serverPID(_ dir: String) throws -> Int32 {
        let text = try String(contentsOfFile: dir + "/pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(Int32(text))
    }

    /// True while the process runs; a zombie (killed, waiting to be reaped by init) counts as gone.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        return state != "Z"
    }

    @Test func theServerStartsWhenNeededAnswersAndIsStoppedAtTheEnd() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let port = closedPort()
        let config = try Self.writeExperiment(in: dir, port: port,
                                              command: "python3 \(Fixtures.fixturesDirectory)/fake_llm_server.py \(dir)/requests.jsonl \(port)")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(!outcome.failed)
        #expect(outcome.summary.metrics[0].answered == 6)
        let pid = try Self.serverPID(dir)
        #expect(!Self.isAlive(pid), "the managed server \(pid) outlived the run")
    }

    @Test func aServerThatNeverGetsReadyFailsWithItsLogAndIsKilled() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, port: closedPort(), command: "python3 -c \"import time; print('loading weights 12%', flush=True); time.sleep(60)\"",
                                              timeout: 1.5)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let failure = try #require(outcome.summary.modelFailures.first)
        #expect(failure.reason.contains("was not ready at http://127.0.0.1:") && failure.reason.contains("within 1.5 s"))
        #expect(failure.reason.contains("loading weights 12%"))
        #expect(outcome.failed)
        #expect(!Self.isAlive(try Self.serverPID(dir)))
    }

    @Test func aPortAnotherServerAnswersOnIsRefusedNotUsed() async throws {
        // Another run's server already listens where this one's would: its answers must not pass for this model's.
        let other = try await FakeLLMServer()
        defer { Task { await other.stop() } }
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, port: other.port,
                                              command: "python3 \(Fixtures.fixturesDirectory)/fake_llm_server.py \(dir)/requests.jsonl \(other.port)")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let failure = try #require(outcome.summary.modelFailures.first)
        #expect(failure.reason.contains("something already answered at http://127.0.0.1:\(other.port)/v1/models"), "\(failure.reason)")
        #expect(outcome.summary.metrics[0].answered == 0)
        #expect(try other.requests().filter { ($0["path"]?.stringValue ?? "").contains("completions") }.isEmpty, "no request went to the other server")
        #expect(!FileManager.default.fileExists(atPath: dir + "/pid"), "its own server was never started")
    }

    @Test func aServerThatExitsReportsItsStatusAndLastLines() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, port: closedPort(), command: "sh -c 'echo error: model file not found >&2; exit 4'")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let failure = try #require(outcome.summary.modelFailures.first)
        #expect(failure.reason.contains("exited with status 4 before it was ready"))
        #expect(failure.reason.contains("error: model file not found"))
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.count == 6 && results.allSatisfy { $0.error?.contains("exited with status 4") == true })
    }

    @Test func interruptingARunStopsItsServerOnceAndTwice() async throws {
        for signals in [1, 2] {
            let dir = try Fixtures.temporaryDirectory()
            let port = closedPort()
            let (process, pid) = try await Self.compareUntilFirstResult(in: dir, port: port, extra: ["--concurrency", "2"])
            #expect(Self.isAlive(pid))
            for _ in 0..<signals {
                process.signal(SIGINT)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await process.finished() == (signals == 1 ? 3 : 130))
            await eventually(within: 1) { !Self.isAlive(pid) }
            #expect(!Self.isAlive(pid), "the managed server outlived an interrupt with \(signals) signal(s)")
        }
    }

    @Test func aServerDoesNotOutliveAnEvalkitThatIsKilled() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let port = closedPort()
        let (process, pid) = try await Self.compareUntilFirstResult(in: dir, port: port)
        #expect(Self.isAlive(pid))
        // SIGKILL: evalkit runs no code of its own after it, as in a crash.
        process.signal(SIGKILL)
        _ = await process.finished()
        await eventually(within: 5) { !Self.isAlive(pid) }
        #expect(!Self.isAlive(pid), "the managed server outlived a killed evalkit")
    }

    /// `replicas: 2`: two servers on ports evalkit chooses ({port}), requests on both, both stopped at the end;
    /// a second run starts them on other ports and takes every answer from the cache.
    @Test func replicasStartOnFreePortsShareTheWorkAndStop() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt((0..<12).map { ("t\($0)", ["great news", "awful service", "a plain day"][$0 % 3], ["positive", "negative", "neutral"][$0 % 3]) },
                                          in: dir)
        let shell = "echo $$ >> \(dir)/pids; exec python3 \(Fixtures.fixturesDirectory)/fake_llm_server.py \(dir)/log-$0.jsonl $0"
        let config = try Fixtures.write("""
        {"name": "replicas", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "concurrency": 2,
                     "options": {"base_url": "http://127.0.0.1:{port}/v1", "model": "m", "timeout_seconds": 10},
                     "server": {"command": ["sh", "-c", \(JSON.string(shell).encoded()), "{port}"], "ready_url": "http://127.0.0.1:{port}/v1/models",
                                "replicas": 2, "startup_timeout_seconds": 30}}]}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(outcome.summary.metrics.first?.answered == 12, "\(outcome.summary.modelFailures)")
        let replicas = Set(try ResultsJournal.read(path: dir + "/run/results.jsonl").compactMap(\.replica))
        #expect(replicas.count == 2 && replicas.allSatisfy { $0.hasPrefix("http://127.0.0.1:") && !$0.contains("{port}") })
        let logs = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("log-") }
        #expect(logs.count == 2)
        let pids = try String(contentsOfFile: dir + "/pids", encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 2)
        for pid in pids { #expect(!Self.isAlive(pid), "server \(pid) outlived the run") }

        options.outDirectory = dir + "/again"
        let again = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(again.summary.metrics.first?.cachedAnswers == 12, "cache keys do not depend on the ports chosen")

        // Several servers need {port} where each takes its port, and in the URL the model is reached at.
        for (from, to, path) in [("\"{port}\"]", "\"8080\"]", "$.models[0].server.command"),
                                 ("\"http://127.0.0.1:{port}/v1/models\"", "\"http://127.0.0.1:8080/v1/models\"", "$.models[0].server.ready_url"),
                                 ("\"http://127.0.0.1:{port}/v1\"", "\"http://127.0.0.1:8080/v1\"", "$.models[0].options.base_url")] {
            let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: from, with: to)
            let broken = try Fixtures.write(text, to: "broken.json", in: dir)
            #expect { _ = try ExperimentLoader.load(path: broken) } throws: { "\($0)".contains(path) && "\($0)".contains("{port}") }
        }
    }

    /// Several models on one server (one base model with adapters chosen per request): started once for all
    /// of them, whether they run side by side or one after another, stopped after the last; each model's
    /// `extra_body` in its requests and in its cache keys; likelihood read from llama.cpp's own layout.
    @Test(arguments: [false, true]) func modelsSharingAServerStartItOnceAndEachSendsItsOwnBody(sequential: Bool) async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt((0..<9).map { ("t\($0)", ["great news", "awful service", "a plain day"][$0 % 3], ["positive", "negative", "neutral"][$0 % 3]) },
                                          in: dir)
        let shell = "echo $$ >> \(dir)/pids; FAKE_LOGPROBS_LAYOUT=content exec python3 \(Fixtures.fixturesDirectory)/fake_llm_server.py \(dir)/log.jsonl $0"
        let server = #"{"command": ["sh", "-c", \#(JSON.string(shell).encoded()), "{port}"], "ready_url": "http://127.0.0.1:{port}/v1/models", "shared": true, "startup_timeout_seconds": 30}"#
        func model(_ id: String, adapter: Int) -> String {
            #"{"id": "\#(id)", "provider": "openai", "role": "fine-tuned", "server": \#(server), "options": {"base_url": "http://127.0.0.1:{port}/v1", "model": "m", "endpoint": "completions", "scoring": "likelihood", "extra_body": {"lora": [{"id": \#(adapter), "scale": 1}]}}}"#
        }
        let config = try Fixtures.write("""
        {"name": "shared", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}], "run": {"sequential_models": \(sequential)},
         "models": [\(model("a0", adapter: 0)), \(model("a1", adapter: 1)), \(model("a2", adapter: 2))]}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.probeCapacity = false
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(outcome.summary.metrics.map(\.answered) == [9, 9, 9], "\(outcome.summary.modelFailures)")
        #expect(outcome.summary.metrics.map(\.correct) == [9, 9, 9], "llama.cpp's logprobs layout read as the keyword answers")
        let pids = try String(contentsOfFile: dir + "/pids", encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 1, "one server for the three models")
        for pid in pids { #expect(!Self.isAlive(pid), "the shared server outlived the run") }
        let requests = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
            .filter { $0["path"]?.stringValue?.hasSuffix("/completions") == true }
        let adapters = requests.compactMap { $0["body"]?["lora"]?.arrayValue?.first?["id"]?.intValue }
        // Each model's 9 answers and the warm-up request a model on a managed server sends first.
        #expect(requests.count == 30 && adapters.count == 30 && [0, 1, 2].allSatisfy { id in adapters.filter { $0 == id }.count == 10 })

        // Another adapter for one model: only its answers are asked again.
        try Fixtures.write(String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: #""id": 2, "scale": 1"#, with: #""id": 3, "scale": 1"#),
                           to: "evalkit.json", in: dir)
        options.outDirectory = dir + "/again"
        let again = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(again.summary.metrics.map(\.cachedAnswers) == [9, 9, 0])
    }

    @Test func anExtraBodyMayNotSetWhatEvalkitSets() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt([("a", "x", "positive")], in: dir)
        let config = try Fixtures.write("""
        {"name": "extra", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m", "extra_body": {"max_tokens": 900, "lora": []}}},
                    {"id": "n", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m", "extra_body": [1]}}]}
        """, to: "evalkit.json", in: dir)
        #expect { _ = try ExperimentLoader.load(path: config) } throws: { error in
            let text = "\(error)"
            return text.contains("$.models[0].options.extra_body.max_tokens") && text.contains("$.models[1].options.extra_body") && !text.contains("lora")
        }
    }
}
