/// What a provider is asked for one example.
public struct ModelRequest: Sendable {
    /// The rendered prompt (ignored by providers that read the raw input).
    public var prompt: RenderedPrompt
    /// The example's raw input text.
    public var input: String
    /// A stable id for the request, e.g. `model:prompt/example/repeat`.
    public var id: String
    /// The task's labels, for providers that score each label instead of generating text.
    public var labels: [String]

    public init(prompt: RenderedPrompt, input: String, id: String, labels: [String] = []) {
        self.prompt = prompt; self.input = input; self.id = id; self.labels = labels
    }
}

/// What a provider answered.
public struct ModelResponse: Sendable, Equatable {
    public var text: String
    /// Token counts as the server reported them; nil when it reported none.
    public var inputTokens: Int?
    public var outputTokens: Int?
    /// Input tokens the provider served from its prompt cache (part of `inputTokens`); nil when it reported none.
    public var cachedInputTokens: Int?
    /// A streamed answer: milliseconds from sending the request to its first generated text, and from
    /// there to the end of the stream; nil when the answer was not streamed (or its timing unknown).
    public var timeToFirstTokenMs: Double?
    public var generationMs: Double?
    /// With likelihood scoring: each label's probability as the prompt's continuation.
    public var labelProbabilities: [String: Double]?
    /// The server's build as it reported it with the answer (OpenAI's and llama.cpp's `system_fingerprint`).
    public var systemFingerprint: String?
    /// Which replica answered (its base URL), for a model served by several.
    public var replica: String?

    public init(text: String, inputTokens: Int? = nil, outputTokens: Int? = nil, labelProbabilities: [String: Double]? = nil,
                systemFingerprint: String? = nil) {
        self.text = text; self.inputTokens = inputTokens; self.outputTokens = outputTokens; self.labelProbabilities = labelProbabilities
        self.systemFingerprint = systemFingerprint
    }

    /// An answer with the token counts of its API's `usage` object: OpenAI names them prompt_tokens and
    /// completion_tokens (prompt-cache hits in prompt_tokens_details.cached_tokens, part of prompt_tokens),
    /// Anthropic and evalkit's workers input_tokens and output_tokens (Anthropic counts prompt-cache reads
    /// and writes apart from input_tokens, so they are added to it).
    init(text: String, usage: JSON?, openAINames: Bool, labelProbabilities: [String: Double]? = nil, systemFingerprint: String? = nil) {
        var input = usage?[openAINames ? "prompt_tokens" : "input_tokens"]?.countValue
        let cached: Int?
        if openAINames {
            cached = usage?["prompt_tokens_details"]?["cached_tokens"]?.countValue
        } else {
            cached = usage?["cache_read_input_tokens"]?.countValue
            let written = usage?["cache_creation_input_tokens"]?.countValue ?? 0
            if let counted = input { input = counted &+ (cached ?? 0) &+ written }
        }
        self.init(text: text, inputTokens: input, outputTokens: usage?[openAINames ? "completion_tokens" : "output_tokens"]?.countValue,
                  labelProbabilities: labelProbabilities, systemFingerprint: systemFingerprint)
        cachedInputTokens = cached
    }

    /// Label probabilities as the run's files keep them: an object, labels in order (null when there are none).
    public static func probabilitiesJSON(_ probabilities: [String: Double]?, rounded: (Double) -> Double = { $0 }) -> JSON {
        probabilities.map { p in .object(p.sorted { $0.key < $1.key }.map { ($0.key, .number(rounded($0.value))) }) } ?? .null
    }

