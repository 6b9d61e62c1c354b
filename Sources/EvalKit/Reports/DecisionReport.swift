import Foundation

/// report.md: the decision document, in the order of the guidance's four steps.
public enum DecisionReport {
    public static let accuracyCostFile = "accuracy-vs-cost.svg"
    public static let latencyFile = "latency.svg"
    public static let capacityFile = "capacity.svg"

    public static func markdown(_ s: RunSummary) -> String {
        let e = s.experiment
        var md = "# \(Markdown.cell(e.name)): decision report\n\n"
        if let description = e.description { md += Markdown.cell(description) + "\n\n" }
        // Times and durations live in this one block so that re-runs differ only here.
        md += "<!-- run-header: times and durations; everything below depends only on inputs and answers -->\n"
        md += "Run `\(s.runID)`, started \(s.startedAt.iso8601), took \(Format.fixed(s.durationSeconds, digits: 1)) s"
        let builtin = s.training.filter { $0.source == RunSummary.TrainingSummary.builtinSource }
        if !builtin.isEmpty {
            md += "; builtin training " + builtin.map { "\($0.modelID) \(Format.fixed($0.seconds, digits: 2)) s" }.joined(separator: ", ")
        }
        md += ".\n<!-- /run-header -->\n\n"
        md += "evalkit \(s.evalkitVersion) · config `\(Markdown.cell(e.configPath))` · sha256 `\(e.configHash.prefix(16))` · "
        md += "\(s.evaluatedExamples) test examples"
        let beforeSharding = s.examplesBeforeSharding ?? s.evaluatedExamples
        let total = s.splits.first(where: { $0.name == "test" })?.count
        let subset = total.map { $0 == beforeSharding ? "" : "the first \(beforeSharding) of \($0)" } ?? ""
        if let shard = s.shard?.shard {
            md += " (shard \(shard.index) of \(shard.count), chosen by a hash of each example's id, from \(subset.isEmpty ? "all \(beforeSharding)" : subset))"
        } else if !subset.isEmpty {
            md += " (\(subset))"
        }
        md += e.run.repeats > 1 ? " × \(e.run.repeats) repeats" : ""
        md += "\n\n"
        if let warning = limitedSampleWarning(s) { md += "> **Unrepresentative sample:** \(warning)\n\n" }
        if let stop = s.stopReason {
            let made = s.metrics.reduce(0) { $0 + $1.requests }
            md += "> **Stopped early:** \(Markdown.cell(stop)). \(made) of \(s.plannedRequests) planned requests were made; every figure below covers only those.\n\n"
        }
        if let failure = s.runFailure {
            md += "> **Run failed:** \(Markdown.cell(failure)). Everything it got is kept below.\n\n"
        }
        let cached = s.metrics.reduce(0) { $0 + $1.cachedAnswers }
        if cached > 0 {
            md += "\(cached) of \(s.metrics.reduce(0) { $0 + $1.answered }) answers came from the response cache (`.evalkit/cache/`); "
            md += "their latency is the one measured when each was first obtained.\n\n"
        }
        md += decision(s)
        md += stepOne(s)
        md += stepTwo(s)
        md += stepThree(s)
        md += stepFour(s)
        md += appendix(s)
        return md
    }

    // MARK: Decision

    static func decision(_ s: RunSummary) -> String {
        let a = s.analysis
        let p = a.policy
        var md = "## Decision\n\n"
        let reference = a.referenceID.flatMap(a.assessment)
        switch a.verdict {
        case .keepFoundation(let id):
            guard let chosen = a.assessment(id) else { break }
            md += "**Keep prompting the foundation model: \(Markdown.cell(id))** (prompt `\(Markdown.cell(chosen.metrics.prompt ?? "-"))`). "
            md += "It reaches \(accuracyWithInterval(chosen, p, s.experiment.task.scorer.scoreName)), meets every requirement, and "
            if let cost = chosen.horizonCostUSD {
                md += cheaperThanChosen(a, chosen).isEmpty ? "is the cheapest qualifying candidate over \(horizonText(p)): \(Format.usd(cost))"
                    : "costs \(Format.usd(cost)) over \(horizonText(p))"
            } else {
                // Priced candidates rank before unpriced ones, so none that qualified had a price.
                md += "is the most accurate qualifying candidate (no qualifying candidate has a price, so cost could not rank them)"
            }
            md += chosen.id == a.referenceID ? ". " : " (\(comparisonText(chosen.comparison, p))). "
            md += tieText(a, chosen) + unweighedText(a, chosen) + rivalsText(a, chosen: chosen)
        case .moveTo(let id):
            guard let chosen = a.assessment(id) else { break }
            md += "**Move to the \(kindWord(s.experiment, chosen.metrics)): \(Markdown.cell(id)).** "
            md += "It reaches \(accuracyWithInterval(chosen, p, s.experiment.task.scorer.scoreName))"
            if let reference, let c = chosen.comparison {
                md += " against \(accuracyWithInterval(reference, p, s.experiment.task.scorer.scoreName)) for the reference \(Markdown.cell(reference.id)): \(comparisonText(c, p)); "
                md += nonInferiorityText(chosen, p)
            }
            if chosen.id == a.referenceID {
                md += ". Over \(horizonText(p)) it costs \(Format.usd(chosen.horizonCostUSD))\(oneTimeText(chosen)); "
                md += "p95 latency \(ms(chosen.metrics.latencyP95Ms)). It is the reference itself: \(a.referenceReason), so nothing was tested against "
                md += "a prompted foundation model. " + unweighedText(a, chosen) + rivalsText(a, chosen: chosen)
            } else {
                md += ". Over \(horizonText(p)) it costs \(Format.usd(chosen.horizonCostUSD))\(oneTimeText(chosen))"
                if let reference { md += " against \(Format.usd(reference.horizonCostUSD)) for the reference\(oneTimeText(reference))" }
                md += "; p95 latency \(ms(chosen.metrics.latencyP95Ms))"
                if let reference { md += " against \(ms(reference.metrics.latencyP95Ms))" }
                md += ". " + breakEvenSentence(chosen) + " " + tieText(a, chosen) + unweighedText(a, chosen) + rivalsText(a, chosen: chosen)
            }
        case let .notEnoughEvidence(candidates, fallback):
            md += "**Not enough evidence to decide.** "
            for id in candidates {
                guard let c = a.assessment(id), let cmp = c.comparison, let test = c.nonInferiority else { continue }
                md += "\(Markdown.cell(id)) meets every requirement and would be the cheaper choice (\(Format.usd(c.horizonCostUSD)) over \(horizonText(p))), "
                md += "but the data cannot yet tell whether it is as accurate as the reference \(Markdown.cell(cmp.reference)) within the margin: "
                md += "\(comparisonText(cmp, p)); " + inconclusiveText(cmp, test, a) + ". " + capitalised(examplesNeededText(test, cmp, p)) + ". "
            }
            if let fallback, let chosen = a.assessment(fallback) {
                md += "Until then, the candidate that qualifies on this evidence is \(Markdown.cell(fallback)) (\(accuracyWithInterval(chosen, p, s.experiment.task.scorer.scoreName)), "
                md += "\(Format.usd(chosen.horizonCostUSD)) over the horizon)."
            } else {
                md += "No other candidate qualifies on this evidence."
            }
        case .noneQualifies:
            md += "**No candidate qualifies.** Each one misses a requirement or the non-inferiority margin:\n\n"
            for c in a.assessments {
                md += "- \(Markdown.cell(c.id)): " + (reasons(c, p).isEmpty ? "meets every requirement" : reasons(c, p).map(Markdown.cell).joined(separator: "; ")) + "\n"
            }
        }
        md += "\n\nScoring (`$.task.scorer`): \(s.experiment.task.scorer.reportLine). "
        if resampled(a) {
            md += "\(capitalised(s.experiment.task.scorer.scoreName)) here is the mean score over the requests, a failed request scoring 0; Step 3 shows it over answered requests beside it. "
            md += "Intervals are at \(level(p)): where every score is 0 or 1, Wilson for an accuracy and Tango's score interval for a paired "
            md += "difference; otherwise a percentile bootstrap of the mean (2,000 resamples, fixed seed).\n\n"
        } else {
            let word = s.experiment.task.scorer.scoreName
            md += "\(capitalised(word)) here counts a failed request as wrong (correct ÷ requests); Step 3 shows \(word) over answered requests beside it. "
            md += "Intervals are at \(level(p)): Wilson for an accuracy, Tango's score interval for a paired difference.\n\n"
        }
        md += "Policy (`$.decision`): " + policyText(p, s.experiment.task.scorer.scoreName) + ". Reference: "
        md += a.referenceID.map { "**\(Markdown.cell($0))** (\($0 == p.reference ? "named in the config" : a.referenceReason))" } ?? a.referenceReason
        md += referencePromptText(s) + ".\n"
        md += labelMixText(s)
        // Warnings in the order of what they could change in the verdict: what undermines the chosen
        // candidate's evidence first, then what touches other candidates.
        var ranked: [(rank: Int, text: String)] = []
        var warnings: [String] { ranked.sorted { $0.rank < $1.rank }.map(\.text) }
        func warn(_ rank: Int, _ text: String) { ranked.append((rank, text)) }
        let chosenID = a.recommended?.id
        for failure in s.modelFailures { warn(3, "model **\(Markdown.cell(failure.model))** was not used: \(Markdown.cell(failure.reason))") }
        for c in a.assessments where c.metrics.answered > 0 && c.metrics.errorRate > p.maxErrorRate {
            warn(c.id == chosenID || c.id == a.referenceID ? 1 : 3, "\(Markdown.cell(c.id)) failed on \(Format.percent(c.metrics.errorRate)) of its requests; they count as wrong answers")
        }
        // Power where the verdict rests on an unsettled comparison (every comparison's power is in Step 3).
        var resting: [String] = a.recommended.map { [$0.id] } ?? []
        if case let .notEnoughEvidence(candidates, fallback) = a.verdict { resting = candidates + (fallback.map { [$0] } ?? []) }
        for id in resting where a.assessment(id)?.nonInferiority?.status != .shown {
            guard let comparison = a.assessment(id)?.comparison else { continue }
            let detectable = comparison.minimumDetectable
            if detectable == nil || (detectable ?? 0) > p.margin {
                warn(2, "\(Markdown.cell(id)) vs the reference: " + powerText(comparison, p) + ": too few for differences as small as the margin")
            }
        }
        let trainedChosen = a.recommended.map { $0.metrics.role == .fineTuned } ?? false
        for f in s.audit?.critical ?? [] {
            // Leaked test texts favour trained candidates: first when the verdict chose one.
            warn(trainedChosen ? 0 : 2, "data audit: \(f.count) \(Markdown.cell(f.title)) — the comparison favours models trained on them (see Step 4)")
        }
        if let judge = a.judge, judge.decides {
            let sentence = "this verdict rests on the grades of an LLM judge (\(Markdown.cell(judge.modelID))), \(judge.trust)"
            warn(0, judge.isWeak ? sentence + "; add or check human grades (`human_answer`, `human_grade`) before acting on it" : sentence)
        }
        if !warnings.isEmpty { md += "\nRead with care:\n\n" + warnings.map { "- " + $0 + "\n" }.joined() }
        return md + "\n"
    }

