import Foundation

/// Writes report.md, summary.csv and run.json for a finished run.
public enum ReportWriter {
    /// Writes the three summary files into `directory`.
    /// Writes the run's reports; `manifest: false` leaves run.json as it is (when re-rendering).
    public static func write(_ summary: RunSummary, to directory: String, manifest writeManifest: Bool = true) throws(ReportError) {
        let markdown = DecisionReport.markdown(summary)
        try save(markdown, to: directory + "/report.md")
        var charts: [String: String] = [:]
        try save(SummaryTable.csv(experiment: summary.experiment, analysis: summary.analysis), to: directory + "/summary.csv")
        try save(AnalysisFile.json(summary.analysis).encoded() + "\n", to: directory + "/" + AnalysisFile.name)
        if writeManifest { try manifest(summary).write(to: directory) }
        charts[DecisionReport.accuracyCostFile] = DecisionReport.accuracyCostChart(summary)
        charts[DecisionReport.latencyFile] = DecisionReport.latencyChart(summary)
        if let chart = DecisionReport.dataEfficiencyChart(summary) { charts[DecisionReport.dataEfficiencyFile] = chart }
        if !summary.capacity.isEmpty {
            try save(CapacityFile.csv(summary.capacity), to: directory + "/" + CapacityFile.name)
            charts[DecisionReport.capacityFile] = DecisionReport.capacityChart(summary)
        }
        for curve in summary.curves {
            try save(TrainingCurveFile.csv(curve), to: directory + "/" + curve.dataFile)
            charts[curve.chartFile] = Charts.trainingCurves(curve.points, title: "\(curve.modelID): training curves (\(curve.source))", unit: curve.unit, markStep: curve.keptStep)
        }
        for (name, svg) in charts.sorted(by: { $0.key < $1.key }) { try save(svg, to: directory + "/" + name) }
        try HTMLReport.write(summary, markdown: markdown, charts: charts, to: directory + "/" + HTMLReport.fileName)
    }

    /// Keeps a copy of the experiment file beside the results, so the run can be verified and reproduced.
    /// When the run evaluated fewer candidates than the file lists (`--only`), the copy lists those it ran.
    public static func copyConfig(_ experiment: Experiment, to directory: String) throws(ReportError) {
        let path = experiment.configPath
        guard let read = SmallFile.bytes(at: path) else { throw .cannotWrite(path: directory + "/config.json", reason: "cannot read \(path)") }
        var data = Data(read)
        if let file = try? ExperimentLoader.load(path: path), file.candidates != experiment.candidates,
           case .object(var members)? = try? JSON.parse(bytes: [UInt8](data)) {
            let list = JSON.array(experiment.candidates.map { c in
                .object([("model", .string(c.modelID))] + (c.promptID.map { [("prompt", JSON.string($0))] } ?? []))
            })
            if let index = members.firstIndex(where: { $0.0 == "candidates" }) { members[index].1 = list } else { members.append(("candidates", list)) }
            // A reference that was left out is no longer one.
            if let index = members.firstIndex(where: { $0.0 == "decision" }), case .object(let decision) = members[index].1,
               let reference = decision.first(where: { $0.0 == "reference" })?.1.stringValue, !experiment.candidates.contains(where: { $0.id == reference }) {
                members[index].1 = .object(decision.filter { $0.0 != "reference" })
            }
            data = Data((JSON.object(members).encoded() + "\n").utf8)
        }
        do { try data.write(to: URL(fileURLWithPath: directory + "/config.json"), options: .atomic) } catch {
            throw .cannotWrite(path: directory + "/config.json", reason: error.localizedDescription)
        }
    }

    /// The absolute folder of a config path, so a run folder's relative paths resolve from any working folder.
    static func absoluteDirectory(of configPath: String) -> String {
        let folder = FilePath.folder(of: configPath)
        let absolute = folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + (folder.isEmpty ? "" : "/" + folder)
        return (absolute as NSString).standardizingPath
    }

    public static func save(_ text: String, to path: String) throws(ReportError) {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    // MARK: run.json

    /// The finished run's manifest.
    public static func manifest(_ summary: RunSummary) -> RunManifest {
        let e = summary.experiment
        var m = RunManifest(evalkitVersion: summary.evalkitVersion, experiment: e.name, runID: summary.runID, configPath: e.configPath,
                            configDirectory: absoluteDirectory(of: e.configPath), configSHA256: e.configHash, startedAt: summary.startedAt,
                            command: summary.reproduceCommand,
                            status: summary.runFailure != nil ? .failed : (summary.stopReason != nil ? .incomplete : .finished))
        m.finishedAt = summary.finishedAt
        m.durationSeconds = summary.durationSeconds
        var counts = RunManifest.Counts()
        counts.train = summary.splits.first { $0.name == "train" }?.count ?? 0
        counts.validation = summary.splits.first { $0.name == "validation" }?.count ?? 0
        counts.test = summary.splits.first { $0.name == "test" }?.count ?? 0
        counts.testEvaluated = summary.evaluatedExamples
        counts.candidates = summary.metrics.count
        counts.requests = summary.metrics.reduce(0) { $0 + $1.requests }
        counts.answered = summary.metrics.reduce(0) { $0 + $1.answered }
        m.counts = counts
        m.candidates = summary.metrics.map(\.candidate)
        m.stopReason = summary.stopReason
        m.failure = summary.runFailure
        let beforeSharding = summary.examplesBeforeSharding ?? summary.evaluatedExamples
        m.limit = beforeSharding < counts.test ? beforeSharding : nil
        m.shard = summary.shard
        m.mergedFrom = summary.mergedFrom
        m.plannedRequests = summary.plannedRequests
        m.modelFailures = summary.modelFailures
        m.training = summary.training
        m.models = e.models.map(modelDescription)
        m.only = summary.onlyModels
        m.environment = summary.environment
        m.coldStarts = summary.coldStarts
        if summary.requestsSent != nil {
            // What went to the models over every process of the run, and how much of it has no kept
            // result (requests in flight when a process was killed).
            let total = summary.metrics.reduce(0) { $0 + $1.attempts }
            let recorded = summary.metrics.reduce(0) { $0 + $1.recordedAttempts }
            m.requestsSent = RunManifest.RequestsSent(total: total, unrecorded: max(0, total - recorded),
                                                      byCandidate: Dictionary(summary.metrics.map { ($0.candidate, $0.attempts) }, uniquingKeysWith: max))
        }
        return m
    }

    /// A model as run.json describes it: provider, endpoint and pricing, never a secret.
    static func modelDescription(_ model: ModelSpec) -> JSON {
        var members: [(String, JSON)] = [("id", .string(model.id)), ("provider", .string(model.providerName)), ("role", .string(model.role.rawValue))]
        members += model.provider.manifestMembers
        members.append(("pricing", .string(model.pricing?.describe(concurrency: model.concurrency) ?? "no pricing given")))
        return .object(members)
    }
}

/// Why a report file could not be written.
public enum ReportError: Error, CustomStringConvertible, Sendable {
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case cannotCreateFolder(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .cannotCreateFolder(path, reason): return "cannot create the run folder \(path): \(reason)"
        }
    }
}
