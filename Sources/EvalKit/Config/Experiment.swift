/// One experiment: the task, its data, the prompt variants, the models and the candidates to
/// evaluate, read from a JSON file (default `evalkit.json`).
public struct Experiment: Sendable {
    /// Name used for the run folder, `reports/<name>/<run-id>/`.
    public var name: String
    public var description: String?
    public var task: TaskSpec
    public var dataset: DatasetSpec
    public var prompts: [PromptSpec]
    public var models: [ModelSpec]
    /// Every (model, prompt) pair to evaluate, resolved from `candidates` or the default cross product.
    public var candidates: [CandidateSpec]
    public var run: RunSettings
    /// How the recommendation is made: requirements, margin, volume and horizon.
    public var decision: DecisionPolicy
    /// Thresholds of `evalkit check`, the CI regression gate.
    public var check: CheckPolicy
    /// Thresholds of the data audit.
    public var audit: AuditSettings = AuditSettings()
    /// The config file this was read from.
    public var configPath: String
    /// Folder that relative paths in the config are resolved against (the config's folder).
    public var baseDirectory: String
    /// SHA-256 of the config file's bytes.
    public var configHash: String

    /// The model with this id.
    public func model(_ id: String) -> ModelSpec? { models.first { $0.id == id } }
    /// The prompt with this id.
    public func prompt(_ id: String) -> PromptSpec? { prompts.first { $0.id == id } }

    /// Resolves a path from the config against the config's folder.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory.isEmpty ? path : baseDirectory + "/" + path)
    }
}

/// A task: its type, label set (classification) or output schema (extraction), how a label is read
/// from a model's output, and how an answer is scored.
public struct TaskSpec: Sendable {
    public var type: TaskType
    /// The label set of a classification task; empty for other types.
    public var labels: [String]
    public var parsing: LabelParsing
    /// How each answer is scored ("task.scorer"; the task type's default scorer unless the config names another).
    public var scorer: any ScorerOptions
    /// The JSON Schema an extraction task's answers should follow ("task.schema"), where given.
    public var schema: JSONSchema?
    /// The model that grades answers ("task.judge"), where given.
    public var judge: JudgeSpec?

    public init(labels: [String], parsing: LabelParsing, scorer: any ScorerOptions = LabelMatchOptions(),
                type: TaskType = .classification, schema: JSONSchema? = nil) {
        self.type = type; self.labels = labels; self.parsing = parsing; self.scorer = scorer; self.schema = schema
    }
}

/// How a label is read from free text.
public struct LabelParsing: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        /// The whole output (trimmed, case- and whitespace-insensitive) must be a label or synonym.
        case exact
        /// The first label or synonym that appears as a whole word anywhere in the output.
        case first
        /// The first capture group of a regular expression, then matched exactly.
        case regex(String)
    }
    public var method: Method
    /// Extra spellings mapped to labels, e.g. "pos" → "positive".
    public var synonyms: [String: String]
    /// Numeric ranges mapped to labels, for prompts that ask for a score (e.g. 1–10).
    public var numericRanges: [NumericRange]

    public init(method: Method = .first, synonyms: [String: String] = [:], numericRanges: [NumericRange] = []) {
        self.method = method
        self.synonyms = synonyms
        self.numericRanges = numericRanges
    }
}

/// A closed numeric interval that maps a score to a label.
public struct NumericRange: Sendable, Equatable {
    public var min: Double
    public var max: Double
    public var label: String
    public init(min: Double, max: Double, label: String) { self.min = min; self.max = max; self.label = label }
}

/// Where the examples come from and which fields mean what.
public struct DatasetSpec: Sendable {
    public enum Source: Sendable {
        /// Separate files per split; validation is optional.
        case files(train: String, validation: String?, test: String)
        /// One file with a column naming each example's split.
        case splitField(path: String, field: String, values: SplitNames)
        /// One file split by a seeded shuffle in the given proportions.
        case ratio(path: String, train: Double, validation: Double, test: Double, seed: UInt64)
    }
    public var source: Source
    public var fields: FieldMapping
    /// Optional name and licence shown in the report.
    public var citation: String?
}

/// The values of a split column that mean train, validation and test.
public struct SplitNames: Sendable {
    public var train = "train"
    public var validation = "validation"
    public var test = "test"
}