    /// Label probabilities read back from `probabilitiesJSON`; members that are not numbers are left out.
    public static func probabilities(from json: JSON?) -> [String: Double]? {
        json?.objectValue.map { members in
            Dictionary(members.compactMap { key, value in value.numberValue.map { (key, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }
}

/// A way of reaching one model. Providers are started once per run and stopped at its end.
public protocol ModelProvider: Sendable {
    /// Gets ready to answer (checks the server is reachable, starts a worker, trains a model).
    func start() async throws(ProviderError)
    /// Answers one request.
    func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse
    /// Releases what `start` acquired; safe to call more than once.
    func stop() async
    /// Everything that determines the answer to `request` (endpoint, model, parameters, the full
    /// request), for the response cache; nil when answers must not be cached.
    func cacheIdentity(for request: ModelRequest) -> String?
}

extension ModelProvider {
    public func cacheIdentity(for request: ModelRequest) -> String? { nil }
}

/// Why a model call failed. Messages name URLs and variable names, never secrets.
public enum ProviderError: Error, CustomStringConvertible, Sendable, Equatable {
    case unreachable(url: String, reason: String)
    case missingAPIKey(variable: String)
    case timeout(seconds: Double)
    case connectionLost(url: String)
    /// A kept-alive connection closed after the request went out and before any answer: the race of a
    /// server closing an idle connection as a request arrives. Sent again at once, without back-off.
    case keptConnectionClosed(url: String)
    /// A non-2xx answer; `retryAfter` is the server's Retry-After in seconds, when it sent one.
    case http(status: Int, url: String, message: String, retryAfter: Double? = nil)
    case badResponse(url: String, reason: String)
    /// evalkit could not make the request at all (a header value that would break the request's framing).
    case invalidRequest(url: String, reason: String)
    case worker(reason: String)
    case notStarted(reason: String)
    /// A provider batch job failed this request, or ended without answering it (expired, cancelled).
    case batch(job: String, reason: String)

    public var description: String {
        switch self {
        case let .unreachable(url, reason): return "unreachable: \(url) (\(reason))"
        case let .missingAPIKey(variable): return "the API key variable \(variable) is not set in the environment"
        case let .timeout(seconds): return "no answer within \(JSON.formatNumber(seconds)) s (timeout)"
        case let .connectionLost(url): return "connection to \(url) was lost"
        case let .keptConnectionClosed(url): return "the server closed a kept-alive connection to \(url) before answering"
        case let .http(status, url, message, _): return "HTTP \(status) from \(url): \(message)"
        case let .badResponse(url, reason): return "unusable response from \(url): \(reason)"
        case let .invalidRequest(url, reason): return "cannot send a request to \(url): \(reason)"
        case let .worker(reason): return "worker: \(reason)"
        case let .notStarted(reason): return reason
        case let .batch(job, reason): return "batch job \(job): \(reason)"
        }
    }

    /// True for failures worth trying again: rate limits (429), server errors (5xx), timeouts,
    /// dropped connections and unusable answers (a body a proxy cut or a restarting server garbled).
    /// Other 4xx mean the request itself is wrong and would fail again.
    public var isRetryable: Bool {
        switch self {
        case let .http(status, _, _, _): return status == 429 || (500...599).contains(status)
        case .timeout, .connectionLost, .keptConnectionClosed, .badResponse: return true
        default: return false
        }
    }

    /// A few words naming the kind of fault, for the list of what each attempt met.
    public var kind: String {
        switch self {
        case .unreachable: return "unreachable"
        case .missingAPIKey: return "missing API key"
        case .timeout: return "timeout"
        case .connectionLost: return "connection lost"
        case .keptConnectionClosed: return "kept connection closed"
        case let .http(status, _, _, _): return "HTTP \(status)"
        case .badResponse: return "unusable answer"
        case .invalidRequest: return "invalid request"
        case .worker: return "worker failure"
        case .notStarted: return "not started"
        case .batch: return "batch job"
        }
    }

    /// The server's requested wait before retrying, in seconds.
    public var retryAfter: Double? {
        if case let .http(_, _, _, retryAfter) = self { return retryAfter }
        return nil
    }

    /// True when the model could not be reached at all, so every request to it would fail alike.
    public var isUnreachable: Bool {
        if case .unreachable = self { return true }
        return false
    }
}

/// Sampling and length settings shared by the LLM providers.
public struct GenerationSettings: Sendable, Equatable {
    public var temperature: Double?
    /// Output tokens a request may use: every request has a bound, so its cost has one too.
    public var maxTokens: Int
    public var stop: [String]
    public var seed: Int?
    public init(temperature: Double? = 0, maxTokens: Int = 16, stop: [String] = [], seed: Int? = nil) {
        self.temperature = temperature; self.maxTokens = maxTokens; self.stop = stop; self.seed = seed
    }
}
