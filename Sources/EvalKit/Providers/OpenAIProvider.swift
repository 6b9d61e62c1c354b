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
        return "openai|" + HTTPClient.url(settings.baseURL, wire.path) + "|" + wire.body.encoded()
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
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
}