/// Names of the dataset fields (JSONL keys or CSV header names).
public struct FieldMapping: Sendable {
    public var input: String
    public var target: String
    public var id: String?
    public var confidence: String?
    /// A human's answer and their grade of it on the judge's scale: the slice the judge is calibrated on.
    public var humanAnswer: String?
    public var humanGrade: String?

    public init(input: String, target: String, id: String? = nil, confidence: String? = nil) {
        self.input = input; self.target = target; self.id = id; self.confidence = confidence
    }
}

/// One prompt variant: template files plus how few-shot examples are chosen.
public struct PromptSpec: Sendable {
    public var id: String
    public var description: String?
    /// Path of the system part (chat models); optional.
    public var systemPath: String?
    /// Path of the user part.
    public var userPath: String
    public var examples: ExampleSelection
    /// How one example is written into `{{examples}}`; uses `{{input}}` and `{{label}}`.
    public var exampleTemplate: String
    public var exampleSeparator: String
    /// Overrides the task's label parsing for this prompt (e.g. a 1–10 scale).
    public var parsing: LabelParsing?
}

/// How few-shot examples are chosen for `{{examples}}`.
public enum ExampleSelection: Sendable, Equatable {
    case none
    /// These training example ids, in this order.
    case fixed([String])
    /// The first k examples of the training split.
    case first(Int)
    /// For each input, the k training examples most similar to it (step 2: dynamic prompts).
    case similar(SimilarExamplesSpec)

    /// True when the examples depend on the input.
    public var isDynamic: Bool { if case .similar = self { return true } else { return false } }
    /// True for fixed or first-k examples (static few-shot).
    public var isStaticFewShot: Bool {
        switch self {
        case .fixed, .first: return true
        default: return false
        }
    }
}

/// How similar examples are found.
public struct SimilarExamplesSpec: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A TF-IDF index of the training split (word and character n-grams), built once per run.
        case tfidf
        /// Vectors from an OpenAI-compatible `/embeddings` endpoint, cached on disk by content hash.
        case embeddings(EmbeddingsSettings)
    }
    public var k: Int
    /// Labels take turns, so every label is shown.
    public var balanced: Bool
    public var source: Source
    public init(k: Int, balanced: Bool = false, source: Source = .tfidf) { self.k = k; self.balanced = balanced; self.source = source }
}

/// An embeddings endpoint (OpenAI-compatible; llama.cpp's server started with embeddings on).
public struct EmbeddingsSettings: Sendable, Equatable {
    public var baseURL: String
    public var model: String
    public var apiKeyEnv: String?
    public var timeoutSeconds: Double
    public init(baseURL: String, model: String, apiKeyEnv: String? = nil, timeoutSeconds: Double = 60) {
        self.baseURL = baseURL; self.model = model; self.apiKeyEnv = apiKeyEnv; self.timeoutSeconds = timeoutSeconds
    }
}

/// How the capacity probe measures one instance's throughput: requests sent at 1, 2, 4, … in flight, up
/// to `maxConcurrency`, `requestsPerLevel` at each (at least twice the level).
public struct CapacityProbeSettings: Sendable, Equatable {
    public var maxConcurrency = 8
    public var requestsPerLevel = 16
    public init() {}
}

/// The role a model plays in the decision.
public enum ModelRole: String, Sendable, CaseIterable {
    case foundation, small
    case fineTuned = "fine-tuned"
}

/// A model and how to reach it.
public struct ModelSpec: Sendable {
    public var id: String
    public var role: ModelRole
    public var provider: any ProviderOptions
    public var pricing: Pricing?
    /// Requests in flight at once for this model.
    public var concurrency: Int
    public var description: String?
    /// One-time cost of producing this model (fine-tuning), where it has one.
    public var fineTuning: FineTuningCost?
    /// Retries and rate limits for this model's requests.
    public var limits: RequestLimits = RequestLimits()
    /// A training log from outside (OpenAI result CSV or Hugging Face trainer_state.json) to diagnose.
    public var trainingLog: String?
    /// How an outside fine-tune was made (`"training"`): method, training-set size, label source, adapter.
    public var training: TrainingDeclaration? = nil
    /// The capacity probe after the accuracy pass; nil when the model is not probed.
    public var capacityProbe: CapacityProbeSettings? = nil
    /// A server evalkit starts for this model and stops at the end.
    public var server: ServerSettings?
    /// Send the model's requests as one provider batch job (`"mode": "batch"`); nil sends them one by one.
    public var batch: BatchSettings?
    /// The files that make this model (weights, adapters, a worker's script), fingerprinted into every
    /// run and into its cache keys; nil means the existing files named in its server command's or
    /// worker's arguments.
    public var files: [String]? = nil

