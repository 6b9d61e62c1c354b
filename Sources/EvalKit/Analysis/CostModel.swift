import Foundation

/// One instance's throughput serving a candidate's requests: what a dedicated model's instance count rests on.
public struct Capacity: Sendable, Equatable {
    /// Where the figure came from.
    public enum Source: String, Sendable {
        case probe = "measured by the capacity probe"
        case accuracyPass = "estimated from the accuracy pass (requests in flight ÷ mean latency)"
    }
    public var requestsPerSecond: Double
    /// Requests in flight at which it was measured.
    public var concurrency: Int
    public var source: Source

    public init(requestsPerSecond: Double, concurrency: Int, source: Source) {
        self.requestsPerSecond = requestsPerSecond; self.concurrency = concurrency; self.source = source
    }

    /// Each candidate's capacity from the probe's levels: among those with no failed request and p95 within
    /// `latencyLimitMs`, the fewest in flight that serve within 10 % of the most requests a second any of
    /// them served (the knee: more in flight adds latency, not throughput); a candidate none of whose
    /// levels qualify has none.
    public static func best(of levels: [CapacityLevel], latencyLimitMs: Double?) -> [String: Capacity] {
        var out: [String: Capacity] = [:]
        for (candidate, own) in Dictionary(grouping: levels, by: \.candidate) {
            let usable = own.filter { (level: CapacityLevel) -> Bool in
                guard level.errors == 0, level.requestsPerSecond > 0 else { return false }
                guard let limit = latencyLimitMs else { return true }
                return (level.p95Ms ?? 0) <= limit
            }
            let most = usable.map(\.requestsPerSecond).max() ?? 0
            let top = usable.filter { $0.requestsPerSecond >= most / CapacityProbe.growth }.min { $0.concurrency < $1.concurrency }
            guard let top else { continue }
            out[candidate] = Capacity(requestsPerSecond: top.requestsPerSecond, concurrency: top.concurrency, source: .probe)
        }
        return out
    }
}

/// What a candidate's monthly cost rests on, as measured.
public struct CostMeasurements: Sendable {
    /// Mean USD of an answered request under a per-request price; nil when not every answered request has one.
    public var meanRequestCostUSD: Double?
    public var capacity: Capacity?

    public init(meanRequestCostUSD: Double? = nil, capacity: Capacity? = nil) {
        self.meanRequestCostUSD = meanRequestCostUSD; self.capacity = capacity
    }
}

/// A monthly cost at one volume, and how it was reached (or why it is unknown).
public struct CostFigure: Sendable, Equatable {
    public var usd: Double?
    public var basis: String

    public init(usd: Double?, basis: String) { self.usd = usd; self.basis = basis }
}

/// What a candidate costs over the horizon at any monthly volume: its cost model, what was measured,
/// its one-time cost and the horizon.
public struct HorizonCost: Sendable {
    public var model: any CostModelKind
    public var measured: CostMeasurements
    public var oneTime: Double
    public var months: Double

    public init(model: any CostModelKind, measured: CostMeasurements, oneTime: Double = 0, months: Double) {
        self.model = model; self.measured = measured; self.oneTime = oneTime; self.months = months
    }

    /// Total over the horizon at `volume` requests a month; nil when unknown.
    public func total(volume: Double) -> Double? {
        model.monthly(volume: volume, measured: measured).usd.map { oneTime + $0 * months }
    }
}

/// A cost model evalkit can price a model with: its options type reads and validates a model's "pricing"
/// object and computes what the model costs a month. Adding one is a type conforming to this, added to a
/// catalog (`Catalog.standard.adding(MyCostModel.self)`).
public protocol CostModelKind: CostModelOptions {
    /// The name a config gives in "pricing.model".
    static var name: String { get }
    /// Reads and validates the "pricing" object (without "model", "source" and "date") found at `path`.
    static func read(options: JSON, path: String) -> (options: Self?, issues: [ConfigIssue])
    /// USD a month at `volume` requests a month.
    func monthly(volume: Double, measured: CostMeasurements) -> CostFigure
    /// USD per request when the monthly cost is exactly that times the volume; nil when it is not.
    func linearRate(_ measured: CostMeasurements) -> Double?
}

extension CostModelKind {
    public var name: String { Self.name }
}

/// Hours in an average month (8,766 h a year ÷ 12, rounded as cloud price lists do).
public let hoursPerMonth = 730.0

/// Per-token prices of a hosted API: input, cached input (when the provider reports prompt-cache hits)
/// and output, per million tokens.
public struct APIPricing: CostModelKind {
    public static let name = "api"
    public var inputPerMillion: Double
    public var outputPerMillion: Double
    /// Price of input tokens served from the provider's prompt cache; nil charges them as other input.
    public var cachedInputPerMillion: Double?
    /// Prices of requests sent as a provider batch job (`"mode": "batch"`); nil charges them at the list prices.
    public var batchInputPerMillion: Double?
    public var batchOutputPerMillion: Double?

