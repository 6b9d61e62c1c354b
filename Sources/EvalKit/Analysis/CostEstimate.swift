/// What one candidate is expected to cost before any request is sent (`compare --dry-run`).
public struct CandidateEstimate: Sendable {
    public var candidate: String
    public var requests: Int
    /// Input tokens estimated from the rendered prompts at about 4 characters a token.
    public var estimatedInputTokens: Int
    /// Output tokens at most (`max_tokens` × requests).
    public var maxOutputTokens: Int
    /// USD at most, for per-token pricing; nil where it cannot be known before running.
    public var estimatedCostUSD: Double?
    /// How the cost figure was reached, or why there is none.
    public var note: String
}

/// The estimate for a whole run.
public struct RunEstimate: Sendable {
    public var candidates: [CandidateEstimate]
    /// Sum of the candidates whose cost could be estimated.
    public var totalUSD: Double { candidates.compactMap(\.estimatedCostUSD).reduce(0, +) }
    public var requests: Int { candidates.reduce(0) { $0 + $1.requests } }
    /// True when the estimate exceeds `budget` (USD): such a run does not start.
    public func exceeds(_ budget: Double?) -> Bool { budget.map { totalUSD > $0 } ?? false }
}

/// Renders every request of a run to estimate its tokens and cost without sending anything.
public enum CostEstimator {
    /// `selections` holds the similar examples chosen per prompt and input (step 2), where there are such prompts.
    public static func estimate(experiment: Experiment, test: [Example], builders: [String: PromptBuilder],
                                selections: [String: [String: [Example]]] = [:]) -> RunEstimate {
        let repeats = experiment.run.repeats
        let candidates = experiment.candidates.map { candidate -> CandidateEstimate in
            let model = experiment.model(candidate.modelID)
            let requests = test.count * repeats
            guard model?.provider.usesPrompts == true else {
                return CandidateEstimate(candidate: candidate.id, requests: requests, estimatedInputTokens: 0, maxOutputTokens: 0,
                                         estimatedCostUSD: 0, note: "in-process model: no tokens; machine time is measured when it runs")
            }
            let builder = candidate.promptID.flatMap { builders[$0] }
            var input = 0
            for example in test {
                let chosen = candidate.promptID.flatMap { selections[$0]?[example.id] }
                input += Text.estimatedTokens(builder?.render(input: example.input, examples: chosen).completionText ?? example.input)
            }
            input *= repeats
            let maxOutput = (model?.provider.maxOutputTokens ?? 0) * requests
            var cost: Double? = nil
            var note: String
            if let pricing = model?.pricing?.model {
                if pricing.followsLatency {
                    note = "\(pricing.name): cost follows from measured time, not estimated"
                } else {
                    // Prices are linear in tokens, so the run's total prices like one request of all its tokens.
                    let batch = model?.batch != nil
                    cost = pricing.requestCost(RequestUsage(inputTokens: input, outputTokens: maxOutput, batch: batch))
                    note = "estimated input tokens at the full input price, output at max_tokens (an upper bound)"
                        + (batch ? "; one batch job, at the batch price where the pricing gives one" : "")
                }
            } else {
                note = "no pricing given"
            }
            return CandidateEstimate(candidate: candidate.id, requests: requests, estimatedInputTokens: input,
                                     maxOutputTokens: maxOutput, estimatedCostUSD: cost, note: note)
        }
        return RunEstimate(candidates: candidates)
    }
}
