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

/// Anthropic's Messages API.
public struct AnthropicSettings: Sendable {
    public var baseURL: String
    public var model: String
    public var apiKeyEnv: String
    public var version: String
    public var generation: GenerationSettings
    public var timeoutSeconds: Double

    public init(baseURL: String, model: String, apiKeyEnv: String, version: String, generation: GenerationSettings, timeoutSeconds: Double) {
        self.baseURL = baseURL; self.model = model; self.apiKeyEnv = apiKeyEnv; self.version = version; self.generation = generation; self.timeoutSeconds = timeoutSeconds
    }
}

extension AnthropicSettings: PromptedProviderKind {
    public static let name = "anthropic"
    public var serverURL: String? { baseURL }
    public var manifestMembers: [(String, JSON)] {
        [("base_url", .string(baseURL)), ("model", .string(model)), ("api_key_env", .string(apiKeyEnv))]
    }
    public var reportLine: String { "anthropic, model \(model) at \(baseURL)" }

    public static func read(options: JSON, path: String) -> (options: AnthropicSettings?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { o, issues in
            o.rejectUnknownKeys(["base_url", "model", "api_key_env", "version"] + generationKeys, issues: &issues)
            let timeout = readTimeout(o, issues: &issues)
            let model = o.string("model", required: true, issues: &issues)
            let generation = readGeneration(o, issues: &issues)
            guard let model else { return nil }
            return AnthropicSettings(baseURL: o.string("base_url", issues: &issues) ?? "https://api.anthropic.com/v1",
                                     model: model, apiKeyEnv: o.string("api_key_env", issues: &issues) ?? "ANTHROPIC_API_KEY",
                                     version: o.string("version", issues: &issues) ?? "2023-06-01",
                                     generation: generation, timeoutSeconds: timeout)
        }
    }

    public func makeProvider(_ context: ProviderContext) -> PreparedProvider {
        PreparedProvider(provider: AnthropicProvider(settings: self, concurrency: context.concurrency))
    }
}
