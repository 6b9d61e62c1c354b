import Foundation

/// One line of `evalkit check`: a candidate's metric, baseline against now, with a verdict.
public struct CheckRow: Sendable, Equatable {
    public enum Verdict: String, Sendable {
        case pass, fail
        /// Shown for context; never fails the check.
        case info
        /// A candidate the baseline does not have.
        case new
    }
    public var candidate: String
    public var metric: String
    public var baseline: String
    public var current: String
    public var change: String
    public var verdict: Verdict
    /// Why: the numbers that decided the verdict.
    public var detail: String

    /// True for rows that are a gate (a JUnit test case), not context.
    public var isGate: Bool { verdict == .pass || verdict == .fail }
}

/// The outcome of comparing a run with its baseline.
public struct CheckReport: Sendable {
    public var experiment: String
    public var baselineRun: String
    public var currentRun: String
    public var policy: CheckPolicy
    public var rows: [CheckRow]
    /// The two runs' environments: where they differ, changes that only the environment could have
    /// caused are shown as information instead of failing the check.
    public var environment: EnvironmentComparison
    public var failures: [CheckRow] { rows.filter { $0.verdict == .fail } }
    public var passed: Bool { failures.isEmpty }
    /// Rows that would have been gated in the same environment but were not because it differs.
    public var environmentRows: [CheckRow] { rows.filter { $0.verdict == .info && $0.detail.hasPrefix(RegressionCheck.environmentNote) } }
}

/// Why a run cannot be checked against a baseline at all.
public enum CheckError: Error, CustomStringConvertible, Sendable {
    case unreadable(RunFolderError, role: String)
    case mismatched(String)

    public var description: String {
        switch self {
        case let .unreadable(error, role): return "the \(role) cannot be read: \(error)"
        case .mismatched(let why): return "the baseline does not match this run: \(why)"
        }
    }
}

/// `evalkit check`: each baseline candidate against its counterpart in the run.
public enum RegressionCheck {
    /// Latency and cost changes smaller than these are noise, whatever their ratio (sub-millisecond
    /// in-process models would otherwise fail on a busy machine).
    public static let latencyNoiseMs = 5.0
    public static let costNoisePer1kUSD = 0.001
    /// How the detail of a row left ungated because the environment differs begins.
    public static let environmentNote = "environment changed"

