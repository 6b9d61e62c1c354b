import Foundation

/// Writes report.md, summary.csv and run.json for a finished run.
public enum ReportWriter {
    /// Writes the three summary files into `directory`.
    /// Writes the run's reports; `manifest: false` leaves run.json as it is (when re-rendering).
    public static func write(_ summary: RunSummary, to directory: String, manifest writeManifest: Bool = true) throws(ReportError) {
        try save(DecisionReport.markdown(summary), to: directory + "/report.md")
        try save(SummaryTable.csv(experiment: summary.experiment, analysis: summary.analysis), to: directory + "/summary.csv")
        try save(AnalysisFile.json(summary.analysis).encoded() + "\n", to: directory + "/" + AnalysisFile.name)
        if writeManifest { try save(manifest(summary).encoded() + "\n", to: directory + "/run.json") }
        try save(DecisionReport.accuracyCostChart(summary), to: directory + "/" + DecisionReport.accuracyCostFile)
        try save(DecisionReport.latencyChart(summary), to: directory + "/" + DecisionReport.latencyFile)
        for curve in summary.curves {
            try save(TrainingCurveFile.csv(curve), to: directory + "/" + curve.dataFile)
            try save(Charts.trainingCurves(curve.points, title: "\(curve.modelID): training curves (\(curve.source))", unit: curve.unit, markStep: curve.keptStep),
                     to: directory + "/" + curve.chartFile)
        }
    }

    /// Keeps a copy of the experiment file beside the results, so the run can be verified and reproduced.
    /// When the run evaluated fewer candidates than the file lists (`--only`), the copy lists those it ran.
    public static func copyConfig(_ experiment: Experiment, to directory: String) throws(ReportError) {
        let path = experiment.configPath
        guard var data = FileManager.default.contents(atPath: path) else { throw .cannotWrite(path: directory + "/config.json", reason: "cannot read \(path)") }
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
        let folder = (configPath as NSString).deletingLastPathComponent
        let absolute = folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + (folder.isEmpty ? "" : "/" + folder)
        return (absolute as NSString).standardizingPath
    }

    public static func save(_ text: String, to path: String) throws(ReportError) {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    // MARK: run.json

    public static func manifest(_ summary: RunSummary) -> JSON {
        let e = summary.experiment
        let training: [JSON] = summary.training.map { t in
            var entry: [(String, JSON)] = [("model", .string(t.modelID)), ("source", .string(t.source)), ("seconds", .number(t.seconds)),
                                           ("examples", t.examples.map { .number(Double($0)) } ?? .null),
                                           ("best_epoch", t.bestEpoch.map { .number(Double($0)) } ?? .null), ("stopped_early", .bool(t.stoppedEarly))]
            if let last = t.last {
                entry.append(("last_epoch", .object([
                    ("epoch", .number(Double(last.epoch))), ("train_loss", .number(last.trainLoss)), ("train_accuracy", .number(last.trainAccuracy)),
                    ("validation_loss", last.validationLoss.map(JSON.number) ?? .null),
                    ("validation_accuracy", last.validationAccuracy.map(JSON.number) ?? .null),
                ])))
            }
            return .object(entry)
        }
        let sent: JSON = requestsSent(summary)
        let models: [JSON] = e.models.map { model in
            var members: [(String, JSON)] = [("id", .string(model.id)), ("provider", .string(model.providerName)), ("role", .string(model.role.rawValue))]
            switch model.provider {
            case .openAI(let s):
                members += [("base_url", .string(s.baseURL)), ("model", .string(s.model)), ("endpoint", .string(s.endpoint.rawValue))]
                // Only the variable's name: the key itself is never written.
                if let env = s.apiKeyEnv { members.append(("api_key_env", .string(env))) }
            case .anthropic(let s):
                members += [("base_url", .string(s.baseURL)), ("model", .string(s.model)), ("api_key_env", .string(s.apiKeyEnv))]
            case .command(let s):
                members.append(("argv", .array(s.argv.map(JSON.string))))
            case .builtin:
                break
            }
            members.append(("pricing", .string(CostModel.describe(model.pricing, concurrency: model.concurrency))))
            return .object(members)
        }
        let requests = summary.metrics.reduce(0) { $0 + $1.requests }
        let answered = summary.metrics.reduce(0) { $0 + $1.answered }
        var members: [(String, JSON)] = [
            ("evalkit_version", .string(summary.evalkitVersion)),
            ("experiment", .string(e.name)),
            ("run_id", .string(summary.runID)),
            ("config_path", .string(e.configPath)),
            ("config_directory", .string(absoluteDirectory(of: e.configPath))),
            ("config_sha256", .string(e.configHash)),
            ("started_at", .string(summary.startedAt.iso8601)),
            ("finished_at", .string(summary.finishedAt.iso8601)),
            ("duration_seconds", .number(summary.durationSeconds)),
            ("command", .string(summary.reproduceCommand)),
            ("counts", .object([
                ("train", .number(Double(summary.splits.first { $0.name == "train" }?.count ?? 0))),
                ("validation", .number(Double(summary.splits.first { $0.name == "validation" }?.count ?? 0))),
                ("test", .number(Double(summary.splits.first { $0.name == "test" }?.count ?? 0))),
                ("test_evaluated", .number(Double(summary.evaluatedExamples))),
                ("candidates", .number(Double(summary.metrics.count))),
                ("requests", .number(Double(requests))),
                ("answered", .number(Double(answered))),
                ("errors", .number(Double(requests - answered))),
            ])),
        ]
        members += [
            ("candidates", .array(summary.metrics.map { .string($0.candidate) })),
            ("status", .string(summary.runFailure != nil ? "failed" : (summary.stopReason != nil ? "incomplete" : "finished"))),
            ("stopped", summary.stopReason.map(JSON.string) ?? .null),
            ("failure", summary.runFailure.map(JSON.string) ?? .null),
            ("limit", summary.evaluatedExamples < (summary.splits.first { $0.name == "test" }?.count ?? 0) ? .number(Double(summary.evaluatedExamples)) : .null),
            ("planned_requests", .number(Double(summary.plannedRequests))),
            ("model_failures", .array(summary.modelFailures.map { .object([("model", .string($0.model)), ("reason", .string($0.reason))]) })),
            // Measured training times: the one-time cost of trained models is computed from them.
            ("training", .array(training)),
            ("models", .array(models)),
            ("only", summary.onlyModels.map { .array($0.map(JSON.string)) } ?? .null),
            ("requests_sent", sent),
            ("environment", summary.environment?.json ?? .null),
        ]
        return .object(members)
    }

}

/// Why a report file could not be written.
extension ReportWriter {
    /// run.json's `requests_sent`: what went to the models over every process of the run, and how much of
    /// it has no kept result (requests in flight when a process was killed); null when not counted.
    static func requestsSent(_ summary: RunSummary) -> JSON {
        guard summary.requestsSent != nil else { return .null }
        let total = summary.metrics.reduce(0) { $0 + $1.attempts }
        let recorded = summary.results.reduce(0) { sum, column in column.reduce(sum) { $0 + $1.attempts } }
        return .object([("total", .number(Double(total))), ("unrecorded", .number(Double(max(0, total - recorded)))),
                        ("by_candidate", .object(summary.metrics.map { ($0.candidate, .number(Double($0.attempts))) }))])
    }
}

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