    public var providerName: String { provider.name }
    /// How many servers answer for the model: the URLs its options name, or the servers evalkit starts.
    public var replicaCount: Int { max(provider.replicaCount, server?.replicas ?? 1) }
}

/// What the config says of how an outside fine-tune was made, for Step 4's comparisons: its points on a
/// data-efficiency curve, PEFT methods side by side, a distilled student beside its teacher.
public struct TrainingDeclaration: Sendable, Equatable {
    /// The method as the report names it ("LoRA r=16", "IA3").
    public var method: String
    /// Labelled examples it was trained on.
    public var examples: Int
    /// The candidate whose answers labelled its training set (distillation); nil for gold labels.
    public var labelsFrom: String? = nil
    /// Parameters the method trained.
    public var trainableParameters: Int? = nil
    /// The adapter file or folder, whose size the run measures.
    public var adapter: String? = nil

    public init(method: String, examples: Int) { self.method = method; self.examples = examples }
}

/// How a model's batch job is waited for: polled every `pollSeconds`, for at most `maxWaitSeconds` in one
/// run (a job still running then is left to finish; `compare --resume` picks it up).
public struct BatchSettings: Sendable, Equatable {
    public var pollSeconds: Double = 10
    public var maxWaitSeconds: Double = 86_400
    public init() {}
}

/// A model server evalkit manages: the command that starts it and the URL that says it is ready.
public struct ServerSettings: Sendable, Equatable {
    public var command: [String]
    /// Polled until it answers 2xx (e.g. `http://127.0.0.1:8080/v1/models`).
    public var readyURL: String
    public var startupTimeoutSeconds: Double
    /// A short command whose output identifies the server's build (version, CPU features), run once
    /// per run and recorded in run.json's environment: answers of a local model depend on it.
    public var identify: [String]?
    /// How many servers to start (`replicas`), each on its own free port filled in for `{port}`.
    public var replicas = 1
    /// Models naming the same server block with `"shared": true` use one server (one process, e.g. a base
    /// model with several adapters), started before the first of them and stopped after the last.
    public var shared = false
    public init(command: [String], readyURL: String, startupTimeoutSeconds: Double = 120) {
        self.command = command; self.readyURL = readyURL; self.startupTimeoutSeconds = startupTimeoutSeconds
    }

    /// The placeholder evalkit fills with a free port, in `command`, `ready_url` and the model's `base_url`.
    public static let portPlaceholder = "{port}"

    /// True when the server is started on a port evalkit chooses.
    public var choosesPort: Bool { readyURL.contains(Self.portPlaceholder) || command.contains { $0.contains(Self.portPlaceholder) } }

    /// `text` with `{port}` filled in.
    public static func withPort(_ text: String, _ port: Int) -> String { text.replacingOccurrences(of: portPlaceholder, with: String(port)) }

    /// The settings of the server to start on `port`.
    public func on(port: Int) -> ServerSettings {
        var one = self
        one.command = command.map { Self.withPort($0, port) }
        one.readyURL = Self.withPort(readyURL, port)
        one.replicas = 1
        return one
    }
}

/// How a model's requests are retried and paced.
public struct RequestLimits: Sendable, Equatable {
    /// Attempts per request, the first included (429, 5xx, timeouts and dropped connections are retried).
    public var maxAttempts: Int = 4
    /// Backoff: a random wait in [0, min(maxDelay, baseDelay · 2^(attempt−1))] ("full jitter"),
    /// or at least the server's Retry-After.
    public var baseDelaySeconds: Double = 0.5
    public var maxDelaySeconds: Double = 30
    public var requestsPerMinute: Double?
    /// Tokens per minute, counted from the prompt (≈ 4 characters a token) plus max_tokens.
    public var tokensPerMinute: Double?
    public init() {}
}

/// One (model, prompt) pair evaluated on the test split.
public struct CandidateSpec: Sendable, Equatable {
    public var modelID: String
    /// Nil for models that take no prompt (the builtin classifier).
    public var promptID: String?
    /// `model:prompt`, or the model id alone when there is no prompt.
    public var id: String { promptID.map { "\(modelID):\($0)" } ?? modelID }
    public init(modelID: String, promptID: String?) { self.modelID = modelID; self.promptID = promptID }
}