    public static func check(current: RunFolder, baseline: RunFolder, policy: CheckPolicy) throws(CheckError) -> CheckReport {
        let e = current.experiment, b = baseline.experiment
        guard e.name == b.name else { throw .mismatched("it is for experiment \"\(b.name)\", the run for \"\(e.name)\"") }
        // Scores of another task type or scorer measure something else: comparing them would gate nothing.
        guard e.task.type == b.task.type, e.task.scorer.reportLine == b.task.scorer.reportLine else {
            throw .mismatched("it is a \(b.task.type.rawValue) task scored by \(b.task.scorer.reportLine); the run a \(e.task.type.rawValue) task scored by \(e.task.scorer.reportLine)")
        }
        guard e.task.labels == b.task.labels else {
            throw .mismatched("its labels are \(b.task.labels.joined(separator: ", ")), the run's \(e.task.labels.joined(separator: ", "))")
        }
        let environment = EnvironmentComparison(baseline: baseline.environment, current: current.environment)
        let currentRows = Dictionary(current.summary.map { ($0.candidate, $0) }, uniquingKeysWith: { a, _ in a })
        let baselineResults = baseline.resultsByCandidateID
        let currentResults = current.resultsByCandidateID
        var rows: [CheckRow] = []
        for base in baseline.summary {
            guard let now = currentRows[base.candidate] else {
                rows.append(CheckRow(candidate: base.candidate, metric: "present", baseline: "yes", current: "missing", change: "",
                                     verdict: .fail, detail: "the baseline has this candidate; the run does not"))
                continue
            }
            let model = now.text("model")
            let baseColumn = baselineResults?[base.candidate], nowColumn = currentResults?[base.candidate]
            var accuracy = accuracyRow(base: base, now: now, policy: policy, pairs: pairs(baseColumn, nowColumn))
            let answerEnvironment = environment.answerDifferences(model: model)
            let changed = environment.definitionChanged(candidate: base.candidate)
            if !answerEnvironment.isEmpty {
                if changed == true {
                    accuracy.detail += "; the environment differs too (\(answerEnvironment.joined(separator: "; "))), so part of the change may come from it"
                } else {
                    ungate(&accuracy, because: answerEnvironment, what: "this model's answers depend on it and the candidate's definition "
                           + (changed == false ? "is unchanged" : "was not recorded"))
                }
            }
            rows.append(accuracy)
            let speedEnvironment = environment.speedDifferences(model: model)
            var latency = latencyRow(candidate: base.candidate, base: base, now: now, policy: policy,
                                     pairs: latencyPairs(baseColumn, nowColumn))
            if !speedEnvironment.isEmpty { ungate(&latency, because: speedEnvironment, what: "latency depends on the machine and the server") }
            rows.append(latency)
            var cost = ratioRow(candidate: base.candidate, metric: "cost per 1k (USD)", base: base.number("cost_per_1k_usd"),
                                now: now.number("cost_per_1k_usd"), limit: policy.maxCostRatio, noise: costNoisePer1kUSD, digits: 6)
            if !speedEnvironment.isEmpty, e.model(model)?.pricing?.model.followsLatency == true {
                ungate(&cost, because: speedEnvironment, what: "its cost model makes cost follow latency")
            }
            rows.append(cost)
            for (column, name) in [("macro_f1", "macro-F1"), ("invalid_rate", "invalid rate"), ("error_rate", "error rate")] {
                let x = base.number(column), y = now.number(column)
                rows.append(CheckRow(candidate: base.candidate, metric: name, baseline: Format.fixed(x, digits: 4), current: Format.fixed(y, digits: 4),
                                     change: x != nil && y != nil ? signed((y ?? 0) - (x ?? 0), digits: 4) : "", verdict: .info, detail: ""))
            }
        }
        let known = Set(baseline.summary.map(\.candidate))
        for now in current.summary where !known.contains(now.candidate) {
            rows.append(CheckRow(candidate: now.candidate, metric: "present", baseline: "missing", current: "yes", change: "", verdict: .new,
                                 detail: "not in the baseline: nothing to compare; promote a new baseline to track it"))
        }
        return CheckReport(experiment: e.name, baselineRun: baseline.runID, currentRun: current.runID, policy: policy, rows: rows,
                           environment: environment)
    }

    /// Turns a gated row into information: the environment, not the experiment, may explain it.
    static func ungate(_ row: inout CheckRow, because differences: [String], what: String) {
        let verdict = row.verdict == .fail ? "would fail" : "would pass"
        row.detail = "\(environmentNote) (\(differences.joined(separator: "; "))): \(what), so this is not gated (\(verdict) in the same environment: "
            + row.detail + ")"
        row.verdict = .info
    }

    /// First-repeat outcomes of both runs on the examples both asked (a failed request is wrong): (baseline right, now right).
    static func pairs(_ base: ResultColumn?, _ now: ResultColumn?) -> PairedOutcomes? {
        guard let base, let now else { return nil }
        return PairedOutcomes(DecisionAnalyzer.firstScores(now), DecisionAnalyzer.firstScores(base))
    }

    /// First-repeat latencies of answered requests on the examples both runs answered: (baseline, now).
    static func latencyPairs(_ base: ResultColumn?, _ now: ResultColumn?) -> [(base: Double, now: Double)]? {
        guard let base, let now else { return nil }
        let before = DecisionAnalyzer.firstAnswers(base).mapValues(\.latencyMs), after = DecisionAnalyzer.firstAnswers(now).mapValues(\.latencyMs)
        return before.keys.sorted().compactMap { id in after[id].map { (base: before[id] ?? 0, now: $0) } }
    }

    static func signed(_ v: Double, digits: Int) -> String { (v >= 0 ? "+" : "") + Format.fixed(v, digits: digits) }

