/// analysis.json: every statistic report.md shows, as data, so a reader (or `evalkit verify`) can
/// check each figure without parsing Markdown. Written here and nowhere else.
public enum AnalysisFile {
    public static let name = "analysis.json"
    /// Version of the layout; a reader refuses newer ones. 3 added each candidate's `score_parts` and `judge`;
    /// 4 added `data_efficiency` and `fine_tunes` (Step 4).
    public static let schema = 4

    /// The analysis as analysis.json holds it.
    public static func json(_ a: DecisionAnalysis) -> JSON {
        let p = a.policy
        var verdict: [(String, JSON)]
        switch a.verdict {
        case .keepFoundation(let id): verdict = [("kind", .string("keep-foundation")), ("candidate", .string(id))]
        case .moveTo(let id): verdict = [("kind", .string("move-to")), ("candidate", .string(id))]
        case let .notEnoughEvidence(candidates, fallback):
            verdict = [("kind", .string("not-enough-evidence")), ("candidates", .array(candidates.map(JSON.string))),
                       ("fallback", fallback.map(JSON.string) ?? .null)]
        case .noneQualifies: verdict = [("kind", .string("none-qualifies"))]
        }
        return .object([
            ("schema", .number(Double(schema))),
            ("policy", .object([
                ("alpha", .number(p.alpha)), ("power", .number(p.power)), ("margin", .number(p.margin)),
                ("max_error_rate", .number(p.maxErrorRate)), ("min_accuracy", number(p.minAccuracy)),
                ("min_accuracy_by", .string(p.minAccuracyBy.rawValue)), ("max_p95_latency_ms", number(p.maxP95LatencyMs)),
                ("max_cost_per_1k_usd", number(p.maxCostPer1kUSD)), ("monthly_requests", .number(p.monthlyRequests)),
                ("horizon_months", .number(p.horizonMonths)),
            ])),
            ("reference", .object([("candidate", a.referenceID.map(JSON.string) ?? .null), ("reason", .string(a.referenceReason))])),
            ("verdict", .object(verdict)),
            ("comparisons_with_reference", .number(Double(a.comparisons))),
            ("candidates", .array(a.assessments.map(candidate))),
            ("prompt_comparison", a.promptComparison.map(comparison) ?? .null),
            ("dynamic_comparisons", .array(a.dynamicComparisons.map(comparison))),
            ("rival_comparisons", .array(a.rivalComparisons.map(comparison))),
            ("judge", a.judge.map(judge) ?? .null),
            ("data_efficiency", .array(a.dataEfficiency.map(curve))),
            ("fine_tunes", a.fineTunes.map(fineTunes) ?? .null),
        ])
    }

    static func curve(_ c: DataEfficiencyCurve) -> JSON {
        .object([
            ("provider", .string(c.provider)), ("prompt", c.prompt.map(JSON.string) ?? .null), ("method", c.method.map(JSON.string) ?? .null),
            ("teacher", c.teacher.map(JSON.string) ?? .null),
            ("points", .array(c.points.map { p in
                .object([("candidate", .string(p.candidate)), ("examples", integer(p.examples)), ("accuracy", number(p.accuracy)),
                         ("accuracy_low", number(p.low)), ("accuracy_high", number(p.high)), ("non_inferior", p.nonInferior.map(JSON.bool) ?? .null),
                         ("qualifies", .bool(p.qualifies))])
            })),
            ("smallest_non_inferior", c.smallestNonInferior.map { .string($0.candidate) } ?? .null),
            ("smallest_qualifying", c.smallestQualifying.map { .string($0.candidate) } ?? .null),
            ("labelling_cost_usd", number(c.labellingCostUSD)), ("qualifying_labelling_cost_usd", number(c.qualifyingLabellingCostUSD)),
        ])
    }