    /// What kind of model a candidate is, in the verdict's words: evalkit's builtin model is a trained n-gram
    /// classifier, not a fine-tuned LLM.
    static func kindWord(_ e: Experiment, _ m: CandidateMetrics) -> String {
        if e.model(m.model)?.provider.name == BuiltinSettings.name { return "trained classifier" }
        return m.role == .fineTuned ? "fine-tuned model" : "smaller model"
    }

    /// ", including a one-time cost of $X (source)" when a candidate has one; nothing for none.
    static func oneTimeText(_ c: CandidateAssessment) -> String {
        c.oneTimeCostUSD > 0 ? " (including a one-time cost of \(Format.usd(c.oneTimeCostUSD)): \(Markdown.cell(c.oneTimeCostSource)))" : ""
    }

    /// Whether the reference is its model's most accurate prompt (when the model ran several).
    static func referencePromptText(_ s: RunSummary) -> String {
        let a = s.analysis
        guard let reference = a.referenceID.flatMap(a.assessment), reference.metrics.prompt != nil else { return "" }
        let siblings = a.assessments.filter { $0.metrics.model == reference.metrics.model && $0.metrics.answered > 0 && $0.id != reference.id }
        guard !siblings.isEmpty, let refAccuracy = reference.metrics.accuracy else { return "" }
        let best = siblings.filter { ($0.metrics.accuracy ?? 0) > refAccuracy }.max { ($0.metrics.accuracy ?? 0) < ($1.metrics.accuracy ?? 0) }
        guard let best else { return "; it is the most accurate of its model's \(siblings.count + 1) prompts" }
        return "; not its model's most accurate prompt: \(Markdown.cell(best.id)) scored \(Format.percent(best.metrics.accuracy)) against its "
            + "\(Format.percent(refAccuracy)) (Step 1 says whether that difference is real)"
    }

    /// The majority-class rate and the candidates at or below it; candidates that mostly gave one answer.
    static func labelMixText(_ s: RunSummary) -> String {
        let a = s.analysis
        guard let majority = a.majorityClass, majority.examples > 0 else { return "" }
        var md = "\nMajority class: answering \"\(Markdown.cell(majority.label))\" to every example would score \(Format.percent(majority.share)) "
            + "(\(majority.count) of \(majority.examples) evaluated examples)"
        let atOrBelow = a.assessments.filter { $0.metrics.answered > 0 && ($0.metrics.accuracy ?? 0) <= majority.share }
        md += atOrBelow.isEmpty ? "; every candidate scores above it." : "; at or below it: " + atOrBelow.map { "\(Markdown.cell($0.id)) \(Format.percent($0.metrics.accuracy))" }.joined(separator: ", ") + "."
        for d in a.dominantAnswers {
            md += " \(Markdown.cell(d.candidate)) answered \"\(Markdown.cell(d.label))\" \(d.count) times of \(d.answered)."
        }
        return md + "\n"
    }

    /// Why a candidate does not qualify: its requirement failures and its non-inferiority outcome.
    static func reasons(_ c: CandidateAssessment, _ p: DecisionPolicy) -> [String] {
        var out = c.requirementFailures
        if let cmp = c.comparison, let test = c.nonInferiority {
            switch test.status {
            case .inferior:
                out.append("worse than the reference by more than the margin: interval \(points(cmp.low)) to \(points(cmp.high)) lies below −\(Format.fixed(p.margin * 100, digits: 1)) points")
            case .inconclusive:
                out.append("not shown non-inferior: " + inconclusiveText(cmp, test, nil, p) + "; " + examplesNeededText(test, cmp, p))
            case .shown: break
            }
        } else if c.nonInferior == nil && c.metrics.answered > 0 {
            out.append("no examples shared with the reference to test it on")
        }
        return out
    }

    /// Why non-inferiority is not shown: the interval reaches below the margin, or Holm's adjustment took it away.
    static func inconclusiveText(_ c: PairedComparison, _ test: NonInferiorityTest, _ a: DecisionAnalysis?, _ policy: DecisionPolicy? = nil) -> String {
        let p = policy ?? a?.policy ?? DecisionPolicy()
        let margin = "−\(Format.fixed(p.margin * 100, digits: 1)) points"
        let tests = "one-sided score test p = \(Format.fixed(test.pValue, digits: 4)), Holm-adjusted \(Format.fixed(test.pValueHolm, digits: 4)); "
            + "non-inferiority needs p < α/2 = \(JSON.formatNumber(p.alpha / 2))"
        if c.low > -p.margin {
            return "its interval lies above \(margin), but the test does not hold after Holm's adjustment over the comparisons with the reference (\(tests))"
        }
        return "its interval (\(points(c.low)) to \(points(c.high))) reaches below \(margin), the non-inferiority margin (\(tests))"
    }

