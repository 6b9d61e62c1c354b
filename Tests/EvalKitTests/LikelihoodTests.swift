import EvalKit
import Foundation
import Testing

/// The real local LLM stack, when `scripts/setup-local-llm` has made `.venv/` in this checkout.
enum LocalLLM {
    static let python = Fixtures.repositoryRoot + "/.venv/bin/python"
    static let smolLM = Fixtures.repositoryRoot + "/.venv/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: python) && FileManager.default.fileExists(atPath: smolLM) }
}

/// Label scoring by likelihood: each label's probability as the prompt's next token.
@Suite(.serialized) struct LikelihoodTests {
    func provider(_ url: String) -> OpenAIProvider {
        var settings = OpenAISettings(baseURL: url, model: "m", apiKeyEnv: nil, endpoint: .completions, generation: GenerationSettings(), timeoutSeconds: 60)
        settings.scoring = .likelihood
        return OpenAIProvider(settings: settings, concurrency: 1)
    }

    @Test func theMostLikelyLabelIsTheAnswerWithEveryLabelsProbability() async throws {
        let server = try await FakeLLMServer()
        let labels = ["negative", "neutral", "positive"]
        let scorer = provider(server.baseURL)
        let response = try await scorer.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: "Tweet: I love it\nSentiment:"),
                                                              input: "I love it", id: "1", labels: labels))
        #expect(response.text == "positive")
        let probabilities = try #require(response.labelProbabilities)
        #expect(Set(probabilities.keys) == Set(labels))
        #expect(abs(probabilities.values.reduce(0, +) - 1) < 1e-9)
        // -0.2 against -2.5 twice: e^-0.2 / (e^-0.2 + 2e^-2.5).
        #expect(abs((probabilities["positive"] ?? 0) - exp(-0.2) / (exp(-0.2) + 2 * exp(-2.5))) < 1e-9)
        // One request for the next token's top logprobs.
        let sent = try server.requests()
        #expect(sent.count == 1)
        #expect(sent[0]["body"]?["prompt"]?.stringValue == "Tweet: I love it\nSentiment:")
        #expect(sent[0]["body"]?["logprobs"]?.numberValue == 20 && sent[0]["body"]?["max_tokens"]?.numberValue == 1)
    }

    @Test func aPieceSeveralLabelsShareDecidesNothing() async throws {
        let server = try await FakeLLMServer()
        let labels = ["negative", "neutral", "positive"]
        let scorer = provider(server.baseURL)
        // " ne" (−0.1) starts negative and neutral; " pos" (−2.0) starts positive only: positive, not negative by label order.
        let response = try await scorer.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: "AMBIGUOUS\nSentiment:"),
                                                              input: "x", id: "1", labels: labels))
        #expect(response.text == "positive")
        // With two labels only " ne" could mean either: a tie at the top is no answer.
        let tie = try await scorer.complete(ModelRequest(prompt: RenderedPrompt(system: nil, user: "AMBIGUOUS\nSentiment:"),
                                                         input: "x", id: "2", labels: ["negative", "neutral"]))
        #expect(tie.text == "")
    }

    @Test func likelihoodNeedsTheCompletionsEndpoint() throws {
        let dir = try Fixtures.temporaryDirectory()
        #expect { try Fixtures.experiment("""
        {"name": "x", "task": {"labels": ["a", "b"]}, "dataset": {"train": "t", "test": "t", "fields": {"input": "i", "target": "t"}},
         "models": [{"id": "m", "provider": "openai", "role": "small",
                     "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m", "scoring": "likelihood"}}]}
        """, in: dir) } throws: { "\($0)".contains("$.models[0].options.scoring: expected \"endpoint\": \"completions\"") }
    }

    @Test(.enabled(if: LocalLLM.available, "needs .venv with llama.cpp and SmolLM2: run scripts/setup-local-llm"))
    func likelihoodScoringAgainstARealLlamaCppServer() async throws {
        let port = closedPort()
        let server = ManagedServer(settings: ServerSettings(command: [LocalLLM.python, "-m", "llama_cpp.server", "--model", LocalLLM.smolLM,
                                                                     "--port", String(port), "--n_ctx", "512"],
                                                           readyURL: "http://127.0.0.1:\(port)/v1/models", startupTimeoutSeconds: 120),
                                   modelID: "smollm2", directory: Fixtures.repositoryRoot)
        try await server.start()
        let scorer = provider("http://127.0.0.1:\(port)/v1")
        let labels = ["negative", "neutral", "positive"]
        var answers: [String] = []
        for tweet in ["I love this airline, best flight ever!", "Worst service, my bags are lost again."] {
            let prompt = RenderedPrompt(system: nil, user: "Tweet: \(tweet)\nSentiment:")
            do {
                let response = try await scorer.complete(ModelRequest(prompt: prompt, input: tweet, id: tweet, labels: labels))
                let probabilities = try #require(response.labelProbabilities)
                #expect(abs(probabilities.values.reduce(0, +) - 1) < 1e-6)
                #expect(labels.contains(response.text))
                #expect((response.inputTokens ?? 0) > 0)
                answers.append(response.text)
            } catch {
                Issue.record("scoring failed: \(error)")
            }
        }
        await server.stop()
        #expect(answers.count == 2)
    }
}
