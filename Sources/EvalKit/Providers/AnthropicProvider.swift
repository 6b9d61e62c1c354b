import Foundation

/// Anthropic's Messages API (`POST /v1/messages`).
public struct AnthropicProvider: BatchProvider {
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
        return try response(from: try await access.post(url, body: wireBody(request), headers: headers, keyVariable: settings.apiKeyEnv), url: url)
    }

    /// The answer in a Messages body (an online answer, or a succeeded batch result's message).
    func response(from answer: JSON, url: String) throws(ProviderError) -> ModelResponse {
        guard let blocks = answer["content"]?.arrayValue else {
            throw .badResponse(url: url, reason: "no \"content\" array in the answer")
        }
        let text = blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined()
        return ModelResponse(text: text, usage: answer["usage"], openAINames: false)
    }

    public func stop() async { access.client.shutdown() }

    // MARK: Message Batches (POST /messages/batches, GET /messages/batches/{id}, GET its results_url)

    public func submitBatch(_ requests: [(customID: String, request: ModelRequest)]) async throws(ProviderError) -> String {
        let url = HTTPClient.url(settings.baseURL, "/messages/batches")
        let body = JSON.object([("requests", .array(requests.map { .object([("custom_id", .string($0.customID)), ("params", wireBody($0.request))]) }))])
        let created = try await access.post(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv)
        guard let jobID = created["id"]?.stringValue else { throw .badResponse(url: url, reason: "no \"id\" for the message batch") }
        return jobID
    }

    public func pollBatch(_ jobID: String) async throws(ProviderError) -> BatchJobState {
        let url = HTTPClient.url(settings.baseURL, "/messages/batches/" + jobID)
        let job = try await access.getJSON(url, headers: headers, keyVariable: settings.apiKeyEnv)
        guard let status = job["processing_status"]?.stringValue else { throw .badResponse(url: url, reason: "no \"processing_status\" in the batch") }
        let counts = job["request_counts"]
        func count(_ key: String) -> Int { counts?[key]?.countValue ?? 0 }
        guard status == "ended" else {
            return .running(progress: "\(status), \(count("succeeded") + count("errored")) done, \(count("processing")) processing")
        }
        let resultsURL = job["results_url"]?.stringValue ?? HTTPClient.url(url, "/results")
        let body = try await access.get(resultsURL, headers: headers, keyVariable: settings.apiKeyEnv)
        var results: [String: Result<ModelResponse, ProviderError>] = [:]
        for line in try batchLines(body, url: resultsURL) {
            guard let customID = line["custom_id"]?.stringValue, let result = line["result"] else { continue }
            let redacted = access.redacted(result)
            switch redacted["type"]?.stringValue {
            case "succeeded":
                do { results[customID] = .success(try response(from: redacted["message"] ?? .null, url: resultsURL)) } catch { results[customID] = .failure(error) }
            case let kind?:
                let detail = redacted["error"]?["error"]?["message"]?.stringValue ?? redacted["error"]?["message"]?.stringValue
                results[customID] = .failure(.batch(job: jobID, reason: kind + (detail.map { ": " + $0 } ?? "")))
            case nil:
                results[customID] = .failure(.badResponse(url: resultsURL, reason: "a result without a \"type\""))
            }
        }
        let unanswered = count("expired") + count("canceled")
        return .ended(results: results, note: unanswered > 0 ? "\(count("expired")) expired, \(count("canceled")) canceled" : nil)
    }
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
    public var runsBatchJobs: Bool { true }
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
