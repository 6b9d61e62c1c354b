import Foundation

/// `evalkit verify RUN_DIR`: recomputes summary.csv, analysis.json and report.md from results.jsonl,
/// the run's config.json and the training times in run.json, and lists everything that differs.
public enum RunVerifier {
    /// One figure in summary.csv that does not match its recomputation.
    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        public var candidate: String
        public var column: String
        public var found: String
        public var expected: String
        public init(candidate: String, column: String, found: String, expected: String) {
            self.candidate = candidate; self.column = column; self.found = found; self.expected = expected
        }
        public var description: String {
            switch candidate {
            case AnalysisFile.name, "report.md": return "\(candidate) \(column): \(found)"
            default: return "\(candidate) \(column): summary.csv has \"\(found)\", recomputed \"\(expected)\""
            }
        }
    }

    /// The mismatches between summary.csv and its recomputation; empty when every figure agrees.
    public static func verify(runDirectory: String, catalog: Catalog = .standard) throws(RunFolderError) -> [Mismatch] {
        let run = try RunFolder.load(runDirectory, catalog: catalog)
        guard run.resultsByCandidateID != nil else { throw .missing(path: runDirectory + "/results.jsonl") }
        let analysis = run.recompute().analysis
        var mismatches = try summaryMismatches(run, analysis: analysis, runDirectory: runDirectory)
        mismatches += analysisMismatches(analysis, runDirectory: runDirectory)
        mismatches += try reportMismatches(runDirectory: runDirectory, catalog: catalog)
        return mismatches
    }

    /// analysis.json against the recomputed analysis, by JSON path.
    static func analysisMismatches(_ analysis: DecisionAnalysis, runDirectory: String) -> [Mismatch] {
        let path = runDirectory + "/" + AnalysisFile.name
        guard let bytes = SmallFile.bytes(at: path) else {
            return [Mismatch(candidate: AnalysisFile.name, column: "(file)", found: "missing", expected: "present")]
        }
        guard let found = try? JSON.parse(bytes: bytes) else {
            return [Mismatch(candidate: AnalysisFile.name, column: "(file)", found: "not JSON", expected: "JSON")]
        }
        return AnalysisFile.differences(found, AnalysisFile.json(analysis)).map {
            Mismatch(candidate: AnalysisFile.name, column: "", found: $0, expected: "")
        }
    }

    /// report.md below its header (times and durations) against a fresh rendering; the first differing line.
    static func reportMismatches(runDirectory: String, catalog: Catalog) throws(RunFolderError) -> [Mismatch] {
        let path = runDirectory + "/report.md"
        guard let bytes = SmallFile.bytes(at: path) else {
            return [Mismatch(candidate: "report.md", column: "(file)", found: "missing", expected: "present")]
        }
        let expected = DecisionReport.markdown(try RunFolderCommands.summary(of: runDirectory, catalog: catalog))
        let marker = "<!-- /run-header -->"
        func body(_ text: String) -> [Substring] {
            let start = text.range(of: marker).map { text[$0.upperBound...] } ?? text[...]
            return start.split(separator: "\n", omittingEmptySubsequences: false)
        }
        let have = body(String(decoding: bytes, as: UTF8.self)), want = body(expected)
        guard have != want else { return [] }
        let line = (0..<min(have.count, want.count)).first { have[$0] != want[$0] } ?? min(have.count, want.count)
        let found = line < have.count ? Array(have[line]) : Array("(end of file)")
        let recomputed = line < want.count ? Array(want[line]) : Array("(end of report)")
        // Around the first character that differs, so a changed figure in a long line shows.
        let at = (0..<min(found.count, recomputed.count)).first { found[$0] != recomputed[$0] } ?? min(found.count, recomputed.count)
        func excerpt(_ text: [Character]) -> String {
            let start = max(0, at - 40), end = min(text.count, at + 40)
            return (start > 0 ? "…" : "") + String(text[start..<end]) + (end < text.count ? "…" : "")
        }
        return [Mismatch(candidate: "report.md", column: "",
                         found: "line \(line + 1) below the header differs: has \"\(excerpt(found))\", recomputed \"\(excerpt(recomputed))\"",
                         expected: "")]
    }

    /// summary.csv cell by cell, with duplicated, missing and unexpected rows.
    static func summaryMismatches(_ run: RunFolder, analysis: DecisionAnalysis, runDirectory: String) throws(RunFolderError) -> [Mismatch] {
        let expected = SummaryTable.csv(experiment: run.experiment, analysis: analysis)
        let summaryText = run.summaryText
        let found: [CSV.Record], recomputed: [CSV.Record]
        do {
            found = try CSV.parse(summaryText)
            recomputed = try CSV.parse(expected)
        } catch { throw .corrupt(path: runDirectory + "/summary.csv", reason: error.description) }
        guard found.first?.fields == SummaryTable.columns else {
            throw .corrupt(path: runDirectory + "/summary.csv", reason: "the header differs from this evalkit's")
        }
        var mismatches: [Mismatch] = []
        let foundRows = Dictionary(found.dropFirst().map { ($0.fields.first ?? "", $0.fields) }, uniquingKeysWith: { a, _ in a })
        let counts = Dictionary(found.dropFirst().map { ($0.fields.first ?? "", 1) }, uniquingKeysWith: +)
        for (candidate, count) in counts.sorted(by: { $0.key < $1.key }) where count > 1 {
            mismatches.append(Mismatch(candidate: candidate, column: "(row)", found: "\(count) rows", expected: "one row"))
        }
        for row in recomputed.dropFirst() {
            let candidate = row.fields.first ?? ""
            guard let existing = foundRows[candidate] else {
                mismatches.append(Mismatch(candidate: candidate, column: "(row)", found: "missing", expected: "a row"))
                continue
            }
            for (i, column) in SummaryTable.columns.enumerated() {
                let have = i < existing.count ? existing[i] : ""
                if have != row.fields[i] { mismatches.append(Mismatch(candidate: candidate, column: column, found: have, expected: row.fields[i])) }
            }
        }
        for candidate in foundRows.keys where !recomputed.dropFirst().contains(where: { $0.fields.first == candidate }) {
            mismatches.append(Mismatch(candidate: candidate, column: "(row)", found: "a row", expected: "no such candidate"))
        }
        return mismatches
    }
}