    public init(inputPerMillion: Double, outputPerMillion: Double, cachedInputPerMillion: Double? = nil) {
        self.inputPerMillion = inputPerMillion; self.outputPerMillion = outputPerMillion; self.cachedInputPerMillion = cachedInputPerMillion
    }

    public static func read(options: JSON, path: String) -> (options: APIPricing?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { p, issues in
            p.rejectUnknownKeys(["input_per_million", "output_per_million", "cached_input_per_million", "batch_input_per_million",
                                 "batch_output_per_million"], issues: &issues)
            let input = p.number("input_per_million", required: true, range: 0...1e9, rangeText: priceText, issues: &issues)
            let output = p.number("output_per_million", required: true, range: 0...1e9, rangeText: priceText, issues: &issues)
            let cached = p.number("cached_input_per_million", range: 0...1e9, rangeText: priceText, issues: &issues)
            let batchInput = p.number("batch_input_per_million", range: 0...1e9, rangeText: priceText, issues: &issues)
            let batchOutput = p.number("batch_output_per_million", range: 0...1e9, rangeText: priceText, issues: &issues)
            if (batchInput == nil) != (batchOutput == nil) {
                issues.add(ConfigIssue(path: p.path, expected: "batch_input_per_million and batch_output_per_million together",
                                       found: batchInput == nil ? "batch_output_per_million alone" : "batch_input_per_million alone"))
            }
            guard let input, let output else { return nil }
            var pricing = APIPricing(inputPerMillion: input, outputPerMillion: output, cachedInputPerMillion: cached)
            pricing.batchInputPerMillion = batchInput
            pricing.batchOutputPerMillion = batchOutput
            return pricing
        }
    }

    public func requestCost(_ usage: RequestUsage) -> Double? {
        let input = Double(usage.inputTokens ?? 0), cached = min(Double(usage.cachedInputTokens ?? 0), input)
        if usage.batch, let batchInputPerMillion, let batchOutputPerMillion {
            // Batch prices cover every input token alike: providers do not combine the two discounts here.
            return (input * batchInputPerMillion + Double(usage.outputTokens ?? 0) * batchOutputPerMillion) / 1_000_000
        }
        let inputUSD = (input - cached) * inputPerMillion + cached * (cachedInputPerMillion ?? inputPerMillion)
        return (inputUSD + Double(usage.outputTokens ?? 0) * outputPerMillion) / 1_000_000
    }

    public var hourlyPrice: Double? { nil }
    public var followsLatency: Bool { false }
    public var needsCapacity: Bool { false }

    public func describe(concurrency: Int) -> String {
        var text = "API: $\(JSON.formatNumber(inputPerMillion)) / M input tokens"
        if let cachedInputPerMillion { text += " ($\(JSON.formatNumber(cachedInputPerMillion)) / M cached)" }
        text += ", $\(JSON.formatNumber(outputPerMillion)) / M output tokens"
        if let batchInputPerMillion, let batchOutputPerMillion {
            text += "; batch jobs $\(JSON.formatNumber(batchInputPerMillion)) / M input, $\(JSON.formatNumber(batchOutputPerMillion)) / M output"
        }
        return text
    }

    public func monthly(volume: Double, measured: CostMeasurements) -> CostFigure {
        guard let mean = measured.meanRequestCostUSD else { return CostFigure(usd: nil, basis: "no measured request cost") }
        return CostFigure(usd: mean * volume, basis: "measured tokens × list prices: \(Format.usd(mean * 1000)) per 1k requests")
    }

    public func linearRate(_ measured: CostMeasurements) -> Double? { measured.meanRequestCostUSD }
}

/// A machine billed only while it serves: busy seconds × the price (÷ the requests it serves at once),
/// plus any fee per request.
public struct ServerlessPricing: CostModelKind {
    public static let name = "serverless"
    public var perHour: Double
    public var perRequest: Double

    public init(perHour: Double, perRequest: Double = 0) { self.perHour = perHour; self.perRequest = perRequest }

    public static func read(options: JSON, path: String) -> (options: ServerlessPricing?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { p, issues in
            p.rejectUnknownKeys(["per_hour", "per_request"], issues: &issues)
            let hourly = p.number("per_hour", required: true, range: 0...1e9, rangeText: priceText, issues: &issues)
            let fee = p.number("per_request", range: 0...1e9, rangeText: priceText, issues: &issues) ?? 0
            return hourly.map { ServerlessPricing(perHour: $0, perRequest: fee) }
        }
    }

    public func requestCost(_ usage: RequestUsage) -> Double? {
        perHour / 3600 * (usage.latencyMs / 1000) / Double(max(1, usage.concurrency)) + perRequest
    }

    public var hourlyPrice: Double? { perHour }
    public var followsLatency: Bool { true }
    public var needsCapacity: Bool { false }

    public func describe(concurrency: Int) -> String {
        var text = "serverless at $\(JSON.formatNumber(perHour)) / busy hour; per request = latency × price ÷ \(concurrency) concurrent"
        if perRequest > 0 { text += " + $\(JSON.formatNumber(perRequest)) a request" }
        return text
    }

