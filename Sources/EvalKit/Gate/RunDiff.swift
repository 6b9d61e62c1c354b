/// `evalkit diff RUN_A RUN_B`: what changed between two runs, as Markdown.
public enum RunDiff {
    /// At most this many flipped examples are listed per candidate and direction.
    public static let flipsShown = 10

    public static func markdown(_ a: RunFolder, _ b: RunFolder) -> String {
        var md = "# evalkit diff: \(Markdown.cell(a.runID)) → \(Markdown.cell(b.runID))\n\n"
        if a.experiment.name != b.experiment.name {
            md += "Experiments differ: **\(Markdown.cell(a.experiment.name))** → **\(Markdown.cell(b.experiment.name))**.\n\n"
        }
        let before = Dictionary(a.summary.map { ($0.candidate, $0) }, uniquingKeysWith: { x, _ in x })
        let after = Dictionary(b.summary.map { ($0.candidate, $0) }, uniquingKeysWith: { x, _ in x })
        let resultsA = a.resultsByCandidateID ?? [:]
        let resultsB = b.resultsByCandidateID ?? [:]
        let candidates = a.summary.map(\.candidate) + b.summary.map(\.candidate).filter { before[$0] == nil }

        md += "## Metrics\n\n"
        var rows: [[String]] = []
        for c in candidates {
            guard let x = before[c], let y = after[c] else {
                rows.append([c, before[c] == nil ? "added" : "removed", "", "", "", "", ""])
                continue
            }
            var test = "–"
            if let pairs = RegressionCheck.pairs(resultsA[c], resultsB[c]), pairs.pairs > 0 {
                let p = pairs.pValue
                let alpha = b.experiment.decision.alpha
                test = (pairs.binary ? "McNemar" : "sign-flip permutation") + " p = \(Format.fixed(p, digits: 4)) on \(pairs.pairs)" + (p < alpha ? " (significant at α = \(JSON.formatNumber(alpha)))" : "")
            }
            rows.append([c, Format.percent(x.number("accuracy")) + " → " + Format.percent(y.number("accuracy")),
                         delta(x.number("accuracy"), y.number("accuracy"), scale: 100, digits: 1, unit: " pts"), test,
                         Format.fixed(x.number("latency_p95_ms"), digits: 2) + " → " + Format.fixed(y.number("latency_p95_ms"), digits: 2),
                         Format.usd(x.number("cost_per_1k_usd")) + " → " + Format.usd(y.number("cost_per_1k_usd")),
                         x.text("recommended") + " → " + y.text("recommended")])
        }
        md += Markdown.table(["candidate", "accuracy", "change", "paired test", "p95 ms", "cost / 1k", "recommended"], rows) + "\n"

        md += "## Examples that flipped\n\n"
        var anyFlip = false
        for c in candidates {
            guard let xs = resultsA[c], let ys = resultsB[c] else { continue }
            let first = DecisionAnalyzer.firstAnswers(xs), second = DecisionAnalyzer.firstAnswers(ys)
            let shared = first.keys.filter { second[$0] != nil }.sorted()
            let broke = shared.filter { first[$0]?.correct == true && second[$0]?.correct == false }
            let fixed = shared.filter { first[$0]?.correct == false && second[$0]?.correct == true }
            guard !broke.isEmpty || !fixed.isEmpty else { continue }
            anyFlip = true
            md += "### \(Markdown.cell(c)): \(broke.count) right → wrong, \(fixed.count) wrong → right\n\n"
            let shown = broke.prefix(flipsShown).map { ("right → wrong", $0) } + fixed.prefix(flipsShown).map { ("wrong → right", $0) }
            md += Markdown.table(["flip", "example", "target", "before", "after"], shown.map { kind, id in
                [kind, id, first[id]?.target ?? "", Text.preview(first[id]?.output ?? "", limit: 60), Text.preview(second[id]?.output ?? "", limit: 60)]
            })
            if broke.count > flipsShown || fixed.count > flipsShown { md += "\n(first \(flipsShown) of each direction shown)\n" }
            md += "\n"
        }
        if !anyFlip { md += "No example changed between right and wrong on the candidates both runs share.\n\n" }

        md += "## Config changes\n\n"
        let changes = configChanges(a.experimentJSON, b.experimentJSON)
        md += changes.isEmpty ? "The experiment files are the same.\n" : Markdown.table(["JSON path", "before", "after"], changes.map { [$0.path, $0.before, $0.after] })
        return md
    }

    static func delta(_ x: Double?, _ y: Double?, scale: Double, digits: Int, unit: String) -> String {
        guard let x, let y else { return "–" }
        let d = (y - x) * scale
        return (d >= 0 ? "+" : "") + Format.fixed(d, digits: digits) + unit
    }

    /// Leaf values that differ between two JSON documents, by JSON path.
    public static func configChanges(_ a: JSON?, _ b: JSON?) -> [(path: String, before: String, after: String)] {
        var left: [(String, String)] = [], right: [(String, String)] = []
        if let a { flatten(a, path: "$", into: &left) }
        if let b { flatten(b, path: "$", into: &right) }
        let l = Dictionary(left, uniquingKeysWith: { x, _ in x }), r = Dictionary(right, uniquingKeysWith: { x, _ in x })
        let paths = left.map(\.0) + right.map(\.0).filter { l[$0] == nil }
        return paths.compactMap { path in
            let before = l[path] ?? "(absent)", after = r[path] ?? "(absent)"
            return before == after ? nil : (path, before, after)
        }
    }

    static func flatten(_ value: JSON, path: String, into out: inout [(String, String)]) {
        switch value {
        case .object(let members):
            if members.isEmpty { out.append((path, "{}")) }
            for (key, child) in members { flatten(child, path: path + "." + key, into: &out) }
        case .array(let items):
            if items.isEmpty { out.append((path, "[]")) }
            for (i, child) in items.enumerated() { flatten(child, path: "\(path)[\(i)]", into: &out) }
        default:
            out.append((path, value.encoded()))
        }
    }
}
