import Foundation
import Synchronization

/// `evalkit baseline` and `evalkit report`: work on a finished run folder without sending requests.
public enum RunFolderCommands {
    /// The files a baseline keeps: the summary and per-example results (small enough to commit).
    public static let baselineFiles = ["summary.csv", "results.jsonl", "run.json", "config.json", "report.md", HTMLReport.fileName, AnalysisFile.name,
                                       DecisionReport.accuracyCostFile, DecisionReport.latencyFile, DecisionReport.dataEfficiencyFile, CapacityFile.name, DecisionReport.capacityFile,
                                       JudgementsFile.name]

    /// Copies a run into `reports/<experiment>/baseline/` (or `destination`), replacing what was there.
    public static func promoteBaseline(runDirectory: String, reportsRoot: String = "reports", destination: String? = nil) throws(RunFolderError) -> String {
        let run = try RunFolder.load(runDirectory)
        let target = destination ?? reportsRoot + "/" + run.experiment.name + "/baseline"
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: target, withIntermediateDirectories: true) } catch {
            throw .cannotWrite(path: target, reason: "cannot create the folder: \(error.localizedDescription)")
        }
        // The builtin models' training curves too: the report is rendered again from them.
        let curves = ((try? fm.contentsOfDirectory(atPath: runDirectory)) ?? []).filter { $0.hasPrefix("training-") && ($0.hasSuffix(".csv") || $0.hasSuffix(".svg")) }
        for old in ((try? fm.contentsOfDirectory(atPath: target)) ?? []) where old.hasPrefix("training-") { try? fm.removeItem(atPath: target + "/" + old) }
        for file in baselineFiles + curves.sorted() {
            let source = runDirectory + "/" + file, copy = target + "/" + file
            try? fm.removeItem(atPath: copy)
            guard fm.fileExists(atPath: source) else { continue }
            do { try fm.copyItem(atPath: source, toPath: copy) } catch {
                throw .cannotWrite(path: copy, reason: "cannot copy: \(error.localizedDescription)")
            }
            // A baseline travels to other machines and clones: its paths resolve from where it is used.
            if file == "run.json" {
                var portable = try RunManifest.read(directory: target)
                portable.configDirectory = nil
                do { try portable.write(to: target) } catch { throw .cannotWrite(path: copy, reason: error.description) }
            }
        }
        return target
    }

    /// Writes report.md, summary.csv and the charts of a run again from its results, config and
    /// manifest (e.g. after changing the decision policy in its config.json). Same inputs, same bytes.
    public static func rerender(runDirectory: String) throws(RunFolderError) {
        let summary = try summary(of: runDirectory)
        do {
            try ReportWriter.write(summary, to: runDirectory, manifest: false)
        } catch {
            throw .cannotWrite(path: runDirectory, reason: error.description)
        }
    }

    /// Everything the reports of a finished run show, recomputed from its results, config and manifest.
    public static func summary(of runDirectory: String, catalog: Catalog = .standard) throws(RunFolderError) -> RunSummary {
        var none: [String: ResultColumn]? = nil
        return try summary(of: runDirectory, catalog: catalog, results: &none, dataset: nil)
    }

    /// The same, from results already read (by candidate id; taken, leaving `results` empty) instead of
    /// the folder's results.jsonl, and from the experiment's dataset when the caller has loaded it already.
    /// The data audit of the examples a run evaluated, with the experiment's thresholds.
    static func audit(_ dataset: Dataset, evaluating examples: [Example], _ e: Experiment) -> DataAudit {
        let audit = DataAuditor.audit(dataset.evaluating(examples), labels: e.task.labels, minConfidence: e.audit.minConfidence, maxCharacters: e.audit.maxCharacters)
        // The audit runs beside the reading of results: what it freed is returned before the results grow.
        FreedMemory.returnToSystem()
        return audit
    }

    /// `audit`: the data audit when the caller made it already (a merge audits while it reads the shards).
    static func summary(of runDirectory: String, catalog: Catalog = .standard, results: inout [String: ResultColumn]?,
                        dataset loaded: Dataset?, audit audited: DataAudit? = nil) throws(RunFolderError) -> RunSummary {
        var run = try RunFolder.load(runDirectory, requireSummary: false, withResults: false, catalog: catalog)
        let e = run.experiment
        let m = run.manifest
        // Split sizes and example inputs come from the dataset when it is still where it was. The audit
        // needs only the dataset: it runs on another core while the results are read.
        let dataset = loaded ?? (try? DatasetLoader.load(e))
        let evaluated = m.counts?.testEvaluated ?? 0
        let beforeSharding = dataset.map { $0.test(limit: m.limit) }
        let examples = beforeSharding.map { m.shard?.shard.select($0) ?? $0 } ?? []
        let made = Mutex<DataAudit?>(audited), auditing = DispatchGroup()
        if audited == nil, let dataset {
            DispatchQueue.global().async(group: auditing) {
                let audit = Self.audit(dataset, evaluating: examples, e)
                made.withLock { $0 = audit }
            }
        }
        if var taken = results.take() { try run.adopt(&taken) } else { try run.loadResults() }
        auditing.wait()
        let audit = made.withLock { $0 }
        guard run.resultsByCandidateID != nil else { throw .missing(path: runDirectory + "/results.jsonl") }
        let (metrics, analysis) = run.recompute()
        let splits = dataset.map { d in d.splits.map { RunSummary.SplitSummary(name: $0.name, count: $0.examples.count,
                                                                              labelCounts: Dataset.labelCounts($0.examples, labels: e.task.labels)) } } ?? []
        let training = m.training
        let summary = RunSummary(
            experiment: e, runID: run.runID, splits: splits, evaluatedExamples: evaluated, metrics: metrics, analysis: analysis,
            results: run.resultsByCandidate, examples: examples, stopReason: m.stopReason,
            plannedRequests: m.plannedRequests ?? 0, modelFailures: m.modelFailures,
            training: training, startedAt: m.startedAt, finishedAt: m.startedAt.addingTimeInterval(m.durationSeconds ?? 0),
            reproduceCommand: m.command, evalkitVersion: m.evalkitVersion.isEmpty ? EvalKitInfo.version : m.evalkitVersion,
            runFailure: m.failure,
            audit: audit,
            curves: training.filter { $0.source == RunSummary.TrainingSummary.builtinSource }.compactMap { summary in
                TrainingCurveFile.read(runDirectory, model: summary.modelID).map { $0.keeping(summary.bestEpoch.map(Double.init)) }
            } + TrainingCurve.outside(e))
        var complete = summary
        complete.environment = run.environment
        complete.requestsSent = run.requestsSent
        complete.coldStarts = m.coldStarts
        complete.capacity = run.capacity
        complete.examplesBeforeSharding = m.shard == nil ? nil : beforeSharding?.count
        complete.shard = m.shard
        complete.mergedFrom = m.mergedFrom
        if let dataset {
            var builders: [String: PromptBuilder] = [:]
            for prompt in e.prompts { builders[prompt.id] = try? PromptBuilder(spec: prompt, experiment: e, train: dataset.train) }
            complete.promptPreviews = HTMLReport.promptPreviews(builders)
        }
        return complete
    }
}
