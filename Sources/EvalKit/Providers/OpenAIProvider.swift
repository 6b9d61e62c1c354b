import Foundation

/// Any OpenAI-compatible server, through `/chat/completions` or raw `/completions`.
public struct OpenAIProvider: ModelProvider {
    public let settings: OpenAISettings
    let access: APIAccess

    public init(settings: OpenAISettings, concurrency: Int) {
        self.settings = settings
        access = APIAccess(keyVariable: settings.apiKeyEnv, timeoutSeconds: settings.timeoutSeconds, concurrency: concurrency)
    }

    var headers: [String: String] { access.key.map { ["Authorization": "Bearer \($0)"] } ?? [:] }

    public func start() async throws(ProviderError) {
        try await access.start(probeURL: HTTPClient.url(settings.baseURL, "/models"), headers: headers)
    }

    /// The endpoint path and JSON body sent for `request`.
    func wireRequest(_ request: ModelRequest) -> (path: String, body: JSON) {
        var body: [(String, JSON)] = [("model", .string(settings.model))]
        let path: String
        switch settings.endpoint {
        case .chat:
            path = "/chat/completions"
            var messages: [JSON] = []
            if let system = request.prompt.system {
                messages.append(.object([("role", .string("system")), ("content", .string(system))]))
            }
            messages.append(.object([("role", .string("user")), ("content", .string(request.prompt.user))]))
            body.append(("messages", .array(messages)))
        case .completions:
            path = "/completions"
            body.append(("prompt", .string(request.prompt.completionText)))
        }
        settings.generation.appendOpenAIFields(to: &body)
        return (path, .object(body))
    }

    public func cacheIdentity(for request: ModelRequest) -> String? {
        let wire = wireRequest(request)
        var identity = "openai|" + HTTPClient.url(settings.baseURL, wire.path) + "|" + wire.body.encoded()
        if settings.scoring == .likelihood { identity += "|likelihood|" + request.labels.joined(separator: "\u{0}") }
        return identity
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        if settings.scoring == .likelihood { return try await scoreLabels(request) }
        let (path, body) = wireRequest(request)
        let url = HTTPClient.url(settings.baseURL, path)
        let answer = try await access.post(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv)
        guard let choice = answer["choices"]?.arrayValue?.first else {
            throw .badResponse(url: url, reason: "no \"choices\" in the answer")
        }
        let text: String?
        switch settings.endpoint {
        case .chat: text = choice["message"]?["content"]?.stringValue ?? (choice["message"]?["content"]?.isNull == true ? "" : nil)
        case .completions: text = choice["text"]?.stringValue
        }
        guard let text else {
            throw .badResponse(url: url, reason: settings.endpoint == .chat ? "choices[0].message.content is missing" : "choices[0].text is missing")
        }
        let usage = answer["usage"]
        return ModelResponse(text: text, inputTokens: usage?["prompt_tokens"]?.numberValue.map { Int($0) },
                             outputTokens: usage?["completion_tokens"]?.numberValue.map { Int($0) })
    }

    public func stop() async { access.client.session.invalidateAndCancel() }

    /// Scores each label by the summed log-probabilities of its tokens as the prompt's continuation
    /// (one echo request per label), and answers with the most likely one.
    func scoreLabels(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        let prompt = request.prompt.completionText
        let url = HTTPClient.url(settings.baseURL, "/completions")
        // Offsets count characters (code points) of the echoed text.
        let promptLength = prompt.unicodeScalars.count
        let separator = (prompt.last?.isWhitespace ?? true) ? "" : " "
        var scores: [Double] = []
        var inputTokens = 0
        for label in request.labels {
            let text = prompt + separator + label
            let end = text.unicodeScalars.count
            let body = JSON.object([("model", .string(settings.model)), ("prompt", .string(text)), ("max_tokens", .number(1)),
                                    ("temperature", .number(0)), ("logprobs", .number(1)), ("echo", .bool(true))])
            let answer = try await access.post(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv)
            guard let logprobs = answer["choices"]?.arrayValue?.first?["logprobs"],
                  let offsets = logprobs["text_offset"]?.arrayValue, let values = logprobs["token_logprobs"]?.arrayValue, offsets.count == values.count else {
                throw .badResponse(url: url, reason: "no logprobs with echo in the answer; likelihood scoring needs a server that returns them (llama.cpp's does)")
            }
            var sum = 0.0, counted = 0
            for (offset, value) in zip(offsets, values) {
                // The label's tokens start where the prompt ends (the separating space belongs to the first).
                guard let at = offset.numberValue, Int(at) >= promptLength, Int(at) < end else { continue }
                guard let logprob = value.numberValue else { continue }
                sum += logprob
                counted += 1
            }
            guard counted > 0 else { throw .badResponse(url: url, reason: "the echoed tokens do not cover the label \"\(label)\"") }
            scores.append(sum)
            inputTokens += answer["usage"]?["prompt_tokens"]?.numberValue.map { Int($0) } ?? 0
        }
        guard let best = scores.indices.max(by: { scores[$0] < scores[$1] }) else {
            throw .badResponse(url: url, reason: "no labels to score")
        }
        // Softmax over the labels' log-likelihoods.
        let top = scores[best]
        let weights = scores.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        let probabilities = Dictionary(zip(request.labels, weights.map { $0 / total }), uniquingKeysWith: { a, _ in a })
        return ModelResponse(text: request.labels[best], inputTokens: inputTokens, outputTokens: 0, labelProbabilities: probabilities)
    }
}
