import Foundation

/// Anthropic's Messages API (`POST /v1/messages`).
public struct AnthropicProvider: ModelProvider {
    public let settings: AnthropicSettings
    let access: APIAccess

    public init(settings: AnthropicSettings, concurrency: Int) {
        self.settings = settings
        access = APIAccess(keyVariable: settings.apiKeyEnv, timeoutSeconds: settings.timeoutSeconds, concurrency: concurrency)
    }

    var headers: [String: String] {
        var h = ["anthropic-version": settings.version]
        if let key = access.key { h["x-api-key"] = key }
        return h
    }

    public func start() async throws(ProviderError) {
        try await access.start(probeURL: HTTPClient.url(settings.baseURL, "/models"), headers: headers)
    }

    func wireBody(_ request: ModelRequest) -> JSON {
        let g = settings.generation
        // max_tokens is required by the Messages API.
        var body: [(String, JSON)] = [("model", .string(settings.model)), ("max_tokens", .number(Double(g.maxTokens)))]
        if let system = request.prompt.system { body.append(("system", .string(system))) }
        body.append(("messages", .array([.object([("role", .string("user")), ("content", .string(request.prompt.user))])])))
        if let t = g.temperature { body.append(("temperature", .number(t))) }
        if !g.stop.isEmpty { body.append(("stop_sequences", .array(g.stop.map(JSON.string)))) }
        return .object(body)
    }

    public func cacheIdentity(for request: ModelRequest) -> String? {
        "anthropic|" + HTTPClient.url(settings.baseURL, "/messages") + "|" + settings.version + "|" + wireBody(request).encoded()
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        let url = HTTPClient.url(settings.baseURL, "/messages")
        let answer = try await access.post(url, body: wireBody(request), headers: headers, keyVariable: settings.apiKeyEnv)
        guard let blocks = answer["content"]?.arrayValue else {
            throw .badResponse(url: url, reason: "no \"content\" array in the answer")
        }
        let text = blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined()
        return ModelResponse(text: text, usage: answer["usage"], openAINames: false)
    }

    public func stop() async { access.client.shutdown() }
}
