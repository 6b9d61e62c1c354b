import Foundation

/// `evalkit verify RUN_DIR`: recomputes summary.csv from results.jsonl, the run's config.json and
/// the training times in run.json, and lists every cell that differs.
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
        public var description: String { "\(candidate) \(column): summary.csv has \"\(found)\", recomputed \"\(expected)\"" }
    }

    /// The mismatches between summary.csv and its recomputation; empty when every figure agrees.
    public static func verify(runDirectory: String) throws(RunFolderError) -> [Mismatch] {
        let run = try RunFolder.load(runDirectory)
        guard run.resultsByCandidateID != nil else { throw .missing(path: runDirectory + "/results.jsonl") }
        let expected = SummaryTable.csv(experiment: run.experiment, analysis: run.recompute().analysis)
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
