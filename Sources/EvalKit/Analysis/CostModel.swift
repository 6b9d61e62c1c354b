/// Turns a model's pricing and one request's measurements into USD.
public enum CostModel {
    /// Cost of one answered request. Per-token pricing uses the token counts; per-hour pricing
    /// charges the request's share of the machine: latency × price ÷ requests served at once.
    public static func cost(pricing: Pricing?, inputTokens: Int?, outputTokens: Int?, latencyMs: Double, concurrency: Int) -> Double? {
        guard let pricing else { return nil }
        switch pricing.basis {
        case let .perToken(inputPerMillion, outputPerMillion):
            return (Double(inputTokens ?? 0) * inputPerMillion + Double(outputTokens ?? 0) * outputPerMillion) / 1_000_000
        case let .perHour(usdPerHour):
            return usdPerHour / 3600 * (latencyMs / 1000) / Double(max(1, concurrency))
        }
    }

    /// How a model's price is stated in reports.
    public static func describe(_ pricing: Pricing?, concurrency: Int) -> String {
        guard let pricing else { return "no pricing given" }
        var text: String
        switch pricing.basis {
        case let .perToken(input, output):
            text = "$\(JSON.formatNumber(input)) / M input tokens, $\(JSON.formatNumber(output)) / M output tokens"
        case let .perHour(hourly):
            text = "self-hosted at $\(JSON.formatNumber(hourly)) / hour; per request = latency × price ÷ \(concurrency) concurrent"
        }
        let origin = [pricing.source, pricing.date.map { "as of \($0)" }].compactMap { $0 }.joined(separator: ", ")
        if !origin.isEmpty { text += " (\(origin))" }
        return text
    }
}