    public func monthly(volume: Double, measured: CostMeasurements) -> CostFigure {
        guard let mean = measured.meanRequestCostUSD else { return CostFigure(usd: nil, basis: "no measured busy time") }
        return CostFigure(usd: mean * volume, basis: "measured busy time × price: \(Format.usd(mean * 1000)) per 1k requests")
    }

    public func linearRate(_ measured: CostMeasurements) -> Double? { measured.meanRequestCostUSD }
}

/// Machines kept running all month: instances × price per hour × 730 h. The instance count serves the
/// peak rate (the monthly volume spread evenly over the month × `peakFactor`) at one instance's measured
/// throughput, rounded up, and is at least `minInstances`.
public struct DedicatedPricing: CostModelKind {
    public static let name = "dedicated"
    public var perHour: Double
    public var minInstances: Int
    public var peakFactor: Double

    public init(perHour: Double, minInstances: Int = 1, peakFactor: Double = 1) {
        self.perHour = perHour; self.minInstances = minInstances; self.peakFactor = peakFactor
    }

    public static func read(options: JSON, path: String) -> (options: DedicatedPricing?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { p, issues in
            p.rejectUnknownKeys(["per_hour", "min_instances", "peak_factor"], issues: &issues)
            let hourly = p.number("per_hour", required: true, range: 0...1e9, rangeText: priceText, issues: &issues)
            let minimum = p.integer("min_instances", minimum: 0, issues: &issues) ?? 1
            let peak = p.number("peak_factor", range: 1...1e6, rangeText: "a factor ≥ 1 (peak rate ÷ average rate)", issues: &issues) ?? 1
            return hourly.map { DedicatedPricing(perHour: $0, minInstances: minimum, peakFactor: peak) }
        }
    }

    public func requestCost(_ usage: RequestUsage) -> Double? { nil }
    public var hourlyPrice: Double? { perHour }
    public var followsLatency: Bool { true }
    public var needsCapacity: Bool { true }

    public func describe(concurrency: Int) -> String {
        "dedicated at $\(JSON.formatNumber(perHour)) / instance-hour, always on (\(JSON.formatNumber(hoursPerMonth)) h a month); "
            + "instances for \(JSON.formatNumber(peakFactor))× the average rate at the measured throughput, at least \(minInstances)"
    }

    /// Instances needed at `volume` requests a month with one instance serving `capacity` requests a second.
    public func instances(volume: Double, capacity: Double) -> Int {
        let peak = volume / (hoursPerMonth * 3600) * peakFactor
        let needed = (peak / capacity).rounded(.up)
        guard needed.isFinite, needed < 1e9 else { return Int(1e9) }
        return max(minInstances, Int(needed))
    }

    public func monthly(volume: Double, measured: CostMeasurements) -> CostFigure {
        guard let capacity = measured.capacity, capacity.requestsPerSecond > 0 else {
            return CostFigure(usd: nil, basis: "throughput not measured, so the instances needed are unknown")
        }
        let n = instances(volume: volume, capacity: capacity.requestsPerSecond)
        return CostFigure(usd: Double(n) * perHour * hoursPerMonth,
                          basis: "\(n) instance\(n == 1 ? "" : "s") × $\(JSON.formatNumber(perHour))/h × \(JSON.formatNumber(hoursPerMonth)) h; one serves "
                              + "\(Format.fixed(capacity.requestsPerSecond, digits: 2)) requests/s at \(capacity.concurrency) in flight (\(capacity.source.rawValue))")
    }

    public func linearRate(_ measured: CostMeasurements) -> Double? { nil }
}

private let priceText = "a price in USD ≥ 0"

extension Catalog {
    /// This catalog with `kind` added, read by its own `read`.
    public func adding(_ kind: any CostModelKind.Type) -> Catalog {
        addingCostModel(kind.name) { options, path in
            let (read, issues) = kind.read(options: options, path: path)
            return (read, issues)
        }
    }

    /// The providers, scorers and cost models evalkit has.
    public static let standard = Catalog()
        .adding(OpenAISettings.self).adding(AnthropicSettings.self).adding(CommandSettings.self).adding(BuiltinSettings.self)
        .adding(LabelMatchOptions.self).adding(FieldMatchOptions.self).adding(AnswerMatchOptions.self).adding(OverlapOptions.self)
        .adding(JudgeOptions.self)
        .adding(APIPricing.self).adding(DedicatedPricing.self).adding(ServerlessPricing.self)
}

extension ExperimentLoader {
    /// Loads the experiment at `path` with evalkit's providers, scorers and cost models.
    public static func load(path: String) throws(ConfigError) -> Experiment { try load(path: path, catalog: .standard) }

    /// Builds an experiment from parsed JSON with evalkit's providers, scorers and cost models.
    public static func parse(_ json: JSON, configPath: String, baseDirectory: String, hash: String) throws(ConfigError) -> Experiment {
        try parse(json, configPath: configPath, baseDirectory: baseDirectory, hash: hash, catalog: .standard)
    }
}
