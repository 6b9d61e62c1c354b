import Foundation

/// report.md: the decision document, in the order of the guidance's four steps.
public enum DecisionReport {
    public static let accuracyCostFile = "accuracy-vs-cost.svg"
    public static let latencyFile = "latency.svg"

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
        if let total = s.splits.first(where: { $0.name == "test" })?.count, total != s.evaluatedExamples { md += " (the first \(s.evaluatedExamples) of \(total))" }
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
            md += "It reaches \(accuracyWithInterval(chosen)), meets every requirement, and is the cheapest qualifying candidate over "
            md += "\(horizonText(p)): \(Format.usd(chosen.horizonCostUSD))"
            md += chosen.id == a.referenceID ? ". " : " (\(comparisonText(chosen.comparison))). "
            md += rivalsText(s, a, chosen: chosen)
        case .moveTo(let id):
            guard let chosen = a.assessment(id) else { break }
            md += "**Move to the \(chosen.metrics.role == .fineTuned ? "fine-tuned" : "smaller") model: \(Markdown.cell(id)).** "
            md += "It reaches \(accuracyWithInterval(chosen))"
            if let reference, let c = chosen.comparison {
                md += " against \(accuracyWithInterval(reference)) for the reference \(Markdown.cell(reference.id)): \(comparisonText(c)); "
                md += "its bootstrap lower bound (\(points(c.bootstrapLow))) is above −\(Format.fixed(p.margin * 100, digits: 1)) points, the non-inferiority margin"
            }
            if chosen.id == a.referenceID {
                md += ". Over \(horizonText(p)) it costs \(Format.usd(chosen.horizonCostUSD)) (one-time cost \(Format.usd(chosen.oneTimeCostUSD)) included); "
                md += "p95 latency \(ms(chosen.metrics.latencyP95Ms)). It is the reference itself: \(a.referenceReason), so nothing was tested against "
                md += "a prompted foundation model. " + rivalsText(s, a, chosen: chosen)
            } else {
                md += ". Over \(horizonText(p)) it costs \(Format.usd(chosen.horizonCostUSD))"
                if let reference { md += " against \(Format.usd(reference.horizonCostUSD)) for the reference (one-time cost \(Format.usd(reference.oneTimeCostUSD)) included)" }
                md += "; p95 latency \(ms(chosen.metrics.latencyP95Ms))"
                if let reference { md += " against \(ms(reference.metrics.latencyP95Ms))" }
                md += ". " + breakEvenSentence(chosen) + " " + rivalsText(s, a, chosen: chosen)
            }
        case .noneQualifies:
            md += "**No candidate qualifies.** Each one misses a requirement or the non-inferiority margin:\n\n"
            for c in a.assessments {
                var reasons = c.requirementFailures
                if c.nonInferior == false, let comparison = c.comparison {
                    reasons.append("worse than the reference by more than the margin: bootstrap lower bound \(points(comparison.bootstrapLow)) < −\(Format.fixed(p.margin * 100, digits: 1)) points")
                }
                if c.nonInferior == nil && c.metrics.answered > 0 { reasons.append("no examples shared with the reference to test it on") }
                md += "- \(Markdown.cell(c.id)): " + (reasons.isEmpty ? "meets every requirement" : reasons.map(Markdown.cell).joined(separator: "; ")) + "\n"
            }
        }
        md += "\n\nPolicy (`$.decision`): " + policyText(p) + ". Reference: "
        md += a.referenceID.map { "**\(Markdown.cell($0))** (\($0 == p.reference ? "named in the config" : a.referenceReason))" } ?? a.referenceReason
        md += ".\n"
        var warnings: [String] = []
        for failure in s.modelFailures { warnings.append("model **\(Markdown.cell(failure.model))** was not used: \(Markdown.cell(failure.reason))") }
        for c in a.assessments where c.metrics.answered > 0 && c.metrics.errorRate > DecisionAnalyzer.defaultMaxErrorRate {
            warnings.append("\(Markdown.cell(c.id)) failed on \(Format.percent(c.metrics.errorRate)) of its requests; its figures cover the rest only")
        }
        for c in a.assessments {
            if let comparison = c.comparison, let mde = comparison.minimumDetectable, mde > p.margin {
                var text = "\(Markdown.cell(c.id)) vs the reference: \(comparison.pairs) paired examples detect differences of \(points(mde)) or more "
                text += "(α \(JSON.formatNumber(p.alpha)), power \(JSON.formatNumber(p.power))), more than the margin"
                if let needed = comparison.neededForMargin { text += "; detecting \(Format.fixed(p.margin * 100, digits: 1)) points needs about \(needed) examples" }
                warnings.append(text)
            }
        }
        for f in s.audit?.critical ?? [] {
            warnings.append("data audit: \(f.count) \(Markdown.cell(f.title)) — the comparison favours models trained on them (see Step 4)")
        }
        if !warnings.isEmpty { md += "\nRead with care:\n\n" + warnings.map { "- " + $0 + "\n" }.joined() }
        return md + "\n"
    }

    static func policyText(_ p: DecisionPolicy) -> String {
        var parts: [String] = []
        if let v = p.minAccuracy { parts.append("accuracy ≥ \(Format.percent(v))") }
        if let v = p.maxP95LatencyMs { parts.append("p95 latency ≤ \(Format.fixed(v, digits: 0)) ms") }
        if let v = p.maxCostPer1kUSD { parts.append("cost ≤ \(Format.usd(v)) per 1k requests") }
        parts.append("errors ≤ \(Format.percent(DecisionAnalyzer.defaultMaxErrorRate, digits: 0)) of requests")
        parts.append("non-inferiority margin \(Format.fixed(p.margin * 100, digits: 1)) accuracy points")
        parts.append("\(Format.count(p.monthlyRequests)) requests a month over \(Format.fixed(p.horizonMonths, digits: 0)) months")
        return parts.joined(separator: ", ")
    }

    static func horizonText(_ p: DecisionPolicy) -> String {
        "\(Format.fixed(p.horizonMonths, digits: 0)) months at \(Format.count(p.monthlyRequests)) requests a month"
    }

    static func accuracyWithInterval(_ a: CandidateAssessment) -> String {
        "\(Format.percent(a.metrics.accuracy)) accuracy (95% CI \(Format.percent(a.accuracyLow))–\(Format.percent(a.accuracyHigh)), n = \(a.metrics.answered))"
    }

    static func points(_ v: Double) -> String { (v >= 0 ? "+" : "−") + Format.fixed(abs(v) * 100, digits: 1) + " pts" }

    static func ms(_ v: Double?) -> String { v.map { Format.fixed($0, digits: $0 < 10 ? 2 : 1) + " ms" } ?? "–" }

    static func comparisonText(_ c: PairedComparison?) -> String {
        guard let c else { return "not tested against the reference" }
        return "\(points(c.difference)) vs the reference on \(c.pairs) paired examples, 95% bootstrap \(points(c.bootstrapLow)) to \(points(c.bootstrapHigh)), "
            + "exact McNemar \(pEquals(c.pValue)) (Holm \(pEquals(c.pValueHolm)))"
    }

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

    static func rivalsText(_ s: RunSummary, _ a: DecisionAnalysis, chosen: CandidateAssessment) -> String {
        let others = a.assessments.filter { $0.id != chosen.id && $0.metrics.answered > 0 }
        let qualified = others.filter(\.qualifies)
        var text = ""
        if !qualified.isEmpty {
            // What the extra cost would buy: each costlier rival that is more accurate, paired against the choice.
            let chosenAnswers = DecisionAnalyzer.firstAnswers(s.results[index(of: chosen.id, in: s)])
            text += "Also qualifying but costlier: " + qualified.map { rival in
                var item = Markdown.cell(rival.id)
                guard (rival.metrics.accuracy ?? 0) > (chosen.metrics.accuracy ?? 0),
                      let c = DecisionAnalyzer.compare(DecisionAnalyzer.firstAnswers(s.results[index(of: rival.id, in: s)]), chosenAnswers,
                                                       referenceID: chosen.id, policy: a.policy, seed: s.experiment.run.seed) else { return item }
                item += " (\(Format.percent(rival.metrics.accuracy)), \(points(c.difference)) on \(c.pairs) paired examples, "
                item += "95% bootstrap \(points(c.bootstrapLow)) to \(points(c.bootstrapHigh)), exact McNemar \(pEquals(c.pValue))"
                item += c.pValue < a.policy.alpha ? ", a real difference" : ", not a significant difference"
                item += "; \(Format.usd(rival.horizonCostUSD)) over \(horizonText(a.policy)))"
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
        md += Markdown.table(["candidate", "answer read by", "accuracy", "95% CI", "consistency", "invalid", "errors", "input tokens", "output tokens",
                              "cost / 1k", "p50", "p95"], foundation.map { c in
            let m = c.metrics
            return [c.id, readMethod(c.metrics, s.experiment), Format.percent(m.accuracy), "\(Format.percent(c.accuracyLow))–\(Format.percent(c.accuracyHigh))",
                    consistencyText(c), Format.percent(m.invalidRate), "\(m.errors) / \(m.requests)",
                    tokens(m.meanInputTokens, m.tokensEstimated), tokens(m.meanOutputTokens, m.tokensEstimated),
                    Format.usd(m.costPer1kUSD), ms(m.latencyP50Ms), ms(m.latencyP95Ms)]
        }, alignRight: Set(2...11))
        let ranked = foundation.filter { $0.metrics.answered > 0 }.sorted { ($0.metrics.accuracy ?? 0) > ($1.metrics.accuracy ?? 0) }
        if let best = ranked.first {
            md += "\nMost accurate variant: **\(Markdown.cell(best.id))** at \(Format.percent(best.metrics.accuracy))"
            if ranked.count > 1 {
                let runnerUp = ranked[1]
                let seed = s.experiment.run.seed
                if let c = DecisionAnalyzer.compare(DecisionAnalyzer.firstAnswers(s.results[index(of: best.id, in: s)]),
                                                    DecisionAnalyzer.firstAnswers(s.results[index(of: runnerUp.id, in: s)]),
                                                    referenceID: runnerUp.id, policy: a.policy, seed: seed) {
                    md += ", \(points(c.difference)) ahead of \(Markdown.cell(runnerUp.id)) on \(c.pairs) paired examples "
                    md += "(95% bootstrap \(points(c.bootstrapLow)) to \(points(c.bootstrapHigh)), exact McNemar \(pEquals(c.pValue)))"
                    md += c.pValue < a.policy.alpha ? ": a real difference at α = \(JSON.formatNumber(a.policy.alpha))." : ": not a significant difference at α = \(JSON.formatNumber(a.policy.alpha)); either prompt may be as good."
                } else {
                    md += "."
                }
            } else {
                md += "."
            }
            md += "\n"
        }
        if s.experiment.run.repeats == 1 {
            md += "\nConsistency: each example was asked once; set `run.repeats` (e.g. 3) to measure how often a prompt gives the same answer twice.\n"
        } else {
            md += "\nConsistency: share of examples whose \(s.experiment.run.repeats) answers all agree; the spread is accuracy's range across the repeats.\n"
        }
        let invalid = foundation.filter { ($0.metrics.invalidRate ?? 0) > 0.2 }
        if !invalid.isEmpty {
            md += "\nHigh invalid-output rates (" + invalid.map { "\(Markdown.cell($0.id)) \(Format.percent($0.metrics.invalidRate))" }.joined(separator: ", ")
            md += ") mean the model often answered in a form no label could be read from; see the invalid-output samples in the Appendix.\n"
        }
        return md + "\n"
    }

    /// How a candidate's answer becomes a label: parsed from generated text (and how), or scored by likelihood.
    static func readMethod(_ m: CandidateMetrics, _ e: Experiment) -> String {
        guard let model = e.model(m.model) else { return "–" }
        switch model.provider {
        case .builtin: return "classifier"
        case .openAI(let s) where s.scoring == .likelihood: return "label likelihood"
        default:
            let parsing = m.prompt.flatMap { e.prompt($0)?.parsing } ?? e.task.parsing
            switch parsing.method {
            case .exact: return "parsed: exact"
            case .first: return "parsed: first label"
            case .regex: return "parsed: regex"
            }
        }
    }

    static func index(of id: String, in s: RunSummary) -> Int { s.metrics.firstIndex { $0.candidate == id } ?? 0 }

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
            let statics = s.analysis.assessments.filter { c in
                c.metrics.model == d.metrics.model && c.metrics.prompt.flatMap { e.prompt($0)?.examples.isStaticFewShot } == true
            }
            if statics.isEmpty {
                rows.append([d.id, how, Format.percent(d.metrics.accuracy), "no static few-shot prompt on this model", "–", "–", "–", "–"])
            }
            for st in statics {
                let comparison = DecisionAnalyzer.compare(DecisionAnalyzer.firstAnswers(s.results[index(of: d.id, in: s)]),
                                                          DecisionAnalyzer.firstAnswers(s.results[index(of: st.id, in: s)]),
                                                          referenceID: st.id, policy: s.analysis.policy, seed: e.run.seed)
                let extraTokens = d.metrics.meanInputTokens.flatMap { x in st.metrics.meanInputTokens.map { x - $0 } }
                let extraCost = d.metrics.costPer1kUSD.flatMap { x in st.metrics.costPer1kUSD.map { x - $0 } }
                rows.append([d.id, how, Format.percent(d.metrics.accuracy), "\(st.id) \(Format.percent(st.metrics.accuracy))",
                             comparison.map { points($0.difference) + " (\(points($0.bootstrapLow)) to \(points($0.bootstrapHigh)))" } ?? "–",
                             comparison.map { pValue($0.pValue) } ?? "–",
                             extraTokens.map { ($0 >= 0 ? "+" : "") + Format.fixed($0, digits: 1) } ?? "–",
                             extraCost.map { ($0 >= 0 ? "+" : "−") + Format.usd(abs($0)) } ?? "–"])
            }
        }
        md += Markdown.table(["dynamic candidate", "similarity", "accuracy", "static few-shot", "difference (95% bootstrap)", "McNemar p",
                              "extra prompt tokens", "extra cost / 1k"], rows, alignRight: [2, 5, 6, 7])
        return md + "\n"
    }

    // MARK: Step 3

    static func stepThree(_ s: RunSummary) -> String {
        let a = s.analysis
        let p = a.policy
        var md = "## Step 3 — comparative analysis\n\n"
        md += "Reference: " + (a.referenceID.map { "**\(Markdown.cell($0))** (\(a.referenceReason))" } ?? a.referenceReason) + ". "
        md += "Differences are candidate minus reference, in accuracy points, on the examples both answered. "
        md += "Costs: \(Format.count(p.monthlyRequests)) requests a month over \(Format.fixed(p.horizonMonths, digits: 0)) months.\n\n"
        md += Markdown.table(["candidate", "role", "accuracy", "Δ vs reference", "95% bootstrap", "McNemar p", "Holm p", "p50", "p95",
                              "cost / 1k", "monthly", "one-time", "horizon total", "break-even / month", "qualifies"],
                             a.assessments.map { c in
            let m = c.metrics
            let cmp = c.comparison
            return [c.id + (c.recommended ? " ★" : ""), m.role.rawValue, Format.percent(m.accuracy),
                    cmp.map { points($0.difference) } ?? (c.id == a.referenceID ? "reference" : "–"),
                    cmp.map { "\(points($0.bootstrapLow)) to \(points($0.bootstrapHigh))" } ?? "–",
                    cmp.map { pValue($0.pValue) } ?? "–", cmp.map { pValue($0.pValueHolm) } ?? "–",
                    ms(m.latencyP50Ms), ms(m.latencyP95Ms), Format.usd(m.costPer1kUSD), Format.usd(c.monthlyCostUSD),
                    Format.usd(c.oneTimeCostUSD), Format.usd(c.horizonCostUSD), breakEvenCell(c.breakEven),
                    c.qualifies ? "yes" : "no"]
        }, alignRight: Set(2...13))
        md += "\n★ recommended. "
        if a.comparisons > 1 {
            md += "Holm's step-down adjustment controls the family-wise error over the \(a.comparisons) comparisons with the reference. "
        }
        md += "Break-even: the monthly volume at which the candidate's total over the horizon equals the reference's.\n\n"
        let failing = a.assessments.filter { !$0.requirementFailures.isEmpty || $0.nonInferior == false }
        if !failing.isEmpty {
            md += "Why candidates do not qualify:\n\n"
            for c in failing {
                var reasons = c.requirementFailures
                if c.nonInferior == false, let cmp = c.comparison {
                    reasons.append("bootstrap lower bound \(points(cmp.bootstrapLow)) is below −\(Format.fixed(p.margin * 100, digits: 1)) points (non-inferiority margin)")
                }
                md += "- \(Markdown.cell(c.id)): " + reasons.map(Markdown.cell).joined(separator: "; ") + "\n"
            }
            md += "\n"
        }
        md += "One-time costs: " + a.assessments.map { "\(Markdown.cell($0.id)) \(Format.usd($0.oneTimeCostUSD)) (\(Markdown.cell($0.oneTimeCostSource)))" }
            .joined(separator: "; ") + ".\n\n"
        md += "![Accuracy against cost per 1,000 requests](\(accuracyCostFile))\n\n![p50 and p95 latency per candidate](\(latencyFile))\n\n"
        let unplotted = a.assessments.filter { $0.metrics.answered > 0 && ($0.metrics.costPer1kUSD ?? 0) <= 0 }
        if !unplotted.isEmpty {
            md += "Not on the cost chart (no positive cost per request): " + unplotted.map { Markdown.cell($0.id) }.joined(separator: ", ") + ".\n\n"
        }
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
            md += "\n### Data audit\n\n"
            if audit.findings.isEmpty {
                md += "No duplicates, conflicting labels, leakage, broken text or doubtful labels found.\n"
            }
            for f in audit.findings {
                md += "- **\(f.severity.rawValue)** — \(Markdown.cell(f.title)): **\(f.count)**. Remedy: \(Markdown.cell(f.remedy)).\n"
                for example in f.examples { md += "  - \(Markdown.cell(example))\n" }
            }
            md += "\nTraining split: about \(Format.count(Double(audit.trainingTokens))) tokens (inputs and labels, ≈ 4 characters a token)"
            let priced = s.experiment.models.compactMap { model -> String? in
                guard case let .tokens(_, epochs, price)? = model.fineTuning?.basis else { return nil }
                let usd = Double(audit.trainingTokens) * epochs * price / 1_000_000
                return "fine-tuning \(Markdown.cell(model.id)) on it for \(JSON.formatNumber(epochs)) epochs at $\(JSON.formatNumber(price))/M tokens ≈ \(Format.usd(usd))"
            }
            md += priced.isEmpty ? ".\n" : "; " + priced.joined(separator: "; ") + ".\n"
            md += "\n`evalkit audit` prints this audit; `evalkit export-finetune --prompt ID --dedupe --drop-conflicts --drop-leaked` writes the training split with these fixes.\n"
        }
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
        return "the first \(s.evaluatedExamples) test examples differ from the whole split in their labels (" + gaps.joined(separator: "; ")
            + "). The limit takes examples in file order: shuffle the test file, or raise the limit, before trusting these figures."
    }

    // MARK: Appendix

    static func appendix(_ s: RunSummary) -> String {
        let e = s.experiment
        let labels = e.task.labels
        var md = "## Appendix\n\n### Per-label precision, recall and F1\n\n"
        for (i, m) in s.metrics.enumerated() where m.answered > 0 {
            let pairs = Array(s.results[i].lazy.filter { $0.answered }.map { (target: $0.target, predicted: $0.label) })
            md += "**\(Markdown.cell(m.candidate))**\n\n"
            md += Markdown.table(["label", "precision", "recall", "F1", "support"],
                                 MetricsCalculator.labelScores(labels: labels, pairs: pairs).map {
                [$0.label, Format.fixed($0.precision, digits: 3), Format.fixed($0.recall, digits: 3), Format.fixed($0.f1, digits: 3), String($0.support)]
            }, alignRight: [1, 2, 3, 4])
            md += "\nConfusion (rows: target, columns: answer):\n\n"
            let matrix = MetricsCalculator.confusion(labels: labels, pairs: pairs)
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
            md += Markdown.table(["kind", "example", "input", "target", "output"], (wrong.map { ("wrong", $0) } + invalid.map { ("invalid", $0) }).map { kind, r in
                [kind, r.exampleID, Text.preview(s.examples.first { $0.id == r.exampleID }?.input ?? "", limit: 100), r.target, Text.preview(r.output ?? "", limit: 80)]
            })
            md += "\n"
        }
        md += "### Models and pricing\n\n"
        md += Markdown.table(["model", "role", "provider", "price"], e.models.map { model in
            [model.id, model.role.rawValue, providerDescription(model), CostModel.describe(model.pricing, concurrency: model.concurrency)]
        })
        md += "\nCost per request: per-token prices × the token counts the server reported (≈ where estimated at 4 characters a token); "
        md += "per-hour prices × measured latency ÷ requests served at once. Latency is wall-clock time per request as evalkit measured it.\n\n"
        let failures = s.metrics.filter { $0.errors > 0 }
        if !failures.isEmpty {
            md += "### Failures\n\n"
            for m in failures { md += "- \(Markdown.cell(m.candidate)): \(m.errors) of \(m.requests) requests failed; first error: \(Markdown.cell(m.firstError ?? ""))\n" }
            md += "\n"
        }
        md += "### Reproduce\n\n```\n\(s.reproduceCommand)\n```\n\n"
        md += "Files: `results.jsonl` (one line per request), `summary.csv` (one row per candidate; `evalkit verify` recomputes it), "
        md += "`run.json` (manifest), `config.json` (the experiment as run), `\(accuracyCostFile)`, `\(latencyFile)`.\n\n"
        md += "### Environment\n\nevalkit \(s.evalkitVersion); \(ProcessInfo.processInfo.operatingSystemVersionString); "
        md += "\(ProcessInfo.processInfo.processorCount) processors.\n"
        return md
    }

    static func providerDescription(_ model: ModelSpec) -> String {
        switch model.provider {
        case .openAI(let s):
            let scoring = s.scoring == .likelihood ? "; scored by label likelihood (each label's probability as the next token)" : ""
            return "openai \(s.endpoint.rawValue), model \(s.model) at \(s.baseURL)\(scoring)"
        case .anthropic(let s): return "anthropic, model \(s.model) at \(s.baseURL)"
        case .command(let s): return "command: \(s.argv.joined(separator: " "))"
        case .builtin(let s): return "builtin logistic regression (2^\(s.hashBits) hashed n-gram features, \(s.epochs) epochs)"
        }
    }

    // MARK: charts

    public static func accuracyCostChart(_ s: RunSummary) -> String {
        let points = s.analysis.assessments.compactMap { c -> Charts.CostPoint? in
            guard let acc = c.metrics.accuracy, let cost = c.metrics.costPer1kUSD, cost > 0 else { return nil }
            return Charts.CostPoint(label: c.id, costPer1k: cost, accuracy: acc, low: c.accuracyLow ?? acc, high: c.accuracyHigh ?? acc)
        }
        return Charts.accuracyVersusCost(points, title: "\(s.experiment.name): accuracy vs cost")
    }

    public static func latencyChart(_ s: RunSummary) -> String {
        let bars = s.metrics.compactMap { m -> Charts.LatencyBar? in
            guard let p50 = m.latencyP50Ms, let p95 = m.latencyP95Ms else { return nil }
            return Charts.LatencyBar(label: m.candidate, p50: p50, p95: p95)
        }
        return Charts.latency(bars, title: "\(s.experiment.name): latency per request (ms)")
    }
}