    static func accuracyRow(base: SummaryRow, now: SummaryRow, policy: CheckPolicy, pairs: PairedOutcomes?) -> CheckRow {
        let candidate = base.candidate
        guard var before = base.number("accuracy") else {
            return CheckRow(candidate: candidate, metric: "accuracy", baseline: "–", current: Format.percent(now.number("accuracy")), change: "",
                            verdict: .pass, detail: "the baseline had no answers to compare with")
        }
        guard var after = now.number("accuracy") else {
            return CheckRow(candidate: candidate, metric: "accuracy", baseline: Format.percent(before), current: "–", change: "",
                            verdict: .fail, detail: "no answers in this run (\(now.text("errors")) errors)")
        }
        // With per-example results, both accuracies are taken on the examples both runs asked, so a
        // run over fewer or other examples is compared like with like.
        var shared = ""
        if let pairs, let nowAccuracy = pairs.firstAccuracy, let baseAccuracy = pairs.secondAccuracy {
            before = baseAccuracy
            after = nowAccuracy
            if Double(pairs.pairs) != base.number("requests") || Double(pairs.pairs) != now.number("requests") {
                shared = " (both on the \(pairs.pairs) examples both runs asked)"
            }
        }
        let drop = before - after
        let change = signed((after - before) * 100, digits: 1) + " pts"
        var row = CheckRow(candidate: candidate, metric: "accuracy", baseline: Format.percent(before), current: Format.percent(after),
                           change: change, verdict: .pass, detail: "")
        let allowed = "allowed drop \(Format.fixed(policy.maxAccuracyDrop * 100, digits: 1)) pts"
        if drop <= policy.maxAccuracyDrop {
            row.detail = (drop > 0 ? "within the \(allowed)" : "no drop") + shared
            return row
        }
        // The drop is large enough to matter; is it real?
        if let pairs, pairs.pairs > 0 {
            let onlyNow = pairs.firstBetter, onlyBase = pairs.secondBetter
            let p = pairs.pValue
            let counts = pairs.binary ? "\(onlyBase) now wrong, \(onlyNow) now right" : "\(onlyBase) now lower, \(onlyNow) now higher"
            let test = "\(pairs.testName) on \(pairs.pairs) shared examples: \(counts), p = \(Format.fixed(p, digits: 4))"
            if p < policy.alpha && pairs.firstTotal < pairs.secondTotal {
                row.verdict = .fail
                row.detail = "drop beyond the \(allowed) and significant (\(test))"
            } else {
                row.detail = "drop beyond the \(allowed) but not significant at α = \(JSON.formatNumber(policy.alpha)) (\(test))"
            }
            return row
        }
        // No per-example results on one side: the 95% intervals must not overlap.
        let beforeLow = base.number("accuracy_ci_low"), afterHigh = now.number("accuracy_ci_high")
        if let beforeLow, let afterHigh {
            let intervals = "baseline 95% CI from \(Format.percent(beforeLow)), now up to \(Format.percent(afterHigh)); per-example results missing"
            if afterHigh < beforeLow {
                row.verdict = .fail
                row.detail = "drop beyond the \(allowed) and the intervals do not overlap (\(intervals))"
            } else {
                row.detail = "drop beyond the \(allowed) but the intervals overlap (\(intervals))"
            }
        } else {
            row.verdict = .fail
            row.detail = "drop beyond the \(allowed); no per-example results or intervals to test it, so it counts"
        }
        return row
    }