    static func fineTunes(_ f: FineTuneComparison) -> JSON {
        .object([
            ("candidates", .array(f.rows.map { r in
                .object([("candidate", .string(r.candidate)), ("method", .string(r.method)), ("examples", integer(r.examples)),
                         ("labels_from", r.labelsFrom.map(JSON.string) ?? .null), ("trainable_parameters", integer(r.trainableParameters)),
                         ("training_seconds", number(r.trainingSeconds)), ("one_time_cost_usd", .number(r.oneTimeCostUSD)),
                         ("adapter_bytes", integer(r.adapterBytes)), ("accuracy", number(r.accuracy)), ("accuracy_low", number(r.accuracyLow)),
                         ("accuracy_high", number(r.accuracyHigh)), ("latency_p50_ms", number(r.latencyP50Ms)), ("latency_p95_ms", number(r.latencyP95Ms))])
            })),
            ("method_comparisons", .array(f.methodComparisons.map(comparison))),
            ("distillations", .array(f.distillations.map { d in
                .object([("student", .string(d.student)), ("teacher", .string(d.teacher)), ("gold_trained", d.goldTrained.map(JSON.string) ?? .null),
                         ("against_teacher", d.againstTeacher.map(comparison) ?? .null), ("against_gold", d.againstGold.map(comparison) ?? .null)])
            })),
        ])
    }

    static func number(_ v: Double?) -> JSON { v.map(JSON.number) ?? .null }
    static func integer(_ v: Int?) -> JSON { v.map { .number(Double($0)) } ?? .null }

    /// The LLM judge's entry.
    static func judge(_ j: JudgeSummary) -> JSON {
        .object([
            ("model", .string(j.modelID)), ("scale", .string(j.scale.rawValue)), ("graded", integer(j.graded)), ("ungraded", integer(j.ungraded)),
            ("cached_calls", integer(j.cachedCalls)), ("cost_usd", number(j.costUSD)), ("decides", .bool(j.decides)),
            ("calibration", j.calibration.map { c in
                .object([("count", integer(c.count)), ("agreement", .number(c.agreement)), ("kappa", number(c.kappa)),
                         ("bias", .number(c.bias)), ("confusion", .array(c.confusion.map { .array($0.map { .number(Double($0)) }) }))])
            } ?? .null),
            ("trust", .string(j.trust)),
        ])
    }

    /// One candidate's entry.
    public static func candidate(_ c: CandidateAssessment) -> JSON {
        let m = c.metrics
        let breakEven: JSON
        switch c.breakEven {
        case .above(let v): breakEven = .object([("above", .number(v))])
        case .below(let v): breakEven = .object([("below", .number(v))])
        case .always: breakEven = .string("always")
        case .never: breakEven = .string("never")
        case .notApplicable: breakEven = .null
        }
        return .object([
            ("candidate", .string(m.candidate)), ("model", .string(m.model)), ("prompt", m.prompt.map(JSON.string) ?? .null),
            ("role", .string(m.role.rawValue)), ("requests", integer(m.requests)), ("answered", integer(m.answered)),
            ("errors", integer(m.errors)), ("correct", integer(m.correct)), ("invalid", integer(m.invalid)),
            ("accuracy", number(m.accuracy)), ("accuracy_low", number(c.accuracyLow)), ("accuracy_high", number(c.accuracyHigh)),
            ("accuracy_answered", number(m.answeredAccuracy)), ("macro_f1", number(m.macroF1)), ("invalid_rate", number(m.invalidRate)),
            ("error_rate", .number(m.errorRate)), ("consistency", number(c.consistency)),
            ("repeat_accuracies", .array(c.repeatAccuracies.map(JSON.number))),
            ("latency_p50_ms", number(m.latencyP50Ms)), ("latency_p95_ms", number(m.latencyP95Ms)),
            ("latency_total_p50_ms", number(m.latencyTotalP50Ms)), ("latency_total_p95_ms", number(m.latencyTotalP95Ms)),
            ("streamed_answers", integer(m.streamedAnswers)), ("ttft_p50_ms", number(m.timeToFirstTokenP50Ms)),
            ("ttft_p95_ms", number(m.timeToFirstTokenP95Ms)), ("output_tokens_per_second", number(m.outputTokensPerSecond)),
            ("mean_input_tokens", number(m.meanInputTokens)), ("mean_output_tokens", number(m.meanOutputTokens)),
            ("tokens_estimated", .bool(m.tokensEstimated)), ("measured_cost_per_1k_usd", number(m.costPer1kUSD)),
            ("cost_per_1k_usd", number(c.costPer1kUSD)), ("monthly_cost_basis", .string(c.monthlyCostBasis)),
            ("capacity", c.capacity.map { .object([("requests_per_second", .number($0.requestsPerSecond)), ("concurrency", integer($0.concurrency)),
                                                   ("source", .string($0.source.rawValue))]) } ?? .null),
            ("one_time_cost_usd", .number(c.oneTimeCostUSD)), ("one_time_cost_source", .string(c.oneTimeCostSource)),
            ("monthly_cost_usd", number(c.monthlyCostUSD)), ("horizon_cost_usd", number(c.horizonCostUSD)), ("break_even", breakEven),
            ("requirement_failures", .array(c.requirementFailures.map(JSON.string))),
            ("score_parts", .array(m.scoreParts.map { .object([("name", .string($0.name)), ("mean", .number($0.mean)), ("count", integer($0.count))]) })),
            ("label_scores", .array(c.labelScores.map(labelScore))),
            ("confusion", .array(c.confusion.map(row))),
            ("comparison", c.comparison.map(comparison) ?? .null),
            ("non_inferiority", c.nonInferiority.map { t in
                .object([("status", .string(t.status.rawValue)), ("p", .number(t.pValue)), ("p_holm", .number(t.pValueHolm)),
                         ("examples_needed", integer(t.examplesNeeded))])
            } ?? .null),
            ("qualifies", .bool(c.qualifies)), ("recommended", .bool(c.recommended)),
            ("cached_answers", integer(m.cachedAnswers)), ("requests_sent", integer(m.attempts)),
        ])
    }

