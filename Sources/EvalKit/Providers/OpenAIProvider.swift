import Foundation

/// Any OpenAI-compatible server, through `/chat/completions` or raw `/completions`.
public struct OpenAIProvider: BatchProvider {
    public let settings: OpenAISettings
    let access: APIAccess

    /// With several replicas, which one each request goes to; nil for one server.
    let replicas: ReplicaSet?

    /// `concurrency` is the requests in flight over every replica, shared out evenly as each replica's limit.
    public init(settings: OpenAISettings, concurrency: Int) {
        self.settings = settings
        let count = max(1, settings.replicaURLs.count)
        access = APIAccess(keyVariable: settings.apiKeyEnv, timeoutSeconds: settings.timeoutSeconds, concurrency: concurrency)
        replicas = count > 1 ? ReplicaSet(urls: settings.replicaURLs, limit: (max(1, concurrency) + count - 1) / count) : nil
    }

    var headers: [String: String] { access.bearerHeaders }

    /// Probes every replica; one that does not answer is set aside (its requests go to the others) unless none answers.
    public func start() async throws(ProviderError) {
        guard let replicas else {
            try await access.start(probeURL: HTTPClient.url(settings.baseURL, "/models"), headers: headers)
            return
        }
        var failures: [ProviderError] = []
        for (index, url) in replicas.urls.enumerated() {
            do { try await access.start(probeURL: HTTPClient.url(url, "/models"), headers: headers) } catch {
                failures.append(error)
                replicas.setAside(index)
            }
        }
        if failures.count == replicas.urls.count, let first = failures.first { throw first }
    }

    /// Sends on the server, or on the best replica (another when one fails), and notes which replica answered.
    func onServer(_ body: (String) async throws(ProviderError) -> ModelResponse) async throws(ProviderError) -> ModelResponse {
        guard let replicas else { return try await body(settings.baseURL) }
        var (answer, replica) = try await replicas.run(body)
        answer.replica = replica
        return answer
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
        if settings.stream {
            body.append(("stream", .bool(true)))
            body.append(("stream_options", .object([("include_usage", .bool(true))])))
        }
        return (path, .object(body + settings.extraBody))
    }

    public func cacheIdentity(for request: ModelRequest) -> String? {
        let wire = wireRequest(request)
        var identity = "openai|" + HTTPClient.url(settings.identityURL ?? settings.baseURL, wire.path) + "|" + wire.body.encoded()
        if settings.scoring == .likelihood { identity += "|likelihood|" + request.labels.joined(separator: "\u{0}") }
        return identity
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        try await onServer { base throws(ProviderError) in
            if settings.scoring == .likelihood { return try await scoreLabels(request, base: base) }
            if settings.stream { return try await streamed(request, base: base) }
            return try await generated(request, base: base)
        }
    }

    func generated(_ request: ModelRequest, base: String) async throws(ProviderError) -> ModelResponse {
        let (path, body) = wireRequest(request)
        let url = HTTPClient.url(base, path)
        return try response(from: try await access.post(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv), url: url)
    }

    /// The answer in a chat or completions body (an online answer, or one line of a batch job's output).
    func response(from answer: JSON, url: String) throws(ProviderError) -> ModelResponse {
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
        return ModelResponse(text: text, usage: answer["usage"], openAINames: true, systemFingerprint: answer["system_fingerprint"]?.stringValue)
    }

    public func stop() async { access.client.shutdown() }

    // MARK: batch jobs (POST /files, POST /batches, GET /batches/{id}, GET /files/{id}/content)

    /// The path the batch lines and the job name, with the base URL's own path ("/v1/chat/completions").
    var batchEndpoint: String {
        let basePath = URL(string: settings.baseURL)?.path ?? ""
        return (basePath.hasSuffix("/") ? String(basePath.dropLast()) : basePath) + wireRequest(ModelRequest(prompt: RenderedPrompt(system: nil, user: ""), input: "", id: "")).path
    }

