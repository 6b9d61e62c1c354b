import EvalKit
import Foundation
import Testing

/// The API providers against a real HTTP server on 127.0.0.1, and the command provider against a real worker.
@Suite(.serialized) struct ProviderTests {
    let prompt = RenderedPrompt(system: "You classify tweets.", user: "Tweet: I love this\nSentiment:")

    func openAI(_ server: FakeLLMServer, endpoint: OpenAIEndpoint = .chat, keyEnv: String? = nil) -> OpenAIProvider {
        OpenAIProvider(settings: OpenAISettings(baseURL: server.baseURL, model: "fake-model", apiKeyEnv: keyEnv, endpoint: endpoint,
                                                generation: GenerationSettings(temperature: 0, maxTokens: 5, stop: ["\n"], seed: 7),
                                                timeoutSeconds: 30), concurrency: 2)
    }

    @Test func openAIChatSendsMessagesAndReadsUsage() async throws {
        let server = try await FakeLLMServer()
        setenv("EVALKIT_TEST_KEY", "sk-test-secret-123", 1)
        let provider = openAI(server, keyEnv: "EVALKIT_TEST_KEY")
        try await provider.start()
        let response = try await provider.complete(ModelRequest(prompt: prompt, input: "I love this", id: "r1"))
        #expect(response.text == "Positive.")
        #expect(response.inputTokens == 5 && response.outputTokens == 2)
        let sent = try #require(try server.requests().last)
        #expect(sent["path"]?.stringValue == "/v1/chat/completions")
        #expect(sent["authorization"]?.stringValue == "Bearer sk-test-secret-123")
        let body = try #require(sent["body"])
        #expect(body["model"]?.stringValue == "fake-model")
        #expect(body["messages"]?.arrayValue?.map { $0["role"]?.stringValue ?? "" } == ["system", "user"])
        #expect(body["temperature"]?.numberValue == 0 && body["max_tokens"]?.numberValue == 5 && body["seed"]?.numberValue == 7)
        #expect(body["stop"] == .array([.string("\n")]))
        await provider.stop()
    }

    @Test func openAICompletionsSendsOneRawPrompt() async throws {
        let server = try await FakeLLMServer()
        let provider = openAI(server, endpoint: .completions)
        let response = try await provider.complete(ModelRequest(prompt: prompt, input: "I love this", id: "r1"))
        #expect(response.text == " Positive.")
        let body = try #require(try server.requests().last?["body"])
        #expect(body["prompt"]?.stringValue == "You classify tweets.\n\nTweet: I love this\nSentiment:")
        #expect(body["messages"] == nil)
    }