    /// Latency judged on its distribution: the median of per-example ratios (now ÷ baseline) with its
    /// distribution-free 1 − α interval, and a one-sided exact sign test for "slower". Fails when the
    /// median ratio exceeds the allowance, the slowdown is significant, and the median grew by more
    /// than the noise floor. Without per-example results on both sides, p95 against the allowance.
    static func latencyRow(candidate: String, base: SummaryRow, now: SummaryRow, policy: CheckPolicy,
                           pairs: [(base: Double, now: Double)]?) -> CheckRow {
        let metric = "latency"
        let limit = policy.maxLatencyRatio
        let usable = (pairs ?? []).filter { $0.base > 0 }
        guard !usable.isEmpty else {
            var row = ratioRow(candidate: candidate, metric: metric, base: base.number("latency_p95_ms"), now: now.number("latency_p95_ms"),
                               limit: limit, noise: latencyNoiseMs, digits: 2)
            row.detail = "p95 (ms), no per-example latencies on both sides: " + row.detail
            return row
        }
        let ratios = usable.map { $0.now / $0.base }.sorted()
        let median = MetricsCalculator.percentile(ratios, 0.5) ?? 1
        let baseMedian = MetricsCalculator.percentile(usable.map(\.base).sorted(), 0.5) ?? 0
        let nowMedian = MetricsCalculator.percentile(usable.map(\.now).sorted(), 0.5) ?? 0
        let slower = usable.filter { $0.now > $0.base }.count, faster = usable.filter { $0.now < $0.base }.count
        let p = Statistics.binomialUpperTail(slower, of: slower + faster)
        let interval = Statistics.medianInterval(sorted: ratios, alpha: policy.alpha)
        let level = Format.fixed((1 - policy.alpha) * 100, digits: 0)
        let intervalText = interval.map { " (\(level)% CI ×\(Format.fixed($0.low, digits: 2))–×\(Format.fixed($0.high, digits: 2)))" } ?? ""
        let evidence = "median per-example ratio ×\(Format.fixed(median, digits: 2))\(intervalText) over \(usable.count) paired answers; "
            + "slower on \(slower), faster on \(faster), one-sided sign test p = \(Format.fixed(p, digits: 4)); "
            + "p95 \(Format.fixed(base.number("latency_p95_ms"), digits: 1)) → \(Format.fixed(now.number("latency_p95_ms"), digits: 1)) ms"
        var row = CheckRow(candidate: candidate, metric: metric, baseline: Format.fixed(baseMedian, digits: 2) + " ms",
                           current: Format.fixed(nowMedian, digits: 2) + " ms", change: "×" + Format.fixed(median, digits: 2), verdict: .pass, detail: "")
        let allowance = "allowed ×\(Format.fixed(limit, digits: 2))"
        if median > limit && p < policy.alpha && nowMedian - baseMedian > latencyNoiseMs {
            row.verdict = .fail
            row.detail = "slower beyond the \(allowance) and significant: " + evidence
        } else if median > limit && p >= policy.alpha {
            row.detail = "ratio beyond the \(allowance) but not significant at α = \(JSON.formatNumber(policy.alpha)): " + evidence
        } else if median > limit {
            row.detail = "ratio beyond the \(allowance) but the median grew by less than the noise floor of \(JSON.formatNumber(latencyNoiseMs)) ms: " + evidence
        } else {
            row.detail = "within the \(allowance): " + evidence
        }
        return row
    }

    static func ratioRow(candidate: String, metric: String, base: Double?, now: Double?, limit: Double, noise: Double, digits: Int) -> CheckRow {
        var row = CheckRow(candidate: candidate, metric: metric, baseline: Format.fixed(base, digits: digits), current: Format.fixed(now, digits: digits),
                           change: "", verdict: .pass, detail: "")
        guard let base, let now else {
            row.detail = base == nil ? "no baseline figure" : "no figure in this run"
            row.verdict = base != nil && now == nil ? .fail : .pass
            return row
        }
        guard base > 0 else {
            row.detail = "baseline is 0: no ratio"
            return row
        }
        let ratio = now / base
        row.change = "×" + Format.fixed(ratio, digits: 2)
        if ratio > limit && now - base > noise {
            row.verdict = .fail
            row.detail = "grew ×\(Format.fixed(ratio, digits: 2)), beyond the allowed ×\(Format.fixed(limit, digits: 2))"
        } else if ratio > limit {
            row.detail = "ratio beyond ×\(Format.fixed(limit, digits: 2)) but the increase is under the noise floor of \(JSON.formatNumber(noise))"
        } else {
            row.detail = "within ×\(Format.fixed(limit, digits: 2))"
        }
        return row
    }
}