    public func submitBatch(_ requests: [(customID: String, request: ModelRequest)]) async throws(ProviderError) -> String {
        var file: [UInt8] = []
        for (customID, request) in requests {
            let line = JSON.object([("custom_id", .string(customID)), ("method", .string("POST")), ("url", .string(batchEndpoint)),
                                    ("body", wireRequest(request).body)])
            line.encode(into: &file)
            file.append(UInt8(ascii: "\n"))
        }
        let boundary = "evalkit-" + String(SHA256.hex(bytes: file).prefix(24))
        var form: [UInt8] = []
        form += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8)
        form += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"evalkit-batch.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n".utf8)
        form += file
        form += Array("\r\n--\(boundary)--\r\n".utf8)
        let filesURL = HTTPClient.url(settings.baseURL, "/files")
        let uploaded = try await access.postBytes(filesURL, bytes: form, contentType: "multipart/form-data; boundary=\(boundary)", headers: headers,
                                                  keyVariable: settings.apiKeyEnv)
        guard let fileID = uploaded["id"]?.stringValue else { throw .badResponse(url: filesURL, reason: "no \"id\" for the uploaded file") }
        let batchesURL = HTTPClient.url(settings.baseURL, "/batches")
        let created = try await access.post(batchesURL, body: .object([("input_file_id", .string(fileID)), ("endpoint", .string(batchEndpoint)),
                                                                      ("completion_window", .string("24h"))]),
                                            headers: headers, keyVariable: settings.apiKeyEnv)
        guard let jobID = created["id"]?.stringValue else { throw .badResponse(url: batchesURL, reason: "no \"id\" for the batch") }
        return jobID
    }

    public func pollBatch(_ jobID: String) async throws(ProviderError) -> BatchJobState {
        let url = HTTPClient.url(settings.baseURL, "/batches/" + jobID)
        let job = try await access.getJSON(url, headers: headers, keyVariable: settings.apiKeyEnv)
        guard let status = job["status"]?.stringValue else { throw .badResponse(url: url, reason: "no \"status\" in the batch") }
        let counts = job["request_counts"]
        let progress = "\(status), \(counts?["completed"]?.countValue ?? 0) of \(counts?["total"]?.countValue ?? 0) done"
        switch status {
        case "completed", "expired", "cancelled", "failed":
            var results: [String: Result<ModelResponse, ProviderError>] = [:]
            for key in ["output_file_id", "error_file_id"] {
                guard let fileID = job[key]?.stringValue else { continue }
                let fileURL = HTTPClient.url(settings.baseURL, "/files/\(fileID)/content")
                let body = try await access.get(fileURL, headers: headers, keyVariable: settings.apiKeyEnv)
                for line in try batchLines(body, url: fileURL) {
                    guard let customID = line["custom_id"]?.stringValue else { continue }
                    results[customID] = batchResult(access.redacted(line), job: jobID, url: fileURL)
                }
            }
            let reasons = job["errors"]?["data"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
            let note = status == "completed" ? nil : status + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))
            return .ended(results: results, note: note)
        default:
            return .running(progress: progress)
        }
    }

    /// One line of a batch output or error file: the answer, or why there is none.
    func batchResult(_ line: JSON, job: String, url: String) -> Result<ModelResponse, ProviderError> {
        if let response = line["response"], let status = response["status_code"]?.intValue {
            let body = response["body"] ?? .null
            guard (200..<300).contains(status) else {
                return .failure(.http(status: status, url: url, message: body["error"]?["message"]?.stringValue ?? "status \(status) in the batch job"))
            }
            do { return .success(try self.response(from: body, url: url)) } catch { return .failure(error) }
        }
        let error = line["error"]
        return .failure(.batch(job: job, reason: [error?["code"]?.stringValue, error?["message"]?.stringValue].compactMap { $0 }.joined(separator: ": ")))
    }

    /// A streamed completion: the text joined from its events, usage from the event that carries it (none
    /// when the server sends none: the tokens are then estimated), and when the first text and the end
    /// arrived. Over https the arrival times are not seen, so the timing is unknown.
    func streamed(_ request: ModelRequest, base: String) async throws(ProviderError) -> ModelResponse {
        let (path, body) = wireRequest(request)
        let url = HTTPClient.url(base, path)
        let sent = ContinuousClock.now
        let response = try await access.postStream(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv)
        let stream: ServerSentEvents
        do { stream = try ServerSentEvents(response.body) } catch {
            guard case .badResponse(_, let reason) = error else { throw error }
            throw .badResponse(url: url, reason: reason)
        }
        guard !stream.events.isEmpty else {
            throw .badResponse(url: url, reason: "a stream with no events: \"\(Text.preview(String(decoding: response.body, as: UTF8.self), limit: 120))\"")
        }
        var text = "", usage: JSON? = nil, fingerprint: String? = nil, firstText: Int? = nil
        for event in stream.events {
            let data = access.redacted(event.data)
            if let u = data["usage"], !u.isNull { usage = u }
            if let f = data["system_fingerprint"]?.stringValue { fingerprint = f }
            guard let choice = data["choices"]?.arrayValue?.first else { continue }
            let piece = settings.endpoint == .chat ? choice["delta"]?["content"]?.stringValue : choice["text"]?.stringValue
            if let piece, !piece.isEmpty {
                text += piece
                if firstText == nil { firstText = event.end }
            }
        }
        var answer = ModelResponse(text: text, usage: usage, openAINames: true, systemFingerprint: fingerprint)
        if let firstText, let first = response.arrivals.first(where: { $0.bodyBytes >= firstText }), let last = response.arrivals.last {
            answer.timeToFirstTokenMs = Self.milliseconds(first.at - sent)
            answer.generationMs = Self.milliseconds(last.at - first.at)
        }
        return answer
    }

    static func milliseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

    /// Scores each label by the probability the model gives its first token as the prompt's next
    /// token (one request, `logprobs` top 20), and answers with the most likely label (LabelLikelihood).
    func scoreLabels(_ request: ModelRequest, base: String) async throws(ProviderError) -> ModelResponse {
        let prompt = request.prompt.completionText
        let url = HTTPClient.url(base, "/completions")
        let body = JSON.object([("model", .string(settings.model)), ("prompt", .string(prompt)), ("max_tokens", .number(1)),
                                ("temperature", .number(0)), ("logprobs", .number(Double(LabelLikelihood.topTokens)))] + settings.extraBody)
        let answer = try await access.post(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv)
        let logprobs = answer["choices"]?.arrayValue?.first?["logprobs"]
        // The completions API's layout (top_logprobs: one object of token → log-probability per position, as
        // llama-cpp-python's server writes it), or the chat layout (content: one entry per position, its
        // top_logprobs an array of {token, logprob}, as llama.cpp's own server writes it).
        var top: [(token: String, logprob: Double)] = []
        if let legacy = logprobs?["top_logprobs"]?.arrayValue?.first?.objectValue {
            top = LabelLikelihood.top(legacy)
        } else if let entries = logprobs?["content"]?.arrayValue?.first?["top_logprobs"]?.arrayValue {
            top = entries.compactMap { e in e["token"]?.stringValue.flatMap { t in e["logprob"]?.numberValue.map { (t, $0) } } }
        }
        guard !top.isEmpty else {
            throw .badResponse(url: url, reason: "no top_logprobs in the answer; likelihood scoring needs a server that returns logprobs (llama.cpp's does)")
        }
        guard !request.labels.isEmpty else { throw .badResponse(url: url, reason: "no labels to score") }
        return LabelLikelihood.response(top: top, labels: request.labels, usage: answer["usage"], openAINames: true,
                                        systemFingerprint: answer["system_fingerprint"]?.stringValue)
    }
}