    static func labelScore(_ l: MetricsCalculator.LabelScore) -> JSON {
        .object([("label", .string(l.label)), ("precision", number(l.precision)), ("recall", number(l.recall)),
                 ("f1", .number(l.f1)), ("support", integer(l.support))])
    }

    static func row(_ counts: [Int]) -> JSON { .array(counts.map { .number(Double($0)) }) }

    static func comparison(_ c: PairedComparison) -> JSON {
        .object([
            ("candidate", .string(c.candidate)), ("against", .string(c.reference)), ("pairs", integer(c.pairs)),
            ("only_candidate_right", integer(c.candidateBetter)), ("only_against_right", integer(c.referenceBetter)),
            ("difference", .number(c.difference)), ("ci_low", .number(c.low)), ("ci_high", .number(c.high)),
            ("method", .string(c.method.rawValue)), ("p", .number(c.pValue)), ("p_holm", .number(c.pValueHolm)),
            ("minimum_detectable", number(c.minimumDetectable)), ("needed_for_margin", integer(c.neededForMargin)),
        ])
    }

    /// JSON paths where two documents differ (at most `limit`), for naming what a tampered file changed.
    public static func differences(_ found: JSON, _ expected: JSON, path: String = "$", limit: Int = 20) -> [String] {
        var out: [String] = []
        collect(found, expected, path: path, into: &out, limit: limit)
        return out
    }

    static func collect(_ found: JSON, _ expected: JSON, path: String, into out: inout [String], limit: Int) {
        guard out.count < limit else { return }
        switch (found, expected) {
        case let (.object(a), .object(b)):
            let keys = b.map(\.0) + a.map(\.0).filter { key in !b.contains { $0.0 == key } }
            for key in keys {
                let x = a.first { $0.0 == key }?.1, y = b.first { $0.0 == key }?.1
                guard let x, let y else {
                    out.append("\(path).\(key): " + (x == nil ? "missing" : "not expected"))
                    continue
                }
                collect(x, y, path: path + "." + key, into: &out, limit: limit)
            }
        case let (.array(a), .array(b)) where a.count == b.count:
            for i in a.indices { collect(a[i], b[i], path: "\(path)[\(i)]", into: &out, limit: limit) }
        default:
            // Compared as written, to the last bit: the analysis is computed in a fixed order every time.
            if found.encoded() != expected.encoded() { out.append("\(path): found \(Text.preview(found.encoded(), limit: 60)), recomputed \(Text.preview(expected.encoded(), limit: 60))") }
        }
    }
}