    static func capitalised(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    static func nonInferiorityText(_ c: CandidateAssessment, _ p: DecisionPolicy) -> String {
        guard let test = c.nonInferiority else { return "" }
        return "non-inferior: the one-sided score test rejects \"worse by \(Format.fixed(p.margin * 100, digits: 1)) points or more\" "
            + "(\(pEquals(test.pValue)); Holm-adjusted over the comparisons with the reference \(pEquals(test.pValueHolm)), below α/2 = \(JSON.formatNumber(p.alpha / 2)))"
    }

    /// How many more paired examples would settle non-inferiority if the observed difference holds.
    static func examplesNeededText(_ test: NonInferiorityTest, _ c: PairedComparison, _ p: DecisionPolicy) -> String {
        guard let needed = test.examplesNeeded else {
            return "at the observed difference (\(points(c.difference))) more examples would not show it within the margin"
        }
        let more = needed - c.pairs
        let spread = c.method == .proportions ? "discordance \(Format.percent(c.discordance))" : "spread (SD \(Format.fixed(c.differenceStandardDeviation * 100, digits: 1)) pts)"
        let power = "(power \(JSON.formatNumber(p.power)), if the observed difference \(points(c.difference)) and \(spread) hold)"
        return more > 0 ? "about \(more) more paired examples (\(needed) in all) would settle it \(power)"
                        : "the \(c.pairs) paired examples are about what it needs \(power); it sits at the edge, and a few more would settle it"
    }

    /// What these pairs can detect, for every comparison (correct where no difference is detectable).
    static func powerText(_ c: PairedComparison, _ p: DecisionPolicy) -> String {
        let setting = "α \(JSON.formatNumber(p.alpha)), power \(JSON.formatNumber(p.power))"
        var text: String
        if c.method == .resampling {
            let spread = "scores differ on \(Format.percent(c.discordance)); SD of the differences \(Format.fixed(c.differenceStandardDeviation * 100, digits: 1)) pts"
            text = "\(c.pairs) paired examples (\(spread)) " + (c.minimumDetectable.map { "detect differences of \(points($0).dropFirst()) or more" }
                                                              ?? "detect no difference: every pair scored the same") + " (\(setting))"
        } else if let mde = c.minimumDetectable {
            text = "\(c.pairs) paired examples (\(Format.percent(c.discordance)) discordant) detect differences of \(points(mde).dropFirst()) or more (\(setting))"
        } else if c.candidateBetter + c.referenceBetter == 0 {
            text = "\(c.pairs) paired examples with no discordant pair (both right or both wrong on every one) detect no difference (\(setting))"
        } else {
            text = "\(c.pairs) paired examples (\(Format.percent(c.discordance)) discordant) are too few to detect any difference (\(setting))"
        }
        if let needed = c.neededForMargin { text += "; detecting \(Format.fixed(p.margin * 100, digits: 1)) points needs about \(needed)" }
        return text
    }

    static func level(_ p: DecisionPolicy) -> String { Format.fixed((1 - p.alpha) * 100, digits: p.alpha * 100 == (p.alpha * 100).rounded() ? 0 : 1) + "%" }

    static func policyText(_ p: DecisionPolicy, _ word: String = "accuracy") -> String {
        var parts: [String] = []
        if let v = p.minAccuracy {
            parts.append(p.minAccuracyBy == .estimate ? "\(word) ≥ \(Format.percent(v))" : "\(word)'s \(level(p)) lower bound ≥ \(Format.percent(v))")
        }
        if let v = p.maxP95LatencyMs { parts.append("p95 latency ≤ \(Format.fixed(v, digits: 0)) ms") }
        if let v = p.maxCostPer1kUSD { parts.append("cost ≤ \(Format.usd(v)) per 1k requests") }
        parts.append("errors ≤ \(Format.percent(p.maxErrorRate)) of requests")
        parts.append("non-inferiority margin \(Format.fixed(p.margin * 100, digits: 1)) \(word) points")
        parts.append("α = \(JSON.formatNumber(p.alpha)), power \(JSON.formatNumber(p.power))")
        parts.append("\(Format.count(p.monthlyRequests)) requests a month over \(Format.fixed(p.horizonMonths, digits: 0)) months")
        return parts.joined(separator: ", ")
    }

    static func horizonText(_ p: DecisionPolicy) -> String {
        "\(Format.fixed(p.horizonMonths, digits: 0)) months at \(Format.count(p.monthlyRequests)) requests a month"
    }

    static func accuracyWithInterval(_ a: CandidateAssessment, _ p: DecisionPolicy, _ word: String = "accuracy") -> String {
        "\(Format.percent(a.metrics.accuracy)) \(word) (\(level(p)) CI \(Format.percent(a.accuracyLow))–\(Format.percent(a.accuracyHigh)), n = \(a.metrics.requests))"
    }

    static func points(_ v: Double) -> String { (v >= 0 ? "+" : "−") + Format.fixed(abs(v) * 100, digits: 1) + " pts" }

    static func ms(_ v: Double?) -> String { v.map { Format.fixed($0, digits: $0 < 10 ? 2 : 1) + " ms" } ?? "–" }

    /// A paired comparison, naming what it is against.
    static func comparisonText(_ c: PairedComparison?, _ p: DecisionPolicy) -> String {
        guard let c else { return "not tested against the reference" }
        return "\(points(c.difference)) vs \(Markdown.cell(c.reference)) on \(c.pairs) paired examples, \(level(p)) CI \(points(c.low)) to \(points(c.high)), "
            + "\(testName(c)) \(pEquals(c.pValue)) (Holm \(pEquals(c.pValueHolm)))"
    }

    /// The capacity probe's levels, and which one each dedicated cost used.
    static func capacityText(_ s: RunSummary) -> String {
        guard !s.capacity.isEmpty else { return "" }
        let seconds = s.capacity.reduce(0) { $0 + $1.seconds }
        var md = "Capacity probe: one instance of each probed model, sent the candidate's own requests at 1, 2, 4, … in flight until "
        md += "throughput stopped growing, p95 passed the latency requirement or a request failed (no retries, no cache); "
        md += "it took \(Format.fixed(seconds, digits: 1)) s. A dedicated cost uses the knee (★): of the levels with no failure and p95 "
        md += "within the requirement, the fewest in flight that served within 10% of the most requests a second.\n\n"
        md += Markdown.table(["candidate", "in flight", "requests", "errors", "requests / s", "p50", "p95"], s.capacity.map { l in
            let used = s.analysis.assessment(l.candidate)?.capacity
            let mark = used?.source == .probe && used?.concurrency == l.concurrency ? " ★" : ""
            return [l.candidate, String(l.concurrency) + mark, String(l.requests), String(l.errors), Format.fixed(l.requestsPerSecond, digits: 2),
                    ms(l.p50Ms), ms(l.p95Ms)]
        }, alignRight: Set(1...6))
        return md + "\n![Requests per second against requests in flight](\(capacityFile))\n\n"
    }

    /// Time to first token and output speed of the candidates whose answers were streamed.
    static func streamingText(_ s: RunSummary) -> String {
        let streamed = s.metrics.filter { $0.streamedAnswers > 0 }
        guard !streamed.isEmpty else { return "" }
        return " Streamed answers (`\"stream\": true`): " + streamed.map { m in
            let rate = m.outputTokensPerSecond.map { (m.tokensEstimated ? "≈" : "") + Format.fixed($0, digits: 1) + " output tokens a second (median)" }
            return "\(Markdown.cell(m.candidate)) time to first token p50 \(ms(m.timeToFirstTokenP50Ms)), p95 \(ms(m.timeToFirstTokenP95Ms))"
                + (rate.map { ", " + $0 } ?? "") + " over \(m.streamedAnswers) answers"
        }.joined(separator: "; ") + "."
    }

    /// Each model start, measured apart from the latencies above.
    static func coldStartText(_ starts: [ColdStart]?) -> String {
        guard let starts else { return "Cold start: not recorded by the evalkit that made this run." }
        guard !starts.isEmpty else { return "No model was started by evalkit in this run (nothing to warm up), or every answer was cached." }
        return "Cold start, measured apart and in no latency figure (each start of a model evalkit runs, then one warm-up request): "
            + starts.map { c in
                var text = "\(Markdown.cell(c.modelID)) start \(ms(c.startMs))"
                if let w = c.warmupMs { text += ", warm-up request \(ms(w))" + (c.warmupError.map { " (failed: \(Markdown.cell($0)))" } ?? "") }
                return text
            }.joined(separator: "; ") + "."
    }

    /// The test a comparison's p-value comes from.
    static func testName(_ c: PairedComparison) -> String { c.method == .proportions ? "exact McNemar" : "sign-flip permutation" }

    /// True when some comparison or interval came from resampling (scores that are not all 0 or 1).
    static func resampled(_ a: DecisionAnalysis) -> Bool {
        a.assessments.contains { !$0.metrics.binaryScores || $0.comparison?.method == .resampling }
    }

    /// The heading of a column of comparison p-values.
    static func pHeading(_ a: DecisionAnalysis) -> String { resampled(a) ? "p" : "McNemar p" }

    static func pValue(_ p: Double) -> String { p < 0.0001 ? "< 0.0001" : Format.fixed(p, digits: 4) }
    static func pEquals(_ p: Double) -> String { p < 0.0001 ? "p < 0.0001" : "p = " + Format.fixed(p, digits: 4) }

    static func breakEvenSentence(_ a: CandidateAssessment) -> String {
        switch a.breakEven {
        case .above(let v) where v < 1: return "It is cheaper than the reference from the first request a month."
        case .above(let v): return "It is the cheaper option above \(Format.count(v.rounded(.up))) requests a month."
        case .below(let v): return "It is the cheaper option only below \(Format.count(v.rounded(.down))) requests a month."
        case .always: return "It is cheaper than the reference at any volume."
        case .never: return "It is never cheaper than the reference."
        case .notApplicable: return ""
        }
    }

    /// Qualifying candidates cheaper than the chosen one (within the cost tie, or it would not have been chosen).
    static func cheaperThanChosen(_ a: DecisionAnalysis, _ chosen: CandidateAssessment) -> [CandidateAssessment] {
        guard let cost = chosen.horizonCostUSD else { return [] }
        return a.assessments.filter { $0.qualifies && $0.id != chosen.id && ($0.horizonCostUSD ?? .infinity) < cost }
    }

    /// Qualifying candidates whose cost is unknown, so the choice could not weigh them on cost.
    static func unweighedText(_ a: DecisionAnalysis, _ chosen: CandidateAssessment) -> String {
        guard chosen.horizonCostUSD != nil else { return "" }
        let unknown = a.assessments.filter { $0.qualifies && $0.id != chosen.id && $0.horizonCostUSD == nil }
        guard !unknown.isEmpty else { return "" }
        return "Not weighed on cost: " + unknown.map { "\(Markdown.cell($0.id)) (\(Format.percent($0.metrics.accuracy)); \(Markdown.cell($0.monthlyCostBasis)))" }
            .joined(separator: ", ") + " also qualif\(unknown.count == 1 ? "ies" : "y"), but with its cost unknown it could be cheaper or costlier than "
            + "\(Markdown.cell(chosen.id)); give it a `pricing` to compare. "
    }

    /// Why a candidate that is not the cheapest was chosen: the cheaper ones cost the same within the tie.
    static func tieText(_ a: DecisionAnalysis, _ chosen: CandidateAssessment) -> String {
        let cheaper = cheaperThanChosen(a, chosen)
        guard !cheaper.isEmpty, let cost = chosen.horizonCostUSD else { return "" }
        let share = Format.fixed(a.policy.costTie * 100, digits: a.policy.costTie * 100 == (a.policy.costTie * 100).rounded() ? 0 : 1)
        return "Costs within \(share)% count as the same (`$.decision.cost_tie`), and among those it is the most accurate: "
            + cheaper.map { "\(Markdown.cell($0.id)) costs \(Format.usd($0.horizonCostUSD)) (\(Format.usd(cost - ($0.horizonCostUSD ?? cost))) less) at "
                + "\(Format.percent($0.metrics.accuracy))" }.joined(separator: ", ") + ". "
    }

    /// How another candidate's cost compares with the chosen one's.
    static func costWord(_ other: CandidateAssessment, _ chosen: CandidateAssessment) -> String {
        guard let x = other.horizonCostUSD, let y = chosen.horizonCostUSD else { return "cost unknown" }
        return x > y ? "costlier" : (x == y ? "the same cost: a tie, broken by accuracy, then candidate id" : "cheaper")
    }

    static func rivalsText(_ a: DecisionAnalysis, chosen: CandidateAssessment) -> String {
        let others = a.assessments.filter { $0.id != chosen.id && $0.metrics.answered > 0 }
        let qualified = others.filter(\.qualifies)
        var text = ""
        if !qualified.isEmpty {
            // What the extra cost would buy: each rival that is more accurate, paired against the choice (one Holm family).
            text += "Also qualifying: " + qualified.map { rival in
                var item = Markdown.cell(rival.id) + " (\(costWord(rival, chosen)), \(Format.usd(rival.horizonCostUSD)) over the horizon"
                guard let c = a.rivalComparisons.first(where: { $0.candidate == rival.id }) else { return item + ")" }
                item += "; \(Format.percent(rival.metrics.accuracy)), \(points(c.difference)) vs \(Markdown.cell(chosen.id)) on \(c.pairs) paired examples, "
                item += "\(level(a.policy)) CI \(points(c.low)) to \(points(c.high)), \(testName(c)) \(pEquals(c.pValue)), Holm over these rivals \(pEquals(c.pValueHolm))"
                item += c.pValueHolm < a.policy.alpha ? ": a real difference)" : ": not a significant difference)"
                return item
            }.joined(separator: ", ") + ". "
        }
        let failed = others.filter { !$0.qualifies }.map(\.id)
        if !failed.isEmpty { text += "Not qualifying: " + failed.map(Markdown.cell).joined(separator: ", ") + " (reasons in Step 3). " }
        let unmeasured = a.assessments.filter { $0.metrics.answered == 0 }.map(\.id)
        if !unmeasured.isEmpty { text += "Not measured (no answers): " + unmeasured.map(Markdown.cell).joined(separator: ", ") + "." }
        return text.trimmingCharacters(in: .whitespaces)
    }

    // MARK: Step 1

    static func stepOne(_ s: RunSummary) -> String {
        let a = s.analysis
        var md = "## Step 1 — prompt engineering on the foundation model\n\n"
        let foundation = a.assessments.filter { $0.metrics.role == .foundation }
        guard !foundation.isEmpty else { return md + "No candidate has the role `foundation`, so no prompt variants were compared.\n\n" }
        md += Markdown.table(["candidate", "answer read by", s.experiment.task.scorer.scoreName, "\(level(a.policy)) CI", "consistency", "invalid", "errors", "input tokens", "output tokens",
                              "cost / 1k", "p50", "p95"], foundation.map { c in
            let m = c.metrics
            return [c.id, readMethod(c.metrics, s.experiment), Format.percent(m.accuracy), "\(Format.percent(c.accuracyLow))–\(Format.percent(c.accuracyHigh))",
                    consistencyText(c), Format.percent(m.invalidRate), "\(m.errors) / \(m.requests)",
                    tokens(m.meanInputTokens, m.tokensEstimated), tokens(m.meanOutputTokens, m.tokensEstimated),
                    Format.usd(c.costPer1kUSD), ms(m.latencyP50Ms), ms(m.latencyP95Ms)]
        }, alignRight: Set(2...11))
        if let c = a.promptComparison {
            let best = a.assessment(c.candidate)
            let tie = c.difference == 0 && best?.metrics.accuracy == a.assessment(c.reference)?.metrics.accuracy
            md += "\nMost accurate variant: **\(Markdown.cell(c.candidate))** at \(Format.percent(best?.metrics.accuracy))"
            md += tie ? ", tied with \(Markdown.cell(c.reference)) (ties go to the lower candidate id)" : ", \(points(c.difference)) ahead of \(Markdown.cell(c.reference))"
            md += " on \(c.pairs) paired examples (\(level(a.policy)) CI \(points(c.low)) to \(points(c.high)), \(testName(c)) \(pEquals(c.pValue)))"
            md += c.pValue < a.policy.alpha ? ": a real difference at α = \(JSON.formatNumber(a.policy.alpha)).\n"
                : ": not a significant difference at α = \(JSON.formatNumber(a.policy.alpha)); the data do not tell these two apart.\n"
        } else if let only = foundation.first(where: { $0.metrics.answered > 0 }) {
            md += "\nOnly one variant was measured: **\(Markdown.cell(only.id))** at \(Format.percent(only.metrics.accuracy)).\n"
        }
        if s.experiment.run.repeats == 1 {
            md += "\nConsistency: each example was asked once; set `run.repeats` (e.g. 3) to measure how often a prompt gives the same answer twice.\n"
        } else {
            md += "\nConsistency: share of examples whose \(s.experiment.run.repeats) answers all agree; the spread is accuracy's range across the repeats.\n"
        }
        let invalid = foundation.filter { ($0.metrics.invalidRate ?? 0) > 0.2 }
        if !invalid.isEmpty {
            md += "\nHigh invalid-output rates (" + invalid.map { "\(Markdown.cell($0.id)) \(Format.percent($0.metrics.invalidRate))" }.joined(separator: ", ")
            md += ") mean the model often answered in a form no " + (s.experiment.task.scorer.readsLabels ? "label" : "answer") + " could be read from; see the invalid-output samples in the Appendix.\n"
        }
        return md + "\n"
    }

    /// How a candidate's answer becomes a label: parsed from generated text (and how), or scored by likelihood.
    static func readMethod(_ m: CandidateMetrics, _ e: Experiment) -> String {
        guard let model = e.model(m.model) else { return "–" }
        if let reading = model.provider.answerReading { return reading }
        // Other scorers read their own kind of answer (a JSON object, a short answer, a text).
        guard e.task.scorer.readsLabels else { return "scorer \"" + e.task.scorer.name + "\"" }
        let parsing = m.prompt.flatMap { e.prompt($0)?.parsing } ?? e.task.parsing
        switch parsing.method {
        case .exact: return "parsed: exact"
        case .first: return "parsed: first label"
        case .regex: return "parsed: regex"
        }
    }

    static func consistencyText(_ c: CandidateAssessment) -> String {
        guard let consistency = c.consistency else { return "–" }
        var text = Format.percent(consistency)
        if let low = c.repeatAccuracies.min(), let high = c.repeatAccuracies.max() {
            text += " (accuracy \(Format.percent(low))–\(Format.percent(high)))"
        }
        return text
    }

    static func tokens(_ value: Double?, _ estimated: Bool) -> String {
        guard let value else { return "–" }
        return (estimated ? "≈" : "") + Format.fixed(value, digits: 1)
    }

    // MARK: Step 2

    static func stepTwo(_ s: RunSummary) -> String {
        var md = "## Step 2 — dynamic prompts by similarity search\n\n"
        let e = s.experiment
        let dynamic = s.analysis.assessments.filter { c in c.metrics.prompt.flatMap { e.prompt($0)?.examples.isDynamic } == true }
        guard !dynamic.isEmpty else {
            md += "Not run: no prompt of this experiment chooses its examples by similarity. To run it, give a prompt "
            md += "`\"examples\": {\"kind\": \"similar\", \"k\": 4, \"balanced\": true}` (a TF-IDF index of the training split), or add "
            md += "`\"similarity\": \"embeddings\", \"embeddings\": {\"base_url\": …, \"model\": …}` to use an embeddings endpoint; "
            md += "this section then compares it with static few-shot on the same model.\n\n"
            return md
        }
        md += "Each input's prompt shows the training examples most similar to it (never the input itself or a duplicate of it), "
        md += "compared with static few-shot (the same examples for every input) on the same model and examples.\n\n"
        var rows: [[String]] = []
        for d in dynamic {
            let spec = d.metrics.prompt.flatMap { e.prompt($0) }
            var how = "–"
            if case .similar(let sim)? = spec?.examples {
                switch sim.source {
                case .tfidf: how = "TF-IDF, k = \(sim.k)"
                case .embeddings(let em): how = "embeddings \(em.model), k = \(sim.k)"
                }
                if sim.balanced { how += ", label-balanced" }
            }
            let comparisons = s.analysis.dynamicComparisons.filter { $0.candidate == d.id }
            if comparisons.isEmpty {
                rows.append([d.id, how, Format.percent(d.metrics.accuracy), "no static few-shot prompt on this model", "–", "–", "–", "–"])
            }
            for comparison in comparisons {
                guard let st = s.analysis.assessment(comparison.reference) else { continue }
                let extraTokens = d.metrics.meanInputTokens.flatMap { x in st.metrics.meanInputTokens.map { x - $0 } }
                let extraCost = d.costPer1kUSD.flatMap { x in st.costPer1kUSD.map { x - $0 } }
                rows.append([d.id, how, Format.percent(d.metrics.accuracy), "\(st.id) \(Format.percent(st.metrics.accuracy))",
                             points(comparison.difference) + " (\(points(comparison.low)) to \(points(comparison.high)))",
                             pValue(comparison.pValue),
                             extraTokens.map { ($0 >= 0 ? "+" : "") + Format.fixed($0, digits: 1) } ?? "–",
                             extraCost.map { ($0 >= 0 ? "+" : "−") + Format.usd(abs($0)) } ?? "–"])
            }
        }
        md += Markdown.table(["dynamic candidate", "similarity", s.experiment.task.scorer.scoreName, "static few-shot", "difference (\(level(s.analysis.policy)) CI)", pHeading(s.analysis),
                              "extra prompt tokens", "extra cost / 1k"], rows, alignRight: [2, 5, 6, 7])
        return md + "\n"
    }

    // MARK: Step 3

    static func stepThree(_ s: RunSummary) -> String {
        let a = s.analysis
        let p = a.policy
        var md = "## Step 3 — comparative analysis\n\n"
        md += "Reference: " + (a.referenceID.map { "**\(Markdown.cell($0))** (\(a.referenceReason))" } ?? a.referenceReason) + ". "
        let word = s.experiment.task.scorer.scoreName
        md += "\(capitalised(word)) counts failed requests as wrong; \"answered\" is \(word) over the requests that got an answer. "
        md += "Δ is candidate minus reference, in \(word) points, on the examples both were asked, with "
            + (resampled(a) ? "its interval at \(level(p)) (methods below the table). " : "Tango's score interval at \(level(p)). ")
        md += "Costs: \(Format.count(p.monthlyRequests)) requests a month over \(Format.fixed(p.horizonMonths, digits: 0)) months.\n\n"
        md += Markdown.table(["candidate", "role", word, "answered", "Δ vs reference", "\(level(p)) CI", pHeading(a), "Holm p", "non-inferiority",
                              "p50", "p95", "p95 end-to-end", "cost / 1k", "monthly", "one-time", "horizon total", "break-even / month", "qualifies"],
                             a.assessments.map { c in
            let m = c.metrics
            let cmp = c.comparison
            return [c.id + (c.recommended ? " ★" : ""), s.experiment.model(m.model)?.provider.name == BuiltinSettings.name ? "trained classifier" : m.role.rawValue, Format.percent(m.accuracy), Format.percent(m.answeredAccuracy),
                    cmp.map { points($0.difference) } ?? (c.id == a.referenceID ? "reference" : "–"),
                    cmp.map { "\(points($0.low)) to \(points($0.high))" } ?? "–",
                    cmp.map { pValue($0.pValue) } ?? "–", cmp.map { pValue($0.pValueHolm) } ?? "–",
                    c.nonInferiority.map { "\($0.status.rawValue) (Holm p \(pValue($0.pValueHolm)))" } ?? (c.id == a.referenceID ? "reference" : "–"),
                    ms(m.latencyP50Ms), ms(m.latencyP95Ms), ms(m.latencyTotalP95Ms), Format.usd(c.costPer1kUSD), Format.usd(c.monthlyCostUSD),
                    Format.usd(c.oneTimeCostUSD), Format.usd(c.horizonCostUSD), breakEvenCell(c.breakEven),
                    c.qualifies ? "yes" : "no"]
        }, alignRight: Set(2...16))
        md += scorePartsText(a)
        md += judgeText(a)
        md += "\nLatency: p50 and p95 of the answered requests' last attempt; p95 end-to-end of every request sent, failed ones included, "
        md += "from its first attempt to its outcome with retries and back-off. "
        md += coldStartText(s.coldStarts) + streamingText(s) + batchText(s) + "\n"
        md += "\n★ recommended. " + (resampled(a) ? "Where every score is 0 or 1, p is McNemar's exact" : "McNemar p is the exact")
        md += " two-sided test of \"no difference\"; non-inferiority is Tango's one-sided score test of "
        md += "\"worse by the margin (\(Format.fixed(p.margin * 100, digits: 1)) points) or more\", shown when p < α/2 = \(JSON.formatNumber(p.alpha / 2)) "
        md += "(the \(level(p)) interval's lower bound above −\(Format.fixed(p.margin * 100, digits: 1)) points), inferior when the whole interval is below "
        md += "−\(Format.fixed(p.margin * 100, digits: 1)) points, inconclusive otherwise. "
        if resampled(a) {
            md += "Where scores are not all 0 or 1, p is the paired sign-flip permutation test of the mean difference, the interval a percentile "
            md += "bootstrap (2,000 resamples, fixed seed) and non-inferiority the bootstrap's one-sided share of mean differences at or below the margin. "
        }
        if a.comparisons > 1 {
            md += "Both p-values are Holm-adjusted over the \(a.comparisons) comparisons with the reference (the verdict uses the adjusted ones). "
        }
        md += "Break-even: the monthly volume at which the candidate's total over the horizon equals the reference's. "
        md += "Costs within \(Format.fixed(p.costTie * 100, digits: 1))% of the cheapest count as the same and are decided by accuracy, then candidate id. "
        md += "A candidate whose cost is unknown is neither cheaper nor costlier: it is chosen only when no qualifying candidate has a known cost, "
        md += "and the decision names it as not weighed.\n\n"
        let powered = a.assessments.compactMap { c in c.comparison.map { (c.id, $0) } }
        if !powered.isEmpty {
            // One row each rather than a sentence each: the same words for every comparison read as boilerplate.
            md += "Power of each comparison with the reference (α \(JSON.formatNumber(p.alpha)), power \(JSON.formatNumber(p.power))): the smallest "
            md += "difference its paired examples can detect, and the paired examples detecting the margin (\(Format.fixed(p.margin * 100, digits: 1)) points) would need.\n\n"
            md += Markdown.table(["candidate", "paired examples", "discordant", "detectable difference", "needed for the margin"], powered.map { id, c in
                let detectable: String
                if let mde = c.minimumDetectable { detectable = String(points(mde).dropFirst()) + " or more" } else {
                    detectable = c.method == .resampling ? "none: every pair scored the same"
                        : (c.candidateBetter + c.referenceBetter == 0 ? "none: no discordant pair" : "none: too few")
                }
                let spread = c.method == .resampling
                    ? "scores differ on \(Format.percent(c.discordance)); SD of the differences \(Format.fixed(c.differenceStandardDeviation * 100, digits: 1)) pts"
                    : Format.percent(c.discordance)
                return [id, String(c.pairs), spread, detectable, c.neededForMargin.map { "about \($0)" } ?? "–"]
            }, alignRight: [1, 2, 4]) + "\n"
        }
        let failing = a.assessments.filter { !reasons($0, p).isEmpty }
        if !failing.isEmpty {
            md += "Why candidates do not qualify:\n\n"
            for c in failing { md += "- \(Markdown.cell(c.id)): " + reasons(c, p).map(Markdown.cell).joined(separator: "; ") + "\n" }
            md += "\n"
        }
        md += "Monthly costs at \(Format.count(p.monthlyRequests)) requests: " + a.assessments.map {
            "\(Markdown.cell($0.id)) \(Format.usd($0.monthlyCostUSD)) (\(Markdown.cell($0.monthlyCostBasis)))"
        }.joined(separator: "; ") + ".\n\n"
        md += capacityText(s)
        md += "One-time costs: " + a.assessments.map { "\(Markdown.cell($0.id)) \(Format.usd($0.oneTimeCostUSD)) (\(Markdown.cell($0.oneTimeCostSource)))" }
            .joined(separator: "; ") + ".\n\n"
        md += "![Accuracy against cost per 1,000 requests](\(accuracyCostFile))\n\n![p50 and p95 latency per candidate](\(latencyFile))\n\n"
        let unplotted = a.assessments.filter { $0.metrics.answered > 0 && ($0.costPer1kUSD ?? 0) <= 0 }
        if !unplotted.isEmpty {
            md += "Not on the cost chart (no positive cost per request): " + unplotted.map { Markdown.cell($0.id) }.joined(separator: ", ") + ".\n\n"
        }
        return md
    }

    /// The measures each score is made of, per candidate: a row a measure, a column a candidate.
    static func scorePartsText(_ a: DecisionAnalysis) -> String {
        var names: [String] = []
        for c in a.assessments { for part in c.metrics.scoreParts where !names.contains(part.name) { names.append(part.name) } }
        guard !names.isEmpty else { return "" }
        var md = "\nScore parts (means over the requests that have each; a failed request counts 0; `field.X` is the share of examples "
        md += "whose target has field X that got it right; `valid_json` is the share of answers with a JSON object in them):\n\n"
        md += Markdown.table(["measure"] + a.assessments.map(\.id), names.map { name in
            [name] + a.assessments.map { c in
                c.metrics.scoreParts.first { $0.name == name }.map { Format.percent($0.mean) + ($0.count < c.metrics.requests ? " (n = \($0.count))" : "") } ?? "–"
            }
        }, alignRight: Set(1...max(1, a.assessments.count)))
        return md
    }

    /// The judge's work and cost (apart from every candidate's) and its agreement with human grades.
    static func judgeText(_ a: DecisionAnalysis) -> String {
        guard let j = a.judge else { return "" }
        var md = "\nLLM judge (`$.task.judge`): **\(Markdown.cell(j.modelID))** graded \(j.graded) answers on a \(j.scale.rawValue) scale"
        if j.ungraded > 0 { md += "; \(j.ungraded) could not be graded (a failed call or no grade in its output) and count 0" }
        if j.cachedCalls > 0 { md += "; \(j.cachedCalls) grades came from the response cache" }
        md += ". Its requests cost " + (j.costUSD.map(Format.usd) ?? "an unknown amount (no pricing)") + ", counted in no candidate's cost. "
        md += "Its grade is the score part `judge`" + (j.decides ? " and the score itself. " : ". ")
        guard let c = j.calibration else { return md + "It is uncalibrated: the data has no human grades to compare with.\n" }
        md += "Against human grades of the same \(c.count) answers: agreement \(Format.percent(c.agreement)), Cohen's κ "
        md += (c.kappa.map { Format.fixed($0, digits: 3) } ?? "undefined (one grade throughout)")
        md += ", bias \(points(c.bias)) (judge minus human, in score points: "
        md += (c.bias > 0 ? "more lenient" : c.bias < 0 ? "stricter" : "neither more lenient nor stricter") + "); \(j.trust).\n\n"
        let grades = j.scale.grades
        md += Markdown.table(["human \\ judge"] + grades + ["none"], grades.indices.map { [grades[$0]] + c.confusion[$0].map(String.init) },
                             alignRight: Set(1...(grades.count + 1)))
        if j.isWeak { md += "\nThe judge's grades are not reliable enough to decide alone: compare them with more human grades.\n" }
        return md
    }

    static func breakEvenCell(_ b: BreakEven) -> String {
        switch b {
        case .above(let v): return "above " + Format.count(v.rounded(.up))
        case .below(let v): return "below " + Format.count(v.rounded(.down))
        case .always: return "always cheaper"
        case .never: return "never cheaper"
        case .notApplicable: return "–"
        }
    }

    // MARK: Step 4

    static func stepFour(_ s: RunSummary) -> String {
        var md = "## Step 4 — data quality and training\n\n"
        let labels = s.experiment.task.labels
        md += Markdown.table(["split", "examples"] + labels,
                             s.splits.map { split in [split.name, String(split.count)] + split.labelCounts.map { String($0.count) } },
                             alignRight: Set(1...(labels.count + 1)))
        if let citation = s.experiment.dataset.citation { md += "\nData: " + Markdown.cell(citation) + "\n" }
        if let audit = s.audit {
            md += "\n### Data audit\n\n" + AuditReport.findings(audit)
            md += "\nTraining split: about \(Format.count(Double(audit.trainingTokens))) tokens (inputs and labels, ≈ 4 characters a token)"
            let priced = s.experiment.models.compactMap { model -> String? in
                guard case let .tokens(_, epochs, price)? = model.fineTuning?.basis else { return nil }
                let usd = Double(audit.trainingTokens) * epochs * price / 1_000_000
                return "fine-tuning \(Markdown.cell(model.id)) on it for \(JSON.formatNumber(epochs)) epochs at $\(JSON.formatNumber(price))/M tokens ≈ \(Format.usd(usd))"
            }
            md += priced.isEmpty ? ".\n" : "; " + priced.joined(separator: "; ") + ".\n"
            md += "\n`evalkit audit` prints this audit; `evalkit export-finetune --prompt ID --dedupe --drop-conflicts --drop-leaked` writes the training split with these fixes.\n"
        }
        md += dataEfficiencyText(s)
        md += fineTuneText(s)
        if !s.curves.isEmpty { md += "\n### Training under validation\n\n" }
        for t in s.training {
            if t.source == RunSummary.TrainingSummary.builtinSource {
                md += "Builtin model **\(Markdown.cell(t.modelID))** trained on \(t.examples.map(String.init) ?? "?") examples"
                if let best = t.bestEpoch, let last = t.last {
                    md += t.stoppedEarly ? "; early stopping ended training at epoch \(last.epoch) and kept epoch \(best)" : "; \(last.epoch) epochs, kept epoch \(best)"
                }
            } else {
                md += "**\(Markdown.cell(t.modelID))** was fine-tuned outside evalkit: its trainer measured \(Format.fixed(t.seconds, digits: 1)) s of training "
                md += "(`train_runtime` in `\(Markdown.cell(t.source))`), which sets its one-time cost at the model's price per hour"
                if let kept = s.curves.first(where: { $0.modelID == t.modelID })?.keptStep {
                    md += "; the checkpoint kept is step \(JSON.formatNumber(kept)) (lowest validation loss)"
                }
            }
            md += ".\n\n"
        }
        for curve in s.curves {
            md += "**\(Markdown.cell(curve.modelID))** (\(Markdown.cell(curve.source))): **\(curve.diagnosis.fit.rawValue)** — \(Markdown.cell(curve.diagnosis.evidence)). "
            md += "Remedy: \(Markdown.cell(curve.diagnosis.remedy)). Per \(curve.unit): [`\(curve.dataFile)`](\(curve.dataFile)).\n\n"
            md += "![Training curves of \(Markdown.cell(curve.modelID))](\(curve.chartFile))\n\n"
        }
        return md
    }

    public static let dataEfficiencyFile = "data-efficiency.svg"

    /// Step 4's "Fine-tunes compared": the outside fine-tunes the config describes, what each cost to make
    /// and how it did; methods trained on the same data, and distilled students, tested pairwise.
    static func fineTuneText(_ s: RunSummary) -> String {
        let a = s.analysis
        guard let f = a.fineTunes, f.rows.count >= 2 || !f.isEmpty else { return "" }
        let word = s.experiment.task.scorer.scoreName
        var md = "\n### Fine-tunes compared\n\n"
        md += Markdown.table(["candidate", "method", "training examples", "labels", "trainable parameters", "training time", "one-time cost", "adapter",
                              word, "\(level(a.policy)) CI", "latency p50 / p95"], f.rows.map(fineTuneRow), alignRight: [2, 4, 5, 6, 7, 8, 10]) + "\n"
        md += "Method, training examples, labels and trainable parameters as the experiment declares them (`training` on each model); training time "
        md += "as each trainer measured it (`train_runtime` in its log), and the one-time cost from it at the model's price per hour; adapter size of the "
        md += "files this run fingerprinted; \(word) and latency measured in this run."
        let engines = Set(f.rows.compactMap { r in s.experiment.model(s.analysis.assessment(r.candidate)?.metrics.model ?? "")?.provider.name })
        if engines.count > 1 {
            md += " The adapters are served by different engines (\(engines.sorted().joined(separator: ", "))), so their latencies compare the engines as much as the methods."
        }
        md += "\n\n"
        if !f.methodComparisons.isEmpty {
            md += "**Methods on the same data** (same prompt, training examples and labels; the same scoring, paired on the examples both answered, Holm-adjusted together):\n\n"
            md += Markdown.table(["candidate", "against", "difference (\(level(a.policy)) CI)", pHeading(a), "reading"], f.methodComparisons.map { c in
                [c.candidate, c.reference] + pairCells(c, alpha: a.policy.alpha, word: word)
            }, alignRight: [3]) + "\n"
        }
        for d in f.distillations {
            md += "**Distilled labels**: **\(Markdown.cell(d.student))** learnt from the answers of **\(Markdown.cell(d.teacher))** instead of gold labels.\n\n"
            var rows: [[String]] = []
            if let c = d.againstTeacher { rows.append(["its teacher", c.reference] + pairCells(c, alpha: a.policy.alpha, word: word)) }
            if let c = d.againstGold { rows.append(["trained on gold labels (same method and size)", c.reference] + pairCells(c, alpha: a.policy.alpha, word: word)) }
            if rows.isEmpty {
                md += "Neither its teacher nor a gold-trained model of the same method and size answered in this run, so nothing is compared.\n\n"
                continue
            }
            md += Markdown.table(["student against", "candidate", "difference (\(level(a.policy)) CI)", pHeading(a), "reading"], rows, alignRight: [3]) + "\n"
            if d.goldTrained == nil { md += "No model of the same method and size trained on gold labels is in this run.\n\n" }
        }
        return md
    }

    static func fineTuneRow(_ r: FineTuneComparison.Row) -> [String] {
        let interval: String = r.accuracyLow.flatMap { l in r.accuracyHigh.map { Format.percent(l) + "–" + Format.percent($0) } } ?? "–"
        let time: String = r.trainingSeconds.map { Format.fixed($0, digits: 0) + " s" } ?? "–"
        return [r.candidate, r.method, Format.count(Double(r.examples)), r.labelsFrom.map { "from " + $0 } ?? "gold",
                r.trainableParameters.map { Format.count(Double($0)) } ?? "–", time, Format.usd(r.oneTimeCostUSD),
                r.adapterBytes.map(Format.bytes) ?? "–", Format.percent(r.accuracy), interval, ms(r.latencyP50Ms) + " / " + ms(r.latencyP95Ms)]
    }

    /// A paired comparison's difference with its interval, its p-value with Holm's, and which of the two
    /// the (Holm-adjusted) test favours, in words.
    static func pairCells(_ c: PairedComparison, alpha: Double, word: String) -> [String] {
        let reading = c.pValueHolm < alpha && c.difference != 0 ? (c.difference > 0 ? c.candidate : c.reference) + " has the higher \(word)" : "no difference shown"
        return [points(c.difference) + " (\(points(c.low)) to \(points(c.high)))", pValue(c.pValue) + " (Holm \(pValue(c.pValueHolm)))", reading]
    }

    /// Step 4's "how many labelled examples": each data-efficiency curve as a table, the smallest training set
    /// shown non-inferior to the reference (or that none was), and what labelling it costs.
    static func dataEfficiencyText(_ s: RunSummary) -> String {
        let a = s.analysis, p = a.policy
        guard !a.dataEfficiency.isEmpty else { return "" }
        let word = s.experiment.task.scorer.scoreName
        var md = "\n### How many labelled examples\n\n"
        md += "The same model trained on training sets of different sizes, each against the reference"
        md += a.referenceID.flatMap(a.assessment).map { " **\(Markdown.cell($0.id))** (\(Format.percent($0.metrics.accuracy)))" } ?? ""
        md += " with the non-inferiority margin of \(Format.fixed(p.margin * 100, digits: 1)) points.\n\n"
        for curve in a.dataEfficiency {
            md += "**\(Markdown.cell(curve.name))**:\n\n"
            md += Markdown.table(["training examples", "candidate", word, "\(level(p)) CI", "against the reference"], curve.points.map { point in
                [Format.count(Double(point.examples)), point.candidate, Format.percent(point.accuracy),
                 point.low.flatMap { l in point.high.map { "\(Format.percent(l))–\(Format.percent($0))" } } ?? "–",
                 point.candidate == a.referenceID ? "reference" : (point.nonInferior == true ? "non-inferior" : (point.nonInferior == false ? "not shown non-inferior" : "not tested"))]
            }, alignRight: [0, 2]) + "\n"
            if let smallest = curve.smallestNonInferior {
                md += "Smallest training set shown non-inferior to the reference: **\(Format.count(Double(smallest.examples))) examples** (\(Markdown.cell(smallest.candidate)), "
                md += "\(Format.percent(smallest.accuracy)))"
                if let cost = curve.labellingCostUSD, let price = p.labelCostUSD {
                    md += "; labelling that many at \(Format.usd(price)) an example (`$.decision.label_cost_usd`) costs \(Format.usd(cost))"
                }
                md += "."
                if let qualifying = curve.smallestQualifying, qualifying != smallest {
                    md += " The smallest that also meets every requirement of the policy: **\(Format.count(Double(qualifying.examples))) examples** "
                    md += "(\(Markdown.cell(qualifying.candidate)), \(Format.percent(qualifying.accuracy)))"
                    if let cost = curve.qualifyingLabellingCostUSD { md += ", \(Format.usd(cost)) of labels" }
                    md += "."
                } else if curve.smallestQualifying == nil {
                    md += " None of these sizes meets every requirement of the policy (reasons in Step 3)."
                }
                md += "\n\n"
            } else {
                md += "Not reached: no training set up to \(Format.count(Double(curve.points.last?.examples ?? 0))) examples was shown non-inferior to the reference; "
                md += "more labelled data, or a stronger model to fine-tune, is what the curve asks for.\n\n"
            }
        }
        md += "![Accuracy against the number of training examples](\(dataEfficiencyFile))\n"
        return md
    }

    /// The data-efficiency chart; nil without a curve.
    public static func dataEfficiencyChart(_ s: RunSummary) -> String? {
        let a = s.analysis
        guard !a.dataEfficiency.isEmpty else { return nil }
        let curves = a.dataEfficiency.map { curve in
            Charts.SizeCurve(name: curve.name, points: curve.points.compactMap { p in
                p.accuracy.map { (p.examples, $0, p.low ?? $0, p.high ?? $0) }
            })
        }
        let reference = a.referenceID.flatMap(a.assessment).flatMap { r in r.metrics.accuracy.map { (r.id, $0) } }
        return Charts.dataEfficiency(curves, reference: reference, margin: a.policy.margin, title: "\(s.experiment.name): accuracy against training-set size")
    }

    /// Names the models whose requests went as provider batch jobs: their latency is a job's turnaround.
    static func batchText(_ s: RunSummary) -> String {
        let batched = s.experiment.models.filter { $0.batch != nil }.map(\.id)
        guard !batched.isEmpty else { return "" }
        return " Sent as provider batch jobs (`\"mode\": \"batch\"`), priced at the batch price where the pricing gives one: "
            + batched.map(Markdown.cell).joined(separator: ", ") + "; their latency is the batch job's turnaround, from its submission to the poll "
            + "that found it ended, the same for every request of the job — not a per-request latency."
    }

    /// Says when the first N test examples (`--limit`) have a label mix far from the whole split's:
    /// a label missing, or a share more than 15 points off (files sorted by label do this).
    static func limitedSampleWarning(_ s: RunSummary) -> String? {
        guard let split = s.splits.first(where: { $0.name == "test" }), split.count > s.evaluatedExamples,
              !s.examples.isEmpty else { return nil }
        let labels = s.experiment.task.labels
        let evaluated = Dataset.labelCounts(s.examples, labels: labels)
        let total = Double(s.examples.count)
        var gaps: [String] = []
        for (whole, sample) in zip(split.labelCounts, evaluated) where whole.count > 0 {
            let wholeShare = Double(whole.count) / Double(split.count), sampleShare = Double(sample.count) / total
            if sample.count == 0 || abs(wholeShare - sampleShare) > 0.15 {
                gaps.append("\(Markdown.cell(whole.label)) \(Format.percent(sampleShare)) against \(Format.percent(wholeShare))")
            }
        }
        guard !gaps.isEmpty else { return nil }
        guard s.shard == nil else {
            return "the \(s.evaluatedExamples) test examples of this shard differ from the whole split in their labels (" + gaps.joined(separator: "; ")
                + "). Merge the shards (`evalkit merge`) before trusting these figures."
        }
        return "the first \(s.evaluatedExamples) test examples differ from the whole split in their labels (" + gaps.joined(separator: "; ")
            + "). The limit takes examples in file order: shuffle the test file, or raise the limit, before trusting these figures."
    }

    // MARK: Appendix

    static func appendix(_ s: RunSummary) -> String {
        let e = s.experiment
        let labels = e.task.labels
        var md = "## Appendix\n\n"
        // Per-label figures mean something only when the scorer reads labels (Analysis computes none otherwise).
        if e.task.scorer.readsLabels { md += "### Per-label precision, recall and F1\n\n" }
        for c in s.analysis.assessments where c.metrics.answered > 0 && e.task.scorer.readsLabels {
            md += "**\(Markdown.cell(c.id))**\n\n"
            md += Markdown.table(["label", "precision", "recall", "F1", "support"], c.labelScores.map {
                [$0.label, Format.fixed($0.precision, digits: 3), Format.fixed($0.recall, digits: 3), Format.fixed($0.f1, digits: 3), String($0.support)]
            }, alignRight: [1, 2, 3, 4])
            md += "\nConfusion (rows: target, columns: answer):\n\n"
            let matrix = c.confusion
            md += Markdown.table(["target \\ answer"] + labels + ["invalid"], labels.indices.map { [labels[$0]] + matrix[$0].map(String.init) },
                                 alignRight: Set(1...(labels.count + 1)))
            md += "\n"
        }
        md += "### Samples of wrong and invalid answers\n\n"
        for (i, m) in s.metrics.enumerated() where m.answered > 0 {
            let wrong = Array(s.results[i].lazy.filter { $0.answered && !$0.correct && $0.label != nil }.prefix(5))
            let invalid = Array(s.results[i].lazy.filter(\.invalid).prefix(5))
            guard !wrong.isEmpty || !invalid.isEmpty else { continue }
            md += "**\(Markdown.cell(m.candidate))**\n\n"
            md += Markdown.table(["kind", "example", "input", "target", "output"], (wrong.map { (e.task.scorer.isBinary ? "wrong" : "score " + Format.fixed($0.score, digits: 2), $0) } + invalid.map { ("invalid", $0) }).map { kind, r in
                [kind, r.exampleID, Text.preview(s.examples.first { $0.id == r.exampleID }?.input ?? "", limit: 100), r.target, Text.preview(r.output ?? "", limit: 80)]
            })
            md += "\n"
        }
        md += "### Models and pricing\n\n"
        md += Markdown.table(["model", "role", "provider", "price"], e.models.map { model in
            [model.id, model.role.rawValue, providerDescription(model), model.pricing?.describe(concurrency: model.concurrency) ?? "no pricing given"]
        })
        md += "\nCosts by cost model (`pricing.model`): api — per-token prices × the token counts the server reported (≈ where estimated at "
        md += "4 characters a token), cached input at its own price; serverless — busy time (measured latency ÷ requests served at once) × "
        md += "the hourly price, plus any fee a request; dedicated — instances × the hourly price × 730 h a month, always on, the instances "
        md += "serving the peak rate at one instance's measured throughput. Cost per 1k requests in Step 3 is the monthly cost ÷ the monthly "
        md += "volume × 1,000. Latency is wall-clock time per request as evalkit measured it.\n\n"
        let failures = s.metrics.filter { $0.errors > 0 }
        if !failures.isEmpty {
            md += "### Failures\n\n"
            for m in failures { md += "- \(Markdown.cell(m.candidate)): \(m.errors) of \(m.requests) requests failed; first error: \(Markdown.cell(m.firstError ?? ""))\n" }
            md += "\n"
        }
        md += "### Reproduce\n\n```\n\(s.reproduceCommand)\n```\n\n"
        md += "Files: `results.jsonl` (one line per request), `summary.csv` (one row per candidate; `evalkit verify` recomputes it), "
        md += "`run.json` (manifest), `config.json` (the experiment as run), `\(accuracyCostFile)`, `\(latencyFile)`.\n\n"
        // As recorded in run.json, so that re-rendering on another machine gives the same report.
        md += "### Environment\n\nevalkit \(s.evalkitVersion); "
        if let environment = s.environment {
            md += "\(Markdown.cell(environment.machine.os)); \(Markdown.cell(environment.machine.summary)).\n"
            for model in environment.models {
                md += "- \(Markdown.cell(model.modelID)): \(model.placement.rawValue)"
                if !model.files.isEmpty { md += "; files " + model.files.map { "`\(Markdown.cell($0.path))` (sha256 \($0.sha256.prefix(12)))" }.joined(separator: ", ") }
                if let build = model.build { md += "; build " + Markdown.cell(Text.preview(Text.collapseWhitespace(build), limit: 120)) }
                if !model.systemFingerprints.isEmpty { md += "; system_fingerprint " + model.systemFingerprints.map(Markdown.cell).joined(separator: ", ") }
                md += "\n"
            }
        } else {
            md += "the run recorded no environment.\n"
        }
        return md
    }

    static func providerDescription(_ model: ModelSpec) -> String { model.provider.reportLine }

    // MARK: charts

    public static func accuracyCostChart(_ s: RunSummary) -> String {
        let points = s.analysis.assessments.compactMap { c -> Charts.CostPoint? in
            guard let acc = c.metrics.accuracy, let cost = c.costPer1kUSD, cost > 0 else { return nil }
            return Charts.CostPoint(label: c.id, costPer1k: cost, accuracy: acc, low: c.accuracyLow ?? acc, high: c.accuracyHigh ?? acc)
        }
        return Charts.accuracyVersusCost(points, title: "\(s.experiment.name): accuracy vs cost")
    }

    /// Requests a second against requests in flight, one line per probed candidate.
    public static func capacityChart(_ s: RunSummary) -> String {
        let palette = Charts.palette
        let candidates = s.experiment.candidates.map(\.id).filter { id in s.capacity.contains { $0.candidate == id } }
        // Every other line dashed, so neighbours differ in greyscale too.
        let series = candidates.enumerated().map { i, id in
            Charts.Series(name: id, color: palette[i % palette.count], dashed: i % 2 == 1,
                          points: s.capacity.filter { $0.candidate == id }.map { (Double($0.concurrency), $0.requestsPerSecond) })
        }
        return Charts.lines(series, title: "\(s.experiment.name): capacity probe", xLabel: "requests in flight", yLabel: "requests per second")
    }

    public static func latencyChart(_ s: RunSummary) -> String {
        let bars = s.metrics.compactMap { m -> Charts.LatencyBar? in
            guard let p50 = m.latencyP50Ms, let p95 = m.latencyP95Ms else { return nil }
            return Charts.LatencyBar(label: m.candidate, p50: p50, p95: p95)
        }
        return Charts.latency(bars, title: "\(s.experiment.name): latency per request (ms)")
    }
}