/// Which OpenAI-compatible endpoint a model is prompted through.
public enum OpenAIEndpoint: String, Sendable {
    /// `/chat/completions` with system and user messages.
    case chat
    /// `/completions` with one raw text prompt, for base (pretrained) models.
    case completions
}

/// How a candidate's answer is read.
public enum ScoringMethod: String, Sendable {
    /// The model generates text and a label is parsed from it.
    case generate
    /// Each label is scored by the probability the model gives it as the prompt's next token (the first
    /// token of each label, from the server's top-20 logprobs): the way lm-evaluation-harness scores
    /// multiple choice, cut to one request. The most likely label is the answer.
    case likelihood
}

/// An OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama /v1, …).
public struct OpenAISettings: Sendable {
    /// The server's base URL; with replicas, the first of them.
    public var baseURL: String
    /// Every replica's base URL (`base_url` given as an array); just `baseURL` for one server.
    public var replicaURLs: [String] = []
    /// The URL cache keys are made with: `base_url` as the config gives it (with `{port}` unfilled for a
    /// server evalkit starts on a free port), so answers are reused whichever port or replica gave them.
    public var identityURL: String?
    public var model: String
    /// Name of the environment variable holding the API key; the key itself is never stored.
    public var apiKeyEnv: String?
    public var endpoint: OpenAIEndpoint
    public var generation: GenerationSettings
    public var timeoutSeconds: Double
    public var scoring: ScoringMethod = .generate
    /// Ask for the answer as a stream of server-sent events, to measure time to first token and output
    /// tokens a second (usage is asked for with `stream_options.include_usage`).
    public var stream = false
    /// Members added to every request body (`extra_body`), e.g. llama.cpp's `"lora"` choosing an adapter per
    /// request; part of the cache key, so answers of different adapters never mix.
    public var extraBody: [(String, JSON)] = []

