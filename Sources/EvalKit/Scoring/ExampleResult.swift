/// The outcome of one request: one line of results.jsonl. The lines carry no version of their own
    /// (a large run writes 100,000 of them); run.json's `results_schema` says which layout they have.
public struct ExampleResult: Sendable, Equatable {
    /// The layout of results.jsonl lines this evalkit writes and reads (run.json's `results_schema`).
    /// 2 added `score`, `cached_input_tokens` and `latency_total_ms` (layout 1: the last attempt's latency); a line of layout 1 scores 1 when `correct`, else 0.
    /// 3 added `score_parts` (written only when the scorer gives some).
    /// 4 added `replica` (written only for a model served by several replicas: the base URL that answered).
    public static let schema = 4

    // Stored properties in this order so each Bool fills the byte after an optional number (large runs
    // hold 100,000 results).
    public var candidate: String
    public var model: String
    public var prompt: String?
    public var exampleID: String
    public var target: String
    /// The model's raw output; nil when the call failed.
    public var output: String?
    /// The answer the scorer read from the output (for classification, the label); nil for an invalid
    /// output or a failed call.
    public var label: String?
    /// Why the call failed; nil when it succeeded.
    public var error: String?
    /// 0-based repeat index when examples are asked more than once.
    public var repeatIndex: Int
    /// Wall-clock milliseconds of the request's last attempt (including a failed one).
    public var latencyMs: Double
    /// Milliseconds from the first attempt to the outcome: every attempt and the waits between them.
    public var latencyTotalMs: Double
    /// Requests sent for this example (retries included); 0 when the answer came from the cache.
    public var attempts: Int = 1
    /// With likelihood scoring: each label's probability.
    public var labelProbabilities: [String: Double]? = nil
    public var inputTokens: Int?
    /// Input tokens served from the provider's prompt cache (part of `inputTokens`); nil when not reported.
    public var cachedInputTokens: Int? = nil
    /// The scorer's score in [0, 1]: 1 for a right answer, 0 for a wrong one or a failed call.
    public var score: Double
    public var outputTokens: Int?
    /// True when token counts are estimated (≈ 4 characters per token) because the server sent none.
    public var tokensEstimated: Bool
    /// USD for this request under the model's pricing; nil without pricing or for a failed call.
    public var costUSD: Double?
    /// True when the answer came from the response cache (its latency is the one first measured).
    public var cached: Bool = false
    /// A streamed answer: milliseconds from sending to its first text, and output tokens a second after
    /// it (from estimated tokens when `tokensEstimated`); nil when not streamed or from the cache.
    public var timeToFirstTokenMs: Double? = nil
    public var outputTokensPerSecond: Double? = nil
    /// The measures the scorer gave beside the score (see `Score.parts`); empty for a label scorer.
    public var scoreParts: [ScorePart] = []
    /// The replica that answered (its base URL), for a model served by several.
    public var replica: String? = nil

    public init(candidate: String, model: String, prompt: String?, exampleID: String, repeatIndex: Int = 0, target: String,
                output: String?, label: String?, correct: Bool, latencyMs: Double, inputTokens: Int? = nil,
                outputTokens: Int? = nil, tokensEstimated: Bool = false, costUSD: Double? = nil, error: String? = nil) {
        self.candidate = candidate; self.model = model; self.prompt = prompt; self.exampleID = exampleID
        self.repeatIndex = repeatIndex; self.target = target; self.output = output; self.label = label
        self.score = correct ? 1 : 0; self.latencyMs = latencyMs; self.latencyTotalMs = latencyMs; self.inputTokens = inputTokens
        self.outputTokens = outputTokens; self.tokensEstimated = tokensEstimated; self.costUSD = costUSD; self.error = error
    }

    /// True for a full score: right, for a right-or-wrong scorer.
    public var correct: Bool {
        get { score >= 1 }
        set { score = newValue ? 1 : 0 }
    }

    /// True when the model answered (whether or not a label could be read).
    public var answered: Bool { error == nil }
    /// True when the model answered but no label could be read.
    public var invalid: Bool { error == nil && label == nil }

    /// The result as results.jsonl keeps it: latency to the microsecond, scores and label probabilities
    /// to 1e-6 (cost is written in full), so figures computed from it match those read back from the file.
    public func rounded() -> ExampleResult {
        var copy = self
        copy.latencyMs = Self.roundLatency(latencyMs)
        copy.latencyTotalMs = Self.roundLatency(latencyTotalMs)
        copy.timeToFirstTokenMs = timeToFirstTokenMs.map(Self.roundLatency)
        copy.outputTokensPerSecond = outputTokensPerSecond.map(Self.roundLatency)
        copy.score = Self.roundProbability(score)
        copy.scoreParts = scoreParts.map { ScorePart($0.name, Self.roundProbability($0.value)) }
        copy.labelProbabilities = labelProbabilities?.mapValues(Self.roundProbability)
        return copy
    }

