/// The forms `evalkit check` writes its report in: a table for the terminal, JUnit XML for CI
/// systems, Markdown for a GitHub step summary or a PR comment.
extension CheckReport {
    /// Every row as a Markdown table (readable on a terminal too).
    public var table: String {
        Markdown.table(["candidate", "metric", "baseline", "now", "change", "verdict", "why"], rows.map {
            [$0.candidate, $0.metric, $0.baseline, $0.current, $0.change, $0.verdict.rawValue.uppercased(), $0.detail]
        }, alignRight: [2, 3, 4])
    }

    /// One line saying whether the check passed, and how many comparisons the environment kept from the gate.
    public var headline: String {
        let gates = rows.filter(\.isGate).count
        var line = passed ? "PASS: \(gates) checks on \(experiment), run \(currentRun) against baseline \(baselineRun)."
                          : "FAIL: \(failures.count) of \(gates) checks on \(experiment) regressed (run \(currentRun) against baseline \(baselineRun))."
        let ungated = environmentRows.count
        if ungated > 0 {
            line += " The environments differ, so \(ungated) comparison\(ungated == 1 ? " is" : "s are") shown as information, not gated."
        }
        return line
    }

    /// Both environments and what differs, with what to do when comparisons were left ungated.
    public var environmentSummary: String {
        var text = "Environment:\n" + environment.lines.map { "  - " + $0 }.joined(separator: "\n") + "\n"
        if !environmentRows.isEmpty {
            text += "  Changes that only a different machine, server build or model provider could explain are not gated. To gate every "
                + "metric, evaluate the baseline's experiment here in the same job: evalkit check RUN_DIR --against-ref GIT_REF "
                + "(or --against-config CONFIG).\n"
        } else if environment.identical {
            text += "  Same machine and model builds: every metric is gated.\n"
        }
        return text
    }

    var thresholds: String {
        "accuracy may drop at most \(Format.fixed(policy.maxAccuracyDrop * 100, digits: 1)) points unless the drop is not significant "
            + "(exact McNemar, α = \(JSON.formatNumber(policy.alpha))); latency fails when the median per-example ratio exceeds "
            + "×\(Format.fixed(policy.maxLatencyRatio, digits: 2)) and the slowdown is significant (one-sided sign test), and cost per 1k "
            + "requests may grow to ×\(Format.fixed(policy.maxCostRatio, digits: 2)) (increases under "
            + "\(JSON.formatNumber(RegressionCheck.latencyNoiseMs)) ms or $\(JSON.formatNumber(RegressionCheck.costNoisePer1kUSD)) per 1k are noise); "
            + "where the environments differ, what only the environment could explain is information"
    }

    /// A Markdown summary for a CI step summary or a pull-request comment.
    public var markdown: String {
        var md = "## evalkit check: \(passed ? "✅ passed" : "❌ regression")\n\n\(Markdown.cell(headline))\n\n"
        if !passed {
            md += "### Regressions\n\n"
            md += Markdown.table(["candidate", "metric", "baseline", "now", "change", "why"], failures.map {
                [$0.candidate, $0.metric, $0.baseline, $0.current, $0.change, $0.detail]
            }, alignRight: [2, 3, 4]) + "\n"
        }
        md += "### Environment\n\n" + environment.lines.map { "- " + Markdown.cell($0) }.joined(separator: "\n") + "\n\n"
        md += "<details><summary>Every metric</summary>\n\n" + table + "\n</details>\n\nThresholds: \(thresholds).\n"
        return md
    }

    /// JUnit XML: a test case per candidate and gated metric; failures carry the numbers.
    public var junit: String {
        let cases = rows.filter(\.isGate)
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\"evalkit check\" tests=\"\(cases.count)\" failures=\"\(failures.count)\">\n"
        xml += "  <testsuite name=\"\(Text.xmlEscaped(experiment))\" tests=\"\(cases.count)\" failures=\"\(failures.count)\" errors=\"0\">\n"
        for row in cases {
            xml += "    <testcase classname=\"\(Text.xmlEscaped(row.candidate))\" name=\"\(Text.xmlEscaped(row.metric))\""
            if row.verdict == .fail {
                let message = "\(row.metric): baseline \(row.baseline), now \(row.current) \(row.change)"
                xml += ">\n      <failure message=\"\(Text.xmlEscaped(message))\">\(Text.xmlEscaped(row.detail))</failure>\n    </testcase>\n"
            } else {
                xml += "/>\n"
            }
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }
}