    public init(baseURL: String, model: String, apiKeyEnv: String?, endpoint: OpenAIEndpoint, generation: GenerationSettings, timeoutSeconds: Double) {
        self.baseURL = baseURL; self.model = model; self.apiKeyEnv = apiKeyEnv; self.endpoint = endpoint; self.generation = generation; self.timeoutSeconds = timeoutSeconds
        replicaURLs = [baseURL]
    }
}

extension OpenAISettings: PromptedProviderKind {
    public static let name = "openai"
    public var serverURL: String? { baseURL }
    public var replicaCount: Int { max(1, replicaURLs.count) }
    public var runsBatchJobs: Bool { scoring == .generate && !stream }
    public var answerReading: String? { scoring == .likelihood ? "label likelihood" : nil }
    public var answersWithLabels: Bool { scoring == .likelihood }
    public var manifestMembers: [(String, JSON)] {
        // Only the variable's name: the key itself is never written.
        [("base_url", replicaURLs.count > 1 ? .array(replicaURLs.map(JSON.string)) : .string(baseURL)), ("model", .string(model)),
         ("endpoint", .string(endpoint.rawValue))]
            + (apiKeyEnv.map { [("api_key_env", .string($0))] } ?? [])
            + (extraBody.isEmpty ? [] : [("extra_body", .object(extraBody))])
    }
    public var reportLine: String {
        let reading = scoring == .likelihood ? "; " + LabelLikelihood.reportPhrase : ""
        let place = replicaURLs.count > 1 ? "\(replicaURLs.count) replicas (\(replicaURLs.joined(separator: ", ")))" : baseURL
        let extra = extraBody.isEmpty ? "" : ", with \(JSON.object(extraBody).encoded()) in every request"
        return "openai \(endpoint.rawValue)\(stream ? " (streamed)" : ""), model \(model) at \(place)\(extra)\(reading)"
    }