/// Settings of the run as a whole.
public struct RunSettings: Sendable {
    /// The most repeats a run may ask for (self-consistency studies use tens).
    public static let maxRepeats = 1_000
    /// Default requests in flight per model when the model sets none.
    public var concurrency: Int = 4
    /// Evaluate only the first N test examples.
    public var limit: Int?
    /// Seed for every random choice in the run.
    public var seed: UInt64 = 42
    /// How many times each example is asked (for consistency); 1 asks once.
    public var repeats: Int = 1
    /// Spending limit in USD: a run whose estimate exceeds it does not start, and a running one stops there.
    public var budgetUSD: Double?
    /// A run in which a larger share of requests fails is marked failed (exit 3), keeping its results.
    public var maxErrorRate: Double?
    /// Run the models one after another (each managed server stopped before the next starts), so
    /// local models on one machine do not share its CPU while their latency is measured.
    public var sequentialModels = false
    public init() {}
}

/// The decision policy: what a candidate must meet, and the volume and horizon costs are judged over.
public struct DecisionPolicy: Sendable {
    /// Candidate id the others are tested against; default: the foundation model's most accurate prompt.
    public var reference: String?
    public var minAccuracy: Double?
    public var maxP95LatencyMs: Double?
    public var maxCostPer1kUSD: Double?
    /// Non-inferiority margin on accuracy (absolute, e.g. 0.02 = two points).
    public var margin: Double = 0.02
    public var monthlyRequests: Double = 100_000
    public var horizonMonths: Double = 12
    /// Significance level of every interval and test of the decision (intervals are at 1 − α).
    public var alpha: Double = 0.05
    public var power: Double = 0.8
    /// A candidate whose requests fail more often than this does not qualify.
    public var maxErrorRate: Double = 0.05
    /// Whether `minAccuracy` is met by the accuracy itself or by its interval's lower bound.
    public var minAccuracyBy: MinAccuracyRule = .estimate
    /// Qualifying candidates whose costs over the horizon are within this share of the cheapest count as
    /// costing the same, and the more accurate of them is chosen (a cent must not outweigh accuracy).
    public var costTie: Double = 0.01
    /// USD to label one training example, where known: the data-efficiency curve prices the labels its
    /// smallest non-inferior training set needs.
    public var labelCostUSD: Double? = nil
    public init() {}
}

/// How the accuracy requirement is judged.
public enum MinAccuracyRule: String, Sendable, CaseIterable {
    /// The measured accuracy must reach it (the default).
    case estimate
    /// The lower bound of the accuracy's 1 − α interval must reach it: the requirement is met with confidence.
    case lowerBound = "lower_bound"
}

/// What the data audit counts as doubtful.
public struct AuditSettings: Sendable, Equatable {
    /// Annotator confidence below this is "low".
    public var minConfidence: Double = 0.6
    /// Inputs longer than this many characters are "overly long".
    public var maxCharacters: Int = 1000
    public init() {}
}

/// When `evalkit check` calls a change a regression.
public struct CheckPolicy: Sendable, Equatable {
    /// An accuracy drop (absolute) larger than this fails, when it is also significant.
    public var maxAccuracyDrop: Double = 0.02
    /// p95 latency may grow to at most this many times the baseline's.
    public var maxLatencyRatio: Double = 1.5
    /// Cost per 1,000 requests may grow to at most this many times the baseline's.
    public var maxCostRatio: Double = 1.25
    /// Significance level of the paired test on accuracy.
    public var alpha: Double = 0.05
    public init() {}
}

/// What producing a fine-tuned model cost once, with where the figure came from.
public struct FineTuningCost: Sendable, Equatable {
    public enum Basis: Sendable, Equatable {
        /// A fixed amount in USD.
        case fixed(usd: Double)
        /// Training tokens × epochs × USD per million training tokens.
        case tokens(trainingTokens: Double, epochs: Double, usdPerMillion: Double)
    }
    public var basis: Basis
    public var source: String?
    public var date: String?

    public init(basis: Basis, source: String? = nil, date: String? = nil) { self.basis = basis; self.source = source; self.date = date }

    /// The amount in USD.
    public var usd: Double {
        switch basis {
        case .fixed(let usd): return usd
        case let .tokens(tokens, epochs, price): return tokens * epochs * price / 1_000_000
        }
    }
}
