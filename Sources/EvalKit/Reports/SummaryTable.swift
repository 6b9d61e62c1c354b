/// summary.csv: one row per candidate, one column per figure, a stable header. Everything in it
/// follows from results.jsonl, the config and the measured training times, so `evalkit verify`
/// can recompute it.
public enum SummaryTable {
    /// Column names, in order.
    public static let columns = [
        "candidate", "model", "prompt", "role", "requests", "answered", "errors", "correct", "invalid",
        "accuracy", "accuracy_ci_low", "accuracy_ci_high", "accuracy_answered", "macro_f1", "invalid_rate", "error_rate", "consistency",
        "latency_p50_ms", "latency_p95_ms", "mean_input_tokens", "mean_output_tokens", "tokens_estimated",
        "cost_per_1k_usd", "pricing", "reference", "paired_examples", "diff_vs_reference", "diff_ci_low", "diff_ci_high",
        "p_value", "p_value_holm", "non_inferiority", "non_inferiority_p", "non_inferiority_p_holm", "examples_needed", "monthly_cost_usd", "one_time_cost_usd", "horizon_cost_usd", "break_even_monthly_requests",
        "meets_requirements", "non_inferior", "recommended", "cached_answers", "requests_sent",
    ]

    /// The whole file.
    public static func csv(experiment: Experiment, analysis: DecisionAnalysis) -> String {
        var out = CSV.row(columns)
        for a in analysis.assessments { out += CSV.row(row(a, experiment: experiment, analysis: analysis)) }
        return out
    }

    static func number(_ v: Double?, _ digits: Int) -> String { v.map { Format.fixed($0, digits: digits) } ?? "" }
    static func flag(_ v: Bool?) -> String { v.map { $0 ? "true" : "false" } ?? "" }

    static func row(_ a: CandidateAssessment, experiment: Experiment, analysis: DecisionAnalysis) -> [String] {
        let m = a.metrics
        let c = a.comparison
        let pricing = experiment.model(m.model)?.pricing?.model.name ?? "none"
        let breakEven: String
        switch a.breakEven {
        case .above(let v): breakEven = ">" + Format.fixed(v, digits: 0)
        case .below(let v): breakEven = "<" + Format.fixed(v, digits: 0)
        case .always: breakEven = "always"
        case .never: breakEven = "never"
        case .notApplicable: breakEven = ""
        }
        return [
            m.candidate, m.model, m.prompt ?? "", m.role.rawValue, String(m.requests), String(m.answered), String(m.errors),
            String(m.correct), String(m.invalid), number(m.accuracy, 4), number(a.accuracyLow, 4), number(a.accuracyHigh, 4),
            number(m.answeredAccuracy, 4),
            number(m.macroF1, 4), number(m.invalidRate, 4), Format.fixed(m.errorRate, digits: 4), number(a.consistency, 4),
            number(m.latencyP50Ms, 3), number(m.latencyP95Ms, 3), number(m.meanInputTokens, 2), number(m.meanOutputTokens, 2),
            m.tokensEstimated ? "true" : "false", number(a.costPer1kUSD, 6), pricing,
            analysis.referenceID ?? "", c.map { String($0.pairs) } ?? "", number(c?.difference, 4), number(c?.low, 4),
            number(c?.high, 4), number(c?.pValue, 6), number(c?.pValueHolm, 6),
            a.nonInferiority?.status.rawValue ?? "", number(a.nonInferiority?.pValue, 6), number(a.nonInferiority?.pValueHolm, 6),
            a.nonInferiority?.examplesNeeded.map(String.init) ?? "", number(a.monthlyCostUSD, 4),
            number(a.oneTimeCostUSD, 4), number(a.horizonCostUSD, 4), breakEven,
            flag(m.answered > 0 ? a.requirementFailures.isEmpty : false), flag(a.nonInferior), flag(a.recommended),
            String(m.cachedAnswers), String(m.attempts),
        ]
    }
}