    @Test func openAIFailuresAreTypedErrors() async throws {
        let server = try await FakeLLMServer()
        let provider = openAI(server)
        func failure(_ text: String) async -> ProviderError? {
            do {
                _ = try await provider.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: text), input: text, id: "x"))
                return nil
            } catch { return error }
        }
        let serverError = await failure("FAIL500")
        #expect(serverError == .http(status: 500, url: server.baseURL + "/chat/completions", message: "injected server error"))
        #expect(serverError?.isRetryable == true)
        let notJSON = await failure("NOJSON")
        #expect(notJSON?.description.contains("the body is not JSON") == true)
        let noChoices = await failure("NOCHOICES")
        #expect(noChoices?.description.contains("no \"choices\"") == true)
    }

    @Test func unreachableServerAndMissingKeyFailAtStart() async throws {
        let url = "http://127.0.0.1:\(closedPort())/v1"
        let provider = OpenAIProvider(settings: OpenAISettings(baseURL: url, model: "m", apiKeyEnv: nil, endpoint: .chat,
                                                               generation: GenerationSettings(), timeoutSeconds: 5), concurrency: 1)
        await #expect { try await provider.start() } throws: { error in
            (error as? ProviderError)?.isUnreachable == true && "\(error)".contains(url + "/models")
        }
        unsetenv("EVALKIT_ABSENT_KEY")
        let keyed = OpenAIProvider(settings: OpenAISettings(baseURL: url, model: "m", apiKeyEnv: "EVALKIT_ABSENT_KEY", endpoint: .chat,
                                                            generation: GenerationSettings(), timeoutSeconds: 5), concurrency: 1)
        await #expect { try await keyed.start() } throws: { error in
            "\(error)" == "the API key variable EVALKIT_ABSENT_KEY is not set in the environment"
        }
    }

    @Test func anthropicMessagesAPI() async throws {
        let server = try await FakeLLMServer()
        setenv("EVALKIT_TEST_ANTHROPIC", "ak-test-456", 1)
        let settings = AnthropicSettings(baseURL: server.baseURL, model: "claude-test", apiKeyEnv: "EVALKIT_TEST_ANTHROPIC",
                                         version: "2023-06-01", generation: GenerationSettings(temperature: 0, maxTokens: 4, stop: ["\n"]),
                                         timeoutSeconds: 10)
        let provider = AnthropicProvider(settings: settings, concurrency: 1)
        try await provider.start()
        let response = try await provider.complete(ModelRequest(prompt: prompt, input: "I love this", id: "a1"))
        #expect(response == ModelResponse(text: "Positive.", inputTokens: 5, outputTokens: 2))
        let sent = try #require(try server.requests().last)
        #expect(sent["path"]?.stringValue == "/v1/messages")
        #expect(sent["x_api_key"]?.stringValue == "ak-test-456")
        #expect(sent["anthropic_version"]?.stringValue == "2023-06-01")
        let body = try #require(sent["body"])
        #expect(body["system"]?.stringValue == "You classify tweets.")
        #expect(body["max_tokens"]?.numberValue == 4)
        #expect(body["stop_sequences"] == .array([.string("\n")]))

        unsetenv("EVALKIT_TEST_ANTHROPIC")
        let unauthorised = AnthropicProvider(settings: AnthropicSettings(baseURL: server.baseURL, model: "m", apiKeyEnv: "EVALKIT_NOT_SET_EITHER",
                                                                         version: "2023-06-01", generation: GenerationSettings(), timeoutSeconds: 5),
                                             concurrency: 1)
        await #expect(throws: ProviderError.missingAPIKey(variable: "EVALKIT_NOT_SET_EITHER")) { try await unauthorised.start() }
    }

    @Test func commandProviderTalksToARealWorker() async throws {
        let settings = CommandSettings(argv: ["python3", Fixtures.repositoryRoot + "/scripts/example-worker.py"], timeoutSeconds: 10,
                                       generation: GenerationSettings())
        let provider = CommandProvider(settings: settings, modelID: "worker", workingDirectory: Fixtures.repositoryRoot)
        try await provider.start()
        let positive = try await provider.complete(ModelRequest(prompt: prompt, input: "I love this", id: "w1"))
        #expect(positive.text == "positive")
        #expect(positive.outputTokens == 1)
        let negative = try await provider.complete(ModelRequest(prompt: prompt, input: "I hate this", id: "w2"))
        #expect(negative.text == "negative")
        await #expect(throws: ProviderError.worker(reason: "the model refused this input")) {
            try await provider.complete(ModelRequest(prompt: prompt, input: "WORKER_ERROR", id: "w3"))
        }
        // Still alive after an error answer.
        #expect(try await provider.complete(ModelRequest(prompt: prompt, input: "plain", id: "w4")).text == "neutral")
        await provider.stop()
    }

    @Test func commandWorkerThatHangsTimesOutAndOneThatDiesIsReported() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let hang = try Fixtures.write("import sys, time\nfor line in sys.stdin:\n    time.sleep(30)\n", to: "hang.py", in: dir)
        let slow = CommandProvider(settings: CommandSettings(argv: ["python3", hang], timeoutSeconds: 0.5, generation: GenerationSettings()),
                                   modelID: "slow", workingDirectory: dir)
        try await slow.start()
        await #expect(throws: ProviderError.timeout(seconds: 0.5)) {
            try await slow.complete(ModelRequest(prompt: prompt, input: "x", id: "1"))
        }
        await slow.stop()

        let die = try Fixtures.write("import sys\nsys.stderr.write('model file missing\\n')\nsys.exit(1)\n", to: "die.py", in: dir)
        let dead = CommandProvider(settings: CommandSettings(argv: ["python3", die], timeoutSeconds: 5, generation: GenerationSettings()),
                                   modelID: "dead", workingDirectory: dir)
        try await dead.start()
        await #expect { try await dead.complete(ModelRequest(prompt: prompt, input: "x", id: "1")) } throws: { error in
            guard case .worker(let reason)? = error as? ProviderError else { return false }
            // Whether the worker is found dead on writing or on reading, its last stderr line is in the message.
            return reason.contains("model file missing")
        }
        await dead.stop()
    }

    /// A worker that exits after reading each request leaves evalkit writing the next one into a closed pipe:
    /// every request is a recorded failed call and the run ends normally (before SIGPIPE was ignored it ended
    /// evalkit with status 141 about 2 runs in 5).
    @Test func aWorkerThatExitsOnEveryRequestNeverEndsTheRun() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt((0..<12).map { ("t\($0)", "text \($0)", $0 % 2 == 0 ? "positive" : "negative") }, in: dir)
        try Fixtures.write("import sys\nsys.stdin.readline()\nsys.exit(3)\n", to: "dies.py", in: dir)
        try Fixtures.write("""
        {"name": "dying", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "w", "provider": "command", "role": "small", "options": {"argv": ["python3", "dies.py"], "timeout_seconds": 10}},
                    {"id": "l", "provider": "command", "role": "small", "options": {"argv": ["python3", "dies.py"], "scoring": "likelihood"}}],
         "run": {"max_error_rate": 1}}
        """, to: "evalkit.json", in: dir)
        for attempt in 0..<3 {
            let run = try TestProcess.evalkit(["compare", "--no-probe", "--no-cache", "--out", "run\(attempt)"], in: dir, discardOutput: true)
            let status = await run.finished()
            #expect(status != 141 && FileManager.default.fileExists(atPath: dir + "/run\(attempt)/report.md"), "exit \(status)")
            let results = try ResultsJournal.read(path: dir + "/run\(attempt)/results.jsonl")
            #expect(results.count == 24 && results.allSatisfy { $0.error != nil })
        }
    }

    @Test func aWorkerThatWritesWithoutEndIsAFailedCallNotAllMemory() async throws {
        // A worker that answers with bytes and never a newline: each request fails once the line passes the cap,
        // with that reason (it ran to the timeout, slower than the pipe, before the cap and the memchr search).
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt((0..<4).map { ("t\($0)", "text \($0)", $0 % 2 == 0 ? "positive" : "negative") }, in: dir)
        try Fixtures.write("import sys\nsys.stdin.readline()\nchunk = 'x' * (1 << 20)\nwhile True:\n    sys.stdout.write(chunk)\n    sys.stdout.flush()\n",
                           to: "spam.py", in: dir)
        try Fixtures.write("""
        {"name": "spam", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "w", "provider": "command", "role": "small", "options": {"argv": ["python3", "spam.py"], "timeout_seconds": 600}}],
         "run": {"max_error_rate": 1}}
        """, to: "evalkit.json", in: dir)
        let run = try TestProcess.evalkit(["compare", "--no-probe", "--no-cache", "--out", "run"], in: dir, discardOutput: true)
        let status = await run.finished()
        #expect(status == 3, "exit \(status)")
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0.error?.contains("wrote more than 64 MB without ending its answer's line") == true }, "\(results.map(\.error))")
    }

    @Test func aWorkerCalledConcurrentlyAnswersEachRequestInTurn() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let echo = try Fixtures.write("""
        import json, sys, time
        for line in sys.stdin:
            r = json.loads(line)
            time.sleep(0.01)
            print(json.dumps({"id": r["id"], "output": r["input"]}), flush=True)
        """, to: "echo.py", in: dir)
        let worker = CommandProvider(settings: CommandSettings(argv: ["python3", echo], timeoutSeconds: 10, generation: GenerationSettings()),
                                     modelID: "echo", workingDirectory: dir)
        try await worker.start()
        let answers = await withTaskGroup(of: (String, String?).self) { group in
            for i in 0..<16 {
                group.addTask {
                    let input = "input \(i)"
                    let answer = try? await worker.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: input), input: input, id: "r\(i)"))
                    return (input, answer?.text)
                }
            }
            var out: [(String, String?)] = []
            for await pair in group { out.append(pair) }
            return out
        }
        await worker.stop()
        #expect(answers.count == 16)
        #expect(answers.allSatisfy { $0.0 == $0.1 }, "\(answers.filter { $0.0 != $0.1 })")
    }

    @Test func aCommandModelCannotAskForConcurrency() throws {
        let dir = try Fixtures.temporaryDirectory()
        #expect {
            _ = try Fixtures.experiment("""
            {"name": "c", "task": {"labels": ["a"]}, "dataset": {"train": "t.jsonl", "test": "t.jsonl", "fields": {"input": "text", "target": "label"}},
             "prompts": [{"id": "p", "user": "p.txt"}],
             "models": [{"id": "w", "provider": "command", "role": "small", "concurrency": 4, "options": {"argv": ["python3", "w.py"]}}]}
            """, in: dir)
        } throws: { "\($0)".contains("$.models[0].concurrency: expected 1 for a command model") }
    }
}
