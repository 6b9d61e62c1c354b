import EvalKit
import Foundation
import Testing

/// evalkit's own HTTP/1.1 client (used for `http://` servers), through the OpenAI provider, against a
/// raw-socket server that frames its answers every way HTTP/1.1 allows (Fixtures/http_edge_server.py).
@Suite(.serialized) struct HTTPTransportTests {
    func settings(_ baseURL: String, timeout: Double) -> OpenAISettings {
        OpenAISettings(baseURL: baseURL, model: "m", apiKeyEnv: nil, endpoint: .chat, generation: GenerationSettings(), timeoutSeconds: timeout)
    }

    // Generous: these tests are about framing and connections, and a loaded machine can starve the test server.
    func provider(_ server: FakeLLMServer, host: String = "127.0.0.1", timeout: Double = 60) -> OpenAIProvider {
        OpenAIProvider(settings: settings("http://\(host):\(server.port)/v1/", timeout: timeout), concurrency: 8)
    }

    func ask(_ provider: OpenAIProvider, _ text: String) async throws(ProviderError) -> String {
        try await provider.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: text), input: text, id: "x")).text
    }

    /// The connection number in an answer "ok <length> <connection>".
    func connection(_ answer: String) -> Int? { answer.split(separator: " ").last.flatMap { Int($0) } }

    @Test func sequentialRequestsShareOneKeptAliveConnection() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        let model = provider(server, host: "localhost")
        try await model.start()
        var answers: [String] = []
        for i in 0..<20 { answers.append(try await ask(model, "tweet \(i)")) }
        #expect(answers[0] == "ok 7 2", "the probe's connection closes; the first request opens connection 2")
        #expect(Set(answers.compactMap(connection)) == [2])
        let logged = try server.requests()
        #expect(logged.count == 20)
        #expect(logged.allSatisfy { $0["path"]?.stringValue == "/v1/chat/completions" })
        #expect(logged.first?["headers"]?["host"]?.stringValue == "localhost:\(server.port)")
        #expect(logged.first?["headers"]?["content-type"]?.stringValue == "application/json")
        await model.stop()
    }

    @Test func concurrentRequestsOpenNoMoreConnectionsThanRequestsInFlight() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        // What is tested is how many connections 80 requests use, not how fast they are: a fresh CI run
        // that started a llama.cpp server and trained models beside this test saw one wait past 10 s.
        let model = provider(server, timeout: 60)
        let answers = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for i in 0..<10 { mine.append(try await ask(model, "w\(worker) r\(i)")) }
                    return mine
                }
            }
            var all: [String] = []
            for try await part in group { all += part }
            return all
        }
        #expect(answers.count == 80)
        #expect(answers.allSatisfy { $0.hasPrefix("ok 5 ") })
        #expect(Set(answers.compactMap(connection)).count <= 8)
    }

    @Test func everyBodyFramingIsRead() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        let model = provider(server)
        for word in ["CHUNKED", "TRICKLE", "CLOSEFRAMED", "CONTINUE", "plain"] {
            let answer = try await ask(model, "\(word) answer")
            #expect(answer.hasPrefix("ok \(word.count + 7) "), "\(word): \(answer)")
        }
        // The close-framed answer ended its connection; the chunked one kept its own alive.
        let numbers = try server.requests().compactMap { $0["connection"]?.numberValue.map { Int($0) } }
        #expect(numbers == [1, 1, 1, 2, 2])
    }

    @Test func aConnectionTheServerClosedIsReplacedWithoutLosingTheRequest() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        let model = provider(server)
        let first = try await ask(model, "CLOSEAFTER")
        // Give the server's close time to arrive (on a loaded machine it can trail the answer): what is
        // tested is that a connection the server has closed is found closed and not used.
        try await Task.sleep(for: .milliseconds(200))
        let second = try await ask(model, "next")
        #expect(connection(first) == 1 && connection(second) == 2)
        #expect(try server.requests().count == 2, "the connection the server closed was dropped before use, so the request was sent once")
    }

    @Test func aRequestAKeptConnectionDropsUnansweredIsSentAgainAtOnce() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        let model = provider(server)
        // The server reads the second request on the kept connection and closes it without a byte of
        // answer. With a policy of one attempt, the request still answers: it is sent again at once on a
        // new connection, and both sends are counted, since the server may have read the first.
        var limits = RequestLimits()
        limits.maxAttempts = 1
        let jobs = [RunJob(candidateIndex: 0, exampleIndex: 0), RunJob(candidateIndex: 0, exampleIndex: 1)]
        let workload = ModelWorkload(modelID: "m", provider: model, concurrency: 1, jobs: jobs, retry: RetryPolicy(limits))
        let collected = Collected()
        await Scheduler.run([workload], request: { job in
            let text = job.exampleIndex == 0 ? "DROPNEXT" : "next"
            return ModelRequest(prompt: RenderedPrompt(system: nil, user: text), input: text, id: "\(job.exampleIndex)")
        }, onCompletions: { await collected.add($0) })
        let completions = await collected.all.sorted { $0.job.exampleIndex < $1.job.exampleIndex }
        try #require(completions.count == 2)
        let second = try completions[1].outcome.get()
        #expect(connection(try completions[0].outcome.get().text) == 2 && connection(second.text) == 3, "the probe's connection is 1")
        #expect(completions[1].attempts == 2 && completions[1].faults == ["kept connection closed"])
        #expect(try server.requests().compactMap { $0["connection"]?.numberValue } == [2, 2, 3])
        await model.stop()
    }

    @Test func aNameThatDoesNotResolveIsATypedError() async throws {
        // The .invalid domain never resolves (RFC 6761); with no DNS the lookup may instead time out.
        let nowhere = OpenAIProvider(settings: settings("http://evalkit-test.invalid:8080/v1", timeout: 3), concurrency: 1)
        do {
            try await nowhere.start()
            Issue.record("start succeeded against a name that does not resolve")
        } catch {
            let url = "http://evalkit-test.invalid:8080/v1/models"
            #expect(error == .unreachable(url: url, reason: "host not found") || error == .unreachable(url: url, reason: "timed out"), "\(error)")
        }
    }

    @Test func theSocketThreadSleepsWhileARequestWaits() async throws {
        // evalkit probes a server that accepts connections and never answers: while the probe waits (up to
        // 30 s), the socket thread has nothing to do and must not wake on a timer.
        let (listener, port) = boundSocket(listening: true)
        defer { close(listener) }
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.oneModelExperiment(in: dir, model: """
            {"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:\(port)/v1", "model": "m", "timeout_seconds": 30}}
            """)
        let process = try TestProcess.evalkit(["compare", "--no-cache", "--out", dir + "/run"], in: dir, discardOutput: true)
        defer { process.signal(SIGKILL) }
        let tasks = "/proc/\(process.pid)/task"
        func socketThreadSwitches() -> Int? {
            for task in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
                guard (try? String(contentsOfFile: "\(tasks)/\(task)/comm", encoding: .utf8))?.hasPrefix("evalkit-socket") == true,
                      let status = try? String(contentsOfFile: "\(tasks)/\(task)/status", encoding: .utf8) else { continue }
                let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
                return line.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
            }
            return nil
        }
        var before: Int? = nil
        await eventually(within: 5) { before = socketThreadSwitches(); return before != nil }
        let start = try #require(before, "the socket thread did not appear")
        // Let the probe's connection settle into its wait, then count wake-ups over one second.
        try await Task.sleep(for: .milliseconds(200))
        let settled = socketThreadSwitches() ?? start
        try await Task.sleep(for: .seconds(1))
        let after = try #require(socketThreadSwitches(), "evalkit ended while the probe should still wait")
        #expect(after - settled <= 3, "the socket thread woke \(after - settled) times in a second with one request waiting")
    }

    @Test func brokenAnswersAreTypedErrors() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        let model = provider(server)
        let url = "http://127.0.0.1:\(server.port)/v1/chat/completions"
        await #expect(throws: ProviderError.badResponse(url: url, reason: "malformed HTTP response: status line \"HELLO THERE\"")) {
            try await ask(model, "GARBAGE")
        }
        do {
            _ = try await ask(model, "TRUNCATED")
            Issue.record("a truncated body was accepted")
        } catch {
            #expect(error == .connectionLost(url: url))
            #expect(error.isRetryable)
        }
        #expect(try await ask(model, "fine").hasPrefix("ok 4 "))
        // A chunk size near Int.max is an error, not an overflow; token counts no Int holds are "not reported".
        await #expect(throws: ProviderError.self) { try await ask(model, "HUGECHUNK") }
        let response = try await model.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: "HUGETOKENS"), input: "x", id: "1"))
        #expect(response.inputTokens == nil && response.outputTokens == nil && response.text.hasPrefix("ok "))
        // Another transfer coding: the body runs to the close whatever Content-Length says (RFC 9112 §6.3).
        #expect(try await ask(model, "OTHERCODING").hasPrefix("ok "))
        // Trailers past 64 KiB are refused; a large chunked answer is read whole.
        await #expect(throws: ProviderError.self) { try await ask(model, "HUGETRAILER") }
        let big = try await ask(model, "LARGEANSWER")
        #expect(big.count == 300003, "\(big.prefix(80)) … \(big.count)")
    }

    @Test func largeRequestsAreWrittenWhole() async throws {
        let server = try await FakeLLMServer(script: "http_edge_server.py")
        let model = provider(server)
        let text = String(repeating: "abcdefghij", count: 300_000)
        #expect(try await ask(model, text).hasPrefix("ok 3000000 "))
    }

    @Test func aSilentServerTimesOutAndAClosedPortIsUnreachable() async throws {
        // A listening socket that never accepts: the connection is made, the answer never comes.
        let (listener, port) = boundSocket(listening: true)
        defer { close(listener) }
        let silent = OpenAIProvider(settings: settings("http://127.0.0.1:\(port)/v1", timeout: 0.3), concurrency: 1)
        // The error says the limit; how soon it comes is not asserted (tests carry no timings).
        await #expect(throws: ProviderError.timeout(seconds: 0.3)) { try await ask(silent, "hello") }

        let closed = closedPort()
        for scheme in ["http", "https"] {
            let nobody = OpenAIProvider(settings: settings("\(scheme)://127.0.0.1:\(closed)/v1", timeout: 2), concurrency: 1)
            do {
                try await nobody.start()
                Issue.record("\(scheme): start succeeded against a closed port")
            } catch {
                #expect(error == .unreachable(url: "\(scheme)://127.0.0.1:\(closed)/v1/models", reason: "connection refused"), "\(scheme): \(error)")
            }
        }
    }
}

actor Collected {
    var all: [Completion] = []
    func add(_ completions: [Completion]) { all += completions }
}
