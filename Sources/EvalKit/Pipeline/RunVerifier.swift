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

    /// Why a run folder cannot be verified at all.
    public enum VerifyError: Error, CustomStringConvertible, Sendable {
        case missing(String)
        case unreadable(String)

        public var description: String {
            switch self {
            case .missing(let what): return "cannot verify: \(what)"
            case .unreadable(let what): return "cannot verify: \(what)"
            }
        }
    }

    /// The mismatches between summary.csv and its recomputation; empty when every figure agrees.
    public static func verify(runDirectory: String) throws(VerifyError) -> [Mismatch] {
        let configPath = runDirectory + "/config.json"
        let experiment: Experiment
        do { experiment = try ExperimentLoader.load(path: configPath) } catch {
            throw .unreadable("\(configPath): \(error)")
        }
        let results: [ExampleResult]
        do { results = try ResultsJournal.read(path: runDirectory + "/results.jsonl") } catch { throw .unreadable("\(error)") }
        var trainingSeconds: [String: Double] = [:]
        if let data = FileManager.default.contents(atPath: runDirectory + "/run.json"),
           let manifest = try? JSON.parse(bytes: [UInt8](data)) {
            for entry in manifest["training"]?.arrayValue ?? [] {
                if let model = entry["model"]?.stringValue, let seconds = entry["seconds"]?.numberValue { trainingSeconds[model] = seconds }
            }
        } else {
            throw .missing("\(runDirectory)/run.json is missing or not JSON")
        }
        guard let summaryData = FileManager.default.contents(atPath: runDirectory + "/summary.csv"),
              let summaryText = String(data: summaryData, encoding: .utf8) else { throw .missing("\(runDirectory)/summary.csv") }

        let grouped = Dictionary(grouping: results, by: \.candidate)
        let perCandidate = experiment.candidates.map { ExampleResult.canonicalOrder(grouped[$0.id] ?? []) }
        let metrics = experiment.candidates.enumerated().map { i, c in
            MetricsCalculator.metrics(candidate: c.id, model: c.modelID, prompt: c.promptID, role: experiment.model(c.modelID)?.role ?? .foundation,
                                      labels: experiment.task.labels, results: perCandidate[i])
        }
        let analysis = DecisionAnalyzer.analyze(experiment: experiment, metrics: metrics, results: perCandidate, trainingSeconds: trainingSeconds)
        let expected = SummaryTable.csv(experiment: experiment, analysis: analysis)

        let found: [CSV.Record], recomputed: [CSV.Record]
        do {
            found = try CSV.parse(summaryText)
            recomputed = try CSV.parse(expected)
        } catch { throw .unreadable("summary.csv: \(error)") }
        guard found.first?.fields == SummaryTable.columns else { throw .unreadable("summary.csv: the header is not evalkit's") }
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
