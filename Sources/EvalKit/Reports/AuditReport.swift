import Foundation

/// The data audit as Markdown: `evalkit audit` prints it, and report.md's step 4 shows its findings.
public enum AuditReport {
    /// A finding's remedy, naming the export option that applies the fix where there is one.
    public static func remedy(_ finding: AuditFinding) -> String {
        guard let fix = finding.fix else { return finding.remedy }
        return finding.remedy + " (evalkit export-finetune --\(fix.rawValue) applies it)"
    }

    /// The findings as a Markdown list: severity, title and count, the examples, the remedy.
    public static func findings(_ audit: DataAudit) -> String {
        guard !audit.findings.isEmpty else { return "No duplicates, conflicting labels, leakage, broken text or doubtful labels found.\n" }
        var md = ""
        for f in audit.findings {
            md += "- **\(f.severity.rawValue)** — \(Markdown.cell(f.title)): **\(f.count)**. Remedy: \(Markdown.cell(remedy(f))).\n"
            for example in f.examples { md += "  - \(Markdown.cell(example))\n" }
        }
        return md
    }

    /// The whole audit of an experiment's data, as `evalkit audit` prints it.
    public static func markdown(_ audit: DataAudit, experiment: String, labels: [String]) -> String {
        var md = "# Data audit: \(Markdown.cell(experiment))\n\n"
        md += Markdown.table(["split", "examples"] + labels, audit.balance.map { [$0.split, String($0.size)] + $0.counts.map(String.init) },
                             alignRight: Set(1...(labels.count + 1)))
        md += "\n" + findings(audit)
        md += "\nTraining split: about \(Format.count(Double(audit.trainingTokens))) tokens (≈ 4 characters a token).\n"
        return md
    }
}