    public static func read(options: JSON, path: String) -> (options: OpenAISettings?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { o, issues in
            o.rejectUnknownKeys(["base_url", "model", "api_key_env", "endpoint", "scoring", "stream", "extra_body"] + generationKeys, issues: &issues)
            var extraBody: [(String, JSON)] = []
            if let extra = o["extra_body"] {
                if let members = extra.objectValue {
                    // A member evalkit sets itself would change what is asked without the run knowing it.
                    let own: Set = ["model", "prompt", "messages", "max_tokens", "temperature", "stop", "seed", "logprobs", "stream", "stream_options", "n"]
                    for (key, _) in members where own.contains(key) {
                        issues.add(ConfigIssue(path: o.childPath("extra_body") + "." + key, expected: "a member evalkit does not set itself (set \"\(key)\" through the model's own options)",
                                               found: "\"\(key)\""))
                    }
                    extraBody = members.filter { !own.contains($0.0) }
                } else {
                    issues.add(o.childPath("extra_body"), expected: "an object of members to add to every request body", found: extra)
                }
            }
            let timeout = readTimeout(o, issues: &issues)
            let scoring = o.oneOf("scoring", ["generate", "likelihood"], issues: &issues).flatMap(ScoringMethod.init(rawValue:)) ?? .generate
            // One server's URL, or an array of replicas' URLs (several servers of the same model).
            let urls = o["base_url"]?.arrayValue != nil ? o.stringArray("base_url", nonEmpty: true, issues: &issues)
                                                        : o.string("base_url", required: true, issues: &issues).map { [$0] }
            for (index, url) in (urls ?? []).enumerated() where URL(string: ServerSettings.withPort(url, 1))?.scheme?.hasPrefix("http") != true {
                let path = (urls?.count ?? 0) > 1 || o["base_url"]?.arrayValue != nil ? o.childPath("base_url") + "[\(index)]" : o.childPath("base_url")
                issues.add(ConfigIssue(path: path, expected: "an http:// or https:// URL", found: "\"\(url)\""))
            }
            if let urls, Set(urls).count < urls.count {
                issues.add(ConfigIssue(path: o.childPath("base_url"), expected: "each replica's URL once", found: "a URL listed twice"))
            }
            let baseURL = urls?.first
            let model = o.string("model", required: true, issues: &issues)
            let endpoint = o.oneOf("endpoint", ["chat", "completions"], issues: &issues).flatMap(OpenAIEndpoint.init(rawValue:)) ?? .chat
            let generation = readGeneration(o, issues: &issues)
            if scoring == .likelihood && endpoint != .completions {
                issues.add(ConfigIssue(path: o.childPath("scoring"), expected: "\"endpoint\": \"completions\" with likelihood scoring (it scores the raw prompt's continuation)",
                                       found: "endpoint \"\(endpoint.rawValue)\""))
            }
            let stream = o.bool("stream", issues: &issues) ?? false
            if stream && scoring == .likelihood {
                issues.add(ConfigIssue(path: o.childPath("stream"), expected: "false with likelihood scoring (it reads one token's logprobs, nothing to stream)",
                                       found: "true"))
            }
            guard let baseURL, let model else { return nil }
            var settings = OpenAISettings(baseURL: baseURL, model: model, apiKeyEnv: o.string("api_key_env", issues: &issues),
                                          endpoint: endpoint, generation: generation, timeoutSeconds: timeout)
            settings.scoring = scoring
            settings.stream = stream
            settings.extraBody = extraBody
            settings.replicaURLs = urls ?? [baseURL]
            return settings
        }
    }

    public func makeProvider(_ context: ProviderContext) -> PreparedProvider {
        PreparedProvider(provider: OpenAIProvider(settings: self, concurrency: context.concurrency))
    }

    public func served(at urls: [String]) -> OpenAISettings? {
        guard let first = urls.first else { return nil }
        var served = self
        served.identityURL = identityURL ?? baseURL
        served.baseURL = first
        served.replicaURLs = urls
        return served
    }
}
