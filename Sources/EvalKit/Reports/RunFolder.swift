import Foundation

/// One candidate's row of summary.csv, read back by column name.
public struct SummaryRow: Sendable, Equatable {
    public var candidate: String
    public var cells: [String: String]

    public func number(_ column: String) -> Double? { cells[column].flatMap { Double($0) } }
    public func text(_ column: String) -> String { cells[column] ?? "" }
}

/// Why a run folder (or a baseline) cannot be used.
public enum RunFolderError: Error, CustomStringConvertible, Sendable {
    case missing(path: String)
    case corrupt(path: String, reason: String)
    /// A file or folder of the run could not be made.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case .missing(let path): return "\(path) is missing: not an evalkit run folder (expected summary.csv, run.json and config.json)"
        case let .corrupt(path, reason): return "\(path) is unreadable: \(reason)"
        }
    }
}

/// A finished run read back from its folder: what `verify`, `check`, `diff`, `baseline` and `report` work from.
public struct RunFolder: Sendable {
    public var directory: String
    /// The experiment as run (config.json), with paths resolved against the original config's folder.
    public var experiment: Experiment
    /// Per-example results by candidate id, each in canonical order; nil when the folder has no
    /// results.jsonl (a trimmed baseline). Grouped while reading, so a large file is held once.
    public var resultsByCandidateID: [String: ResultColumn]?
    public var summary: [SummaryRow]
    public var summaryText: String
    public var manifest: RunManifest
    public var trainingSeconds: [String: Double]
    /// What the capacity probe measured (capacity.csv; empty without one).
    public var capacity: [CapacityLevel] = []
    /// The LLM judge's grades (judgements.jsonl); empty without a judge.
    public var judgements: [Judgement] = []
    /// config.json as parsed JSON, for showing what changed between runs.
    public var experimentJSON: JSON

    /// The machine, model builds and candidate definitions the run recorded; nil for runs made
    /// before evalkit recorded them.
    public var environment: RunEnvironment?
    /// Requests sent per candidate over every process of the run (run.json's `requests_sent`); nil for
    /// runs that did not count them, whose results' attempt counts are all there is.
    public var requestsSent: [String: Int]? { manifest.requestsSent?.byCandidate }

    public var runID: String { manifest.runID }

    /// Loads a run folder; every problem names the file. Without `requireSummary`, a missing
    /// summary.csv reads as empty (it is about to be written again); without `withResults`,
    /// results.jsonl waits for `loadResults()`.
    /// `catalog` names the providers and scorers the run's config may use.
    public static func load(_ directory: String, requireSummary: Bool = true, withResults: Bool = true,
                            catalog: Catalog = .standard) throws(RunFolderError) -> RunFolder {
        let manifest = try RunManifest.read(directory: directory)
        let configPath = directory + "/config.json"
        let configData: [UInt8]
        switch SmallFile.contents(of: configPath) {
        case .success(let read): configData = read
        case .failure(let problem):
            if problem.reason == "no such file" { throw .missing(path: configPath) }
            throw .corrupt(path: configPath, reason: problem.reason)
        }
        let configJSON: JSON
        do { configJSON = try JSON.parse(bytes: configData) } catch {
            throw .corrupt(path: configPath, reason: "not JSON (\(error))")
        }
        // Dataset and prompt paths in the config are relative to where the config lived when it ran.
        let original = manifest.configPath
        let experiment: Experiment
        // A relative config path resolves from the absolute folder the run recorded while that folder
        // exists; a baseline (which drops that folder: it travels between machines) from the working folder.
        var base = FilePath.folder(of: original)
        if !original.hasPrefix("/"), let recorded = manifest.configDirectory,
           FileManager.default.fileExists(atPath: recorded + "/" + (original as NSString).lastPathComponent) {
            base = recorded
        }
        do {
            experiment = try ExperimentLoader.parse(configJSON, configPath: configPath, baseDirectory: base,
                                                    hash: SHA256.hex(bytes: [UInt8](configData)), catalog: catalog)
        } catch { throw .corrupt(path: configPath, reason: error.description) }
        var asRun = experiment
        asRun.configPath = original
        // The hash of the file that was run (config.json is a copy, rewritten when --only kept fewer candidates).
        if !manifest.configSHA256.isEmpty { asRun.configHash = manifest.configSHA256 }

        let summaryPath = directory + "/summary.csv"
        var summary: [SummaryRow] = []
        var summaryText = ""
        if case .success(let summaryData) = SmallFile.contents(of: summaryPath) {
            guard let text = String(validating: summaryData, as: UTF8.self) else { throw .corrupt(path: summaryPath, reason: "not UTF-8 text") }
            summaryText = text
            summary = try parseSummary(text, path: summaryPath)
        } else if requireSummary {
            throw .missing(path: summaryPath)
        }

        let training = Dictionary(manifest.training.map { ($0.modelID, $0.seconds) }, uniquingKeysWith: { a, _ in a })
        var run = RunFolder(directory: directory, experiment: asRun, resultsByCandidateID: nil, summary: summary, summaryText: summaryText,
                            manifest: manifest, trainingSeconds: training, experimentJSON: configJSON, environment: manifest.environment)
        run.capacity = try CapacityFile.read(directory: directory)
        if withResults { try run.loadResults() }
        return run
    }

    /// Reads results.jsonl, when the folder has one, into `resultsByCandidateID`.
    public mutating func loadResults() throws(RunFolderError) {
        let resultsPath = directory + "/results.jsonl"
        guard FileManager.default.fileExists(atPath: resultsPath) else { return }
        if var collected = try collectedResults(resultsPath) {
            try adopt(&collected)
            return
        }
        // Columns sized up front and sorted in place: the results are held once, compactly.
        var groups: [String: ResultColumn] = [:]
        for (candidate, count) in ResultsJournal.countByCandidate(path: resultsPath) {
            groups[candidate] = []
            groups[candidate]?.reserveCapacity(count)
        }
        do { try ResultsJournal.read(path: resultsPath) { groups[$0.candidate, default: []].append($0) } } catch {
            throw .corrupt(path: resultsPath, reason: error.description)
        }
        try adopt(&groups)
    }