    static func roundLatency(_ ms: Double) -> Double { (ms * 1000).rounded() / 1000 }
    static func roundProbability(_ p: Double) -> Double { (p * 1e6).rounded() / 1e6 }

    /// The JSON object written to results.jsonl, keys in a fixed order (the streaming figures only when
    /// there are some).
    public var json: JSON {
        func optionalInt(_ v: Int?) -> JSON { v.map { .number(Double($0)) } ?? .null }
        var streaming: [(String, JSON)] = []
        if let ttft = timeToFirstTokenMs { streaming.append(("ttft_ms", .number(Self.roundLatency(ttft)))) }
        if let rate = outputTokensPerSecond { streaming.append(("output_tokens_per_second", .number(Self.roundLatency(rate)))) }
        if !scoreParts.isEmpty { streaming.append(("score_parts", .object(scoreParts.map { ($0.name, .number(Self.roundProbability($0.value))) }))) }
        if let replica { streaming.append(("replica", .string(replica))) }
        return .object([
            ("candidate", .string(candidate)), ("model", .string(model)), ("prompt", prompt.map(JSON.string) ?? .null),
            ("example_id", .string(exampleID)), ("repeat", .number(Double(repeatIndex))), ("target", .string(target)),
            ("output", output.map(JSON.string) ?? .null), ("label", label.map(JSON.string) ?? .null),
            ("correct", .bool(correct)), ("score", .number(Self.roundProbability(score))), ("latency_ms", .number(Self.roundLatency(latencyMs))),
            ("latency_total_ms", .number(Self.roundLatency(latencyTotalMs))),
            ("input_tokens", optionalInt(inputTokens)), ("cached_input_tokens", optionalInt(cachedInputTokens)), ("output_tokens", optionalInt(outputTokens)),
            ("tokens_estimated", .bool(tokensEstimated)), ("cost_usd", costUSD.map(JSON.number) ?? .null),
            ("error", error.map(JSON.string) ?? .null), ("attempts", .number(Double(attempts))), ("cached", .bool(cached)),
            ("label_probabilities", ModelResponse.probabilitiesJSON(labelProbabilities, rounded: Self.roundProbability)),
        ] + streaming)
    }

    /// Reads a results.jsonl object back; nil when a required field is missing.
    public init?(json: JSON) {
        guard let candidate = json["candidate"]?.stringValue, let model = json["model"]?.stringValue,
              let exampleID = json["example_id"]?.stringValue, let target = json["target"]?.stringValue,
              let correct = json["correct"]?.boolValue, let latency = json["latency_ms"]?.numberValue, latency.isFinite else { return nil }
        // Counts that are not whole numbers in range make the line unreadable rather than trapping.
        let repeatIndex: Int
        if let value = json["repeat"], !value.isNull {
            guard let index = value.countValue, index <= Int(Int16.max) else { return nil }
            repeatIndex = index
        } else { repeatIndex = 0 }
        self.init(candidate: candidate, model: model, prompt: json["prompt"]?.stringValue, exampleID: exampleID,
                  repeatIndex: repeatIndex, target: target, output: json["output"]?.stringValue,
                  label: json["label"]?.stringValue, correct: correct, latencyMs: latency,
                  inputTokens: json["input_tokens"]?.countValue, outputTokens: json["output_tokens"]?.countValue,
                  tokensEstimated: json["tokens_estimated"]?.boolValue ?? false, costUSD: json["cost_usd"]?.numberValue,
                  error: json["error"]?.stringValue)
        if let value = json["score"], !value.isNull {
            guard let score = value.numberValue, score >= 0, score <= 1 else { return nil }
            self.score = score
        }
        cachedInputTokens = json["cached_input_tokens"]?.countValue
        for (key, keyPath) in [("ttft_ms", \ExampleResult.timeToFirstTokenMs), ("output_tokens_per_second", \ExampleResult.outputTokensPerSecond)] {
            guard let value = json[key], !value.isNull else { continue }
            guard let number = value.numberValue, number.isFinite, number >= 0 else { return nil }
            self[keyPath: keyPath] = number
        }
        if let total = json["latency_total_ms"], !total.isNull {
            guard let ms = total.numberValue, ms.isFinite else { return nil }
            latencyTotalMs = ms
        }
        if let parts = json["score_parts"], !parts.isNull {
            guard let members = parts.objectValue else { return nil }
            for (name, value) in members {
                guard let number = value.numberValue, number >= 0, number <= 1 else { return nil }
                scoreParts.append(ScorePart(name, number))
            }
        }
        attempts = json["attempts"]?.countValue ?? 1
        cached = json["cached"]?.boolValue ?? false
        replica = json["replica"]?.stringValue
        labelProbabilities = ModelResponse.probabilities(from: json["label_probabilities"])
    }
}
