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
        if let ttft = timeToFirstTokenMs { streaming.append((Field.timeToFirstTokenMs.key, .number(Self.roundLatency(ttft)))) }
        if let rate = outputTokensPerSecond { streaming.append((Field.outputTokensPerSecond.key, .number(Self.roundLatency(rate)))) }
        if !scoreParts.isEmpty { streaming.append((Field.scoreParts.key, .object(scoreParts.map { ($0.name, .number(Self.roundProbability($0.value))) }))) }
        if let replica { streaming.append((Field.replica.key, .string(replica))) }
        return .object([
            (Field.candidate.key, .string(candidate)), (Field.model.key, .string(model)), (Field.prompt.key, prompt.map(JSON.string) ?? .null),
            (Field.exampleID.key, .string(exampleID)), (Field.repeatIndex.key, .number(Double(repeatIndex))), (Field.target.key, .string(target)),
            (Field.output.key, output.map(JSON.string) ?? .null), (Field.label.key, label.map(JSON.string) ?? .null),
            (Field.correct.key, .bool(correct)), (Field.score.key, .number(Self.roundProbability(score))), (Field.latencyMs.key, .number(Self.roundLatency(latencyMs))),
            (Field.latencyTotalMs.key, .number(Self.roundLatency(latencyTotalMs))),
            (Field.inputTokens.key, optionalInt(inputTokens)), (Field.cachedInputTokens.key, optionalInt(cachedInputTokens)), (Field.outputTokens.key, optionalInt(outputTokens)),
            (Field.tokensEstimated.key, .bool(tokensEstimated)), (Field.costUSD.key, costUSD.map(JSON.number) ?? .null),
            (Field.error.key, error.map(JSON.string) ?? .null), (Field.attempts.key, .number(Double(attempts))), (Field.cached.key, .bool(cached)),
            (Field.labelProbabilities.key, ModelResponse.probabilitiesJSON(labelProbabilities, rounded: Self.roundProbability)),
        ] + streaming)
    }

    /// Reads a results.jsonl object back; nil when a required field is missing.
    public init?(json: JSON) {
        self.init(field: { json[$0.key] })
    }

    /// Reads one results.jsonl line straight from its bytes, without building a JSON tree (a merge reads
    /// a million); the same as parsing the line and calling `init(json:)`, nil where that fails.
    public init?(line: ArraySlice<UInt8>) {
        var values = [JSON?](repeating: nil, count: Field.allCases.count)
        var reader = JSONObjectReader(bytes: Array(line))
        var next = 0
        do {
            while let key = try reader.nextKey() {
                // evalkit writes the keys in one order, so the key after the last one found is tried first.
                let field = Field.keys[next].elementsEqual(key) ? next : Field.keys.firstIndex { $0.elementsEqual(key) }
                let value = try reader.value()
                if let field {
                    values[field] = value
                    next = field + 1 < Field.keys.count ? field + 1 : 0
                }
            }
        } catch { return nil }
        self.init(field: { values[$0.rawValue] })
    }

    /// The members of a results.jsonl object this evalkit reads.
    enum Field: Int, CaseIterable {
        case candidate, model, prompt, exampleID, repeatIndex, target, output, label, correct, score, latencyMs, latencyTotalMs
        case inputTokens, cachedInputTokens, outputTokens, tokensEstimated, costUSD, error, attempts, cached, labelProbabilities
        case timeToFirstTokenMs, outputTokensPerSecond, scoreParts, replica

        var key: String {
            switch self {
            case .candidate: "candidate"
            case .model: "model"
            case .prompt: "prompt"
            case .exampleID: "example_id"
            case .repeatIndex: "repeat"
            case .target: "target"
            case .output: "output"
            case .label: "label"
            case .correct: "correct"
            case .score: "score"
            case .latencyMs: "latency_ms"
            case .latencyTotalMs: "latency_total_ms"
            case .inputTokens: "input_tokens"
            case .cachedInputTokens: "cached_input_tokens"
            case .outputTokens: "output_tokens"
            case .tokensEstimated: "tokens_estimated"
            case .costUSD: "cost_usd"
            case .error: "error"
            case .attempts: "attempts"
            case .cached: "cached"
            case .labelProbabilities: "label_probabilities"
            case .timeToFirstTokenMs: "ttft_ms"
            case .outputTokensPerSecond: "output_tokens_per_second"
            case .scoreParts: "score_parts"
            case .replica: "replica"
            }
        }

        /// Each field's key as UTF-8 bytes, in case order (the order `json` writes them).
        static let keys: [[UInt8]] = allCases.map { Array($0.key.utf8) }
    }

    /// Builds a result from the value of each member (nil when absent).
    private init?(field: (Field) -> JSON?) {
        guard let candidate = field(.candidate)?.stringValue, let model = field(.model)?.stringValue,
              let exampleID = field(.exampleID)?.stringValue, let target = field(.target)?.stringValue,
              let correct = field(.correct)?.boolValue, let latency = field(.latencyMs)?.numberValue, latency.isFinite else { return nil }
        // Counts that are not whole numbers in range make the line unreadable rather than trapping.
        let repeatIndex: Int
        if let value = field(.repeatIndex), !value.isNull {
            guard let index = value.countValue, index <= Int(Int16.max) else { return nil }
            repeatIndex = index
        } else { repeatIndex = 0 }
        self.init(candidate: candidate, model: model, prompt: field(.prompt)?.stringValue, exampleID: exampleID,
                  repeatIndex: repeatIndex, target: target, output: field(.output)?.stringValue,
                  label: field(.label)?.stringValue, correct: correct, latencyMs: latency,
                  inputTokens: field(.inputTokens)?.countValue, outputTokens: field(.outputTokens)?.countValue,
                  tokensEstimated: field(.tokensEstimated)?.boolValue ?? false, costUSD: field(.costUSD)?.numberValue,
                  error: field(.error)?.stringValue)
        if let value = field(.score), !value.isNull {
            guard let score = value.numberValue, score >= 0, score <= 1 else { return nil }
            self.score = score
        }
        cachedInputTokens = field(.cachedInputTokens)?.countValue
        for (member, keyPath) in [(Field.timeToFirstTokenMs, \ExampleResult.timeToFirstTokenMs), (.outputTokensPerSecond, \ExampleResult.outputTokensPerSecond)] {
            guard let value = field(member), !value.isNull else { continue }
            guard let number = value.numberValue, number.isFinite, number >= 0 else { return nil }
            self[keyPath: keyPath] = number
        }
        if let total = field(.latencyTotalMs), !total.isNull {
            guard let ms = total.numberValue, ms.isFinite else { return nil }
            latencyTotalMs = ms
        }
        if let parts = field(.scoreParts), !parts.isNull {
            guard let members = parts.objectValue else { return nil }
            for (name, value) in members {
                guard let number = value.numberValue, number >= 0, number <= 1 else { return nil }
                scoreParts.append(ScorePart(name, number))
            }
        }
        attempts = field(.attempts)?.countValue ?? 1
        cached = field(.cached)?.boolValue ?? false
        replica = field(.replica)?.stringValue
        labelProbabilities = ModelResponse.probabilities(from: field(.labelProbabilities))
    }
}