    /// The results of `path` by candidate, kept in working files (in the run folder, else the system's
    /// temporary folder) rather than memory, in canonical order; nil where they cannot be (two results of
    /// one request, which a run folder should not hold, or no working file), and then they are read again
    /// into memory as they are.
    private func collectedResults(_ path: String) throws(RunFolderError) -> [String: ResultColumn]? {
        var folder = directory, columns: [String: ResultColumn] = [:], ordinals: [String: Int] = [:]
        var repeats = 1, unusable = false
        do {
            try ResultsJournal.read(path: path) { result in
                guard !unusable else { return }
                let ordinal = ordinals[result.exampleID] ?? ordinals.count
                if ordinal == ordinals.count { ordinals[result.exampleID] = ordinal }
                repeats = max(repeats, result.repeatIndex + 1)
                if columns[result.candidate] == nil {
                    do throws(SpillFileError) { columns[result.candidate] = try ResultColumn(collectingIn: folder) } catch {
                        folder = NSTemporaryDirectory()
                        do throws(SpillFileError) { columns[result.candidate] = try ResultColumn(collectingIn: folder) } catch { unusable = true; return }
                    }
                }
                do throws(SpillFileError) { _ = try columns[result.candidate]?.collect(result, exampleOrdinal: ordinal) } catch { unusable = true }
            }
        } catch {
            throw .corrupt(path: path, reason: error.description)
        }
        guard !unusable else { return nil }
        let byID = ordinals.sorted { $0.key < $1.key }
        ordinals = [:]
        var rank = [Int32](repeating: 0, count: byID.count)
        for (place, entry) in byID.enumerated() { rank[entry.value] = Int32(clamping: place) }
        let sortedIDs = byID.map(\.key)
        for key in Array(columns.keys) {
            do throws(SpillFileError) {
                guard try columns[key]?.finishCollecting(exampleIDs: sortedIDs, rankOfOrdinal: rank, repeats: repeats) == true else { return nil }
            } catch { return nil }
        }
        return columns
    }

    /// Takes results grouped by candidate id (as results.jsonl holds them, already read) as the run's:
    /// sorted into canonical order, the judge's grades applied. `groups` is emptied, so they are held once.
    mutating func adopt(_ groups: inout [String: ResultColumn]) throws(RunFolderError) {
        var sorted: [String: ResultColumn] = [:]
        for key in Array(groups.keys) {
            var column = groups.removeValue(forKey: key) ?? []
            column.sortCanonically()
            sorted[key] = column
        }
        // The judge's grades complete the answers (the score part "judge", or the score itself).
        do { judgements = try JudgementsFile.read(directory: directory) } catch {
            throw .corrupt(path: directory + "/" + JudgementsFile.name, reason: error.description)
        }
        if !judgements.isEmpty || experiment.task.judge != nil {
            let ids = experiment.candidates.map(\.id)
            let judged = JudgeGrades.apply(judgements, to: ids.map { sorted[$0] ?? [] }, experiment: experiment)
            for (id, column) in zip(ids, judged) where sorted[id] != nil { sorted[id] = column }
        }
        resultsByCandidateID = sorted
    }

    static func parseSummary(_ text: String, path: String) throws(RunFolderError) -> [SummaryRow] {
        let records: [CSV.Record]
        do { records = try CSV.parse(text) } catch { throw .corrupt(path: path, reason: error.description) }
        guard let header = records.first?.fields, header.first == "candidate", header.contains("accuracy") else {
            throw .corrupt(path: path, reason: "the header is not evalkit's (expected candidate, …, accuracy, …)")
        }
        var rows: [SummaryRow] = []
        for record in records.dropFirst() {
            guard record.fields.count == header.count else {
                throw .corrupt(path: path, reason: "line \(record.line) has \(record.fields.count) fields where the header has \(header.count)")
            }
            // Ids as the run knows them: the formula guard is for spreadsheets, not for pairing results.
            let fields = record.fields.map(CSV.unguarded)
            rows.append(SummaryRow(candidate: fields[0], cells: Dictionary(zip(header, fields), uniquingKeysWith: { a, _ in a })))
        }
        return rows
    }

    /// Results grouped by candidate in the experiment's candidate order, each in canonical order.
    public var resultsByCandidate: [ResultColumn] {
        experiment.candidates.map { resultsByCandidateID?[$0.id] ?? [] }
    }

    /// Metrics and the decision analysis recomputed from the per-example results.
    public func recompute() -> (metrics: [CandidateMetrics], analysis: DecisionAnalysis) {
        let perCandidate = resultsByCandidate
        let metrics = MetricsCalculator.metrics(experiment: experiment, results: perCandidate, sent: requestsSent)
        let trainingExamples = Dictionary(manifest.training.compactMap { t in t.examples.map { (t.modelID, $0) } }, uniquingKeysWith: { a, _ in a })
        return (metrics, DecisionAnalyzer.analyze(experiment: experiment, metrics: metrics, results: perCandidate, trainingSeconds: trainingSeconds,
                                                  trainingExamples: trainingExamples,
                                                  capacities: Capacity.best(of: capacity, latencyLimitMs: experiment.decision.maxP95LatencyMs),
                                                  judgements: judgements,
                                                  adapterBytes: FineTuneComparison.adapterBytes(experiment, environment: manifest.environment)))
    }
}
