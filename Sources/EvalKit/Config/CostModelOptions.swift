/// What one answered request used, as measured: what a per-request price is charged on.
public struct RequestUsage: Sendable {
    public var inputTokens: Int?
    /// Input tokens the provider served from its prompt cache (part of `inputTokens`).
    public var cachedInputTokens: Int?
    public var outputTokens: Int?
    public var latencyMs: Double
    /// Requests the model was sent at once.
    public var concurrency: Int
    /// Sent as part of a provider batch job (priced at the batch price where there is one).
    public var batch = false

    public init(inputTokens: Int? = nil, cachedInputTokens: Int? = nil, outputTokens: Int? = nil, latencyMs: Double = 0, concurrency: Int = 1,
                batch: Bool = false) {
        self.inputTokens = inputTokens; self.cachedInputTokens = cachedInputTokens; self.outputTokens = outputTokens
        self.latencyMs = latencyMs; self.concurrency = concurrency; self.batch = batch
    }
}

/// How a model is paid for, as its "pricing" object gave it: what the pipeline needs to know of a cost
/// model without knowing which one it is. Each cost model defines its own, reads and validates it, and
/// computes a monthly cost from what was measured (`CostModelKind`, in Analysis/).
public protocol CostModelOptions: Sendable {
    /// The cost model's name in the config ("api", "dedicated", "serverless").
    var name: String { get }
    /// USD of one answered request as measured; nil for a model paid by the hour however busy it is.
    func requestCost(_ usage: RequestUsage) -> Double?
    /// USD an hour of the model's machine: what measured training time is priced at; nil for per-token prices.
    var hourlyPrice: Double? { get }
    /// True when its cost follows measured latency (busy time, or capacity measured in requests a second):
    /// a slower machine, not the experiment, can change it.
    var followsLatency: Bool { get }
    /// True when its cost rests on one instance's throughput (dedicated): such a model is probed for it.
    var needsCapacity: Bool { get }
    /// How the price is stated in reports.
    func describe(concurrency: Int) -> String
}

/// What a model costs, with where the price came from.
public struct Pricing: Sendable {
    public var model: any CostModelOptions
    public var source: String?
    public var date: String?

    public init(model: any CostModelOptions, source: String? = nil, date: String? = nil) {
        self.model = model; self.source = source; self.date = date
    }

    /// The price as reports state it, with its source and date.
    public func describe(concurrency: Int) -> String {
        var text = model.describe(concurrency: concurrency)
        let origin = [source, date.map { "as of \($0)" }].compactMap { $0 }.joined(separator: ", ")
        if !origin.isEmpty { text += " (\(origin))" }
        return text
    }
}
