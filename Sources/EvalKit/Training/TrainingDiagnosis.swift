import Foundation

/// One point of a training curve: an epoch of the builtin model, or a logged step of an outside fine-tune.
public struct TrainingPoint: Sendable, Equatable {
    /// Epoch or step number.
    public var step: Double
    public var trainLoss: Double?
    public var validationLoss: Double?
    public var trainAccuracy: Double?
    public var validationAccuracy: Double?

    public init(step: Double, trainLoss: Double? = nil, validationLoss: Double? = nil, trainAccuracy: Double? = nil, validationAccuracy: Double? = nil) {
        self.step = step; self.trainLoss = trainLoss; self.validationLoss = validationLoss
        self.trainAccuracy = trainAccuracy; self.validationAccuracy = validationAccuracy
    }

    public init(_ epoch: EpochStats) {
        self.init(step: Double(epoch.epoch), trainLoss: epoch.trainLoss, validationLoss: epoch.validationLoss,
                  trainAccuracy: epoch.trainAccuracy, validationAccuracy: epoch.validationAccuracy)
    }
}

/// What a training curve says, with the evidence and the remedy (step 4 of the guidance).
public struct TrainingDiagnosis: Sendable, Equatable {
    public enum Fit: String, Sendable {
        case overfitting, underfitting
        case goodFit = "good fit"
        case unknown = "not enough data"
    }
    public var fit: Fit
    /// The figures that show it.
    public var evidence: String
    /// What to do about it.
    public var remedy: String
}

/// Diagnoses over- and underfitting from training and validation curves.
public enum TrainingDiagnoser {
    /// Validation loss this much above its minimum at the end counts as rising.
    public static let riseTolerance = 0.03
    /// A training–validation accuracy gap above this is overfitting.
    public static let gapLimit = 0.10
    /// Training loss still falling by more than this share per step at the end means "still learning".
    public static let stillImproving = 0.01

    /// The fit of a training run; `kept` is the epoch or step whose weights the model kept (early stopping,
    /// best checkpoint), which the diagnosis speaks of when the last one trained is not the one kept.
    public static func diagnose(_ points: [TrainingPoint], unit: String = "epoch", kept: Double? = nil) -> TrainingDiagnosis {
        let train = points.compactMap { p in p.trainLoss.map { (p.step, $0) } }
        let validation = points.compactMap { p in p.validationLoss.map { (p.step, $0) } }
        guard train.count >= 2 else {
            return TrainingDiagnosis(fit: .unknown, evidence: "fewer than two logged training losses", remedy: "log the loss at least twice to diagnose the fit")
        }
        func f(_ v: Double) -> String { Format.fixed(v, digits: 3) }
        func at(_ step: Double) -> String { "\(unit) \(JSON.formatNumber(step))" }
        // Overfitting: validation loss turned up while training loss kept falling.
        if validation.count >= 2, let best = validation.min(by: { $0.1 < $1.1 }), let lastValidation = validation.last,
           lastValidation.0 > best.0, lastValidation.1 > best.1 * (1 + riseTolerance) {
            let trainAtBest = train.last { $0.0 <= best.0 }?.1 ?? train[0].1
            if let lastTrain = train.last?.1, lastTrain < trainAtBest {
                let keptBest = kept == best.0
                return TrainingDiagnosis(
                    fit: .overfitting,
                    evidence: "validation loss rose from \(f(best.1)) at \(at(best.0)) to \(f(lastValidation.1)) at \(at(lastValidation.0)) while training loss fell from \(f(trainAtBest)) to \(f(lastTrain))"
                        + (kept.map { "; the model kept is the one of \(at($0))" + (keptBest ? ", before the rise" : "") } ?? ""),
                    remedy: keptBest ? "early stopping already kept \(at(best.0)); to do better, add weight decay (raise l2), lower the learning rate, or train on more and cleaner data"
                                     : "stop at \(at(best.0)) (early stopping keeps the best \(unit)), add weight decay (raise l2), lower the learning rate, or train on more and cleaner data")
            }
        }
        let lastAccuracies = points.last { $0.trainAccuracy != nil && $0.validationAccuracy != nil }
        // The kept epoch's accuracies when it is not the last: that is the model that was evaluated.
        let keptAccuracies = kept.flatMap { k in points.first { $0.step == k && $0.trainAccuracy != nil && $0.validationAccuracy != nil } }
        func gap(_ p: TrainingPoint) -> Double { (p.trainAccuracy ?? 0) - (p.validationAccuracy ?? 0) }
        func accuracies(_ p: TrainingPoint) -> String {
            "training accuracy \(Format.percent(p.trainAccuracy)) against validation accuracy \(Format.percent(p.validationAccuracy)) at \(at(p.step))"
        }
        if let last = lastAccuracies, let shown = keptAccuracies, shown.step != last.step {
            let lastPart = "; at \(at(last.step)), the last trained: \(Format.percent(last.trainAccuracy)) against \(Format.percent(last.validationAccuracy))"
            if gap(shown) > gapLimit {
                return TrainingDiagnosis(
                    fit: .overfitting,
                    evidence: accuracies(shown) + " (the \(unit) kept): a gap of \(Format.fixed(gap(shown) * 100, digits: 1)) points" + lastPart,
                    remedy: "add weight decay (raise l2), stop earlier, lower the learning rate, or add more varied training data")
            }
            if gap(last) > gapLimit {
                return TrainingDiagnosis(
                    fit: .goodFit,
                    evidence: accuracies(shown) + " (the \(unit) kept): a gap of \(Format.fixed(gap(shown) * 100, digits: 1)) points; the gap grew to "
                        + "\(Format.fixed(gap(last) * 100, digits: 1)) points by \(at(last.step)), the last trained, which early stopping left out",
                    remedy: "none needed for the kept model; more or cleaner data is what would raise accuracy further")
            }
        } else if let p = lastAccuracies, gap(p) > gapLimit {
            return TrainingDiagnosis(
                fit: .overfitting,
                evidence: accuracies(p) + ": a gap of \(Format.fixed(gap(p) * 100, digits: 1)) points",
                remedy: "add weight decay (raise l2), stop earlier, lower the learning rate, or add more varied training data")
        }
        // Underfitting: both curves still falling at the end.
        let previous = train[train.count - 2].1, last = train[train.count - 1].1
        let trainFalling = previous > 0 && (previous - last) / previous > stillImproving
        let validationFalling = validation.count < 2 || validation[validation.count - 1].1 < validation[validation.count - 2].1
        if trainFalling && validationFalling {
            var evidence = "training loss still falling at the last \(unit) (\(f(previous)) → \(f(last)))"
            if validation.count >= 2 { evidence += ", validation loss too (\(f(validation[validation.count - 2].1)) → \(f(validation[validation.count - 1].1)))" }
            if let ta = points.last(where: { $0.trainAccuracy != nil })?.trainAccuracy { evidence += "; training accuracy \(Format.percent(ta))" }
            return TrainingDiagnosis(fit: .underfitting, evidence: evidence,
                                     remedy: "train more epochs, raise the learning rate a little, or give the model more capacity (more features, a larger model)")
        }
        var evidence = "training loss levelled off at \(f(last))"
        if let v = validation.last { evidence += ", validation loss at \(f(v.1)) without rising" }
        if let p = lastAccuracies, let ta = p.trainAccuracy, let va = p.validationAccuracy {
            evidence += "; accuracy gap \(Format.fixed((ta - va) * 100, digits: 1)) points"
        }
        return TrainingDiagnosis(fit: .goodFit, evidence: evidence, remedy: "none needed; more or cleaner data is what would raise accuracy further")
    }
}

/// Why an outside training log could not be read.
public struct TrainingLogError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// A fine-tune's log as read from the file its trainer wrote.
public struct TrainingLog: Sendable, Equatable {
    public var points: [TrainingPoint]
    /// Seconds the training took, as the trainer measured it (`train_runtime`), when the log records it.
    public var runtimeSeconds: Double?
    /// The step whose weights were kept (the best checkpoint), when the log records it.
    public var keptStep: Double?
}

/// Reads the training logs that fine-tuning services and libraries write.
public enum TrainingLogReader {
    /// OpenAI's fine-tuning result file (CSV: step, train_loss, train_accuracy, valid_loss,
    /// valid_mean_token_accuracy; validation columns are empty on most rows) or Hugging Face
    /// Trainer's `trainer_state.json` (`log_history` with `loss` and `eval_loss` entries), by extension.
    public static func read(_ path: String) throws(TrainingLogError) -> TrainingLog {
        let data: [UInt8]
        switch SmallFile.contents(of: path) {
        case .success(let read): data = read
        case .failure(let problem): throw TrainingLogError(path: path, reason: "cannot read the file: \(problem.reason)")
        }
        guard let text = String(validating: data, as: UTF8.self) else { throw TrainingLogError(path: path, reason: "cannot read the file: not UTF-8 text") }
        if path.lowercased().hasSuffix(".csv") { return TrainingLog(points: try openAIResults(text, path: path)) }
        return try trainerState(text, path: path)
    }

    static func openAIResults(_ text: String, path: String) throws(TrainingLogError) -> [TrainingPoint] {
        let records: [CSV.Record]
        do { records = try CSV.parse(text) } catch { throw TrainingLogError(path: path, reason: error.description) }
        guard let header = records.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces) }),
              let stepColumn = header.firstIndex(of: "step"), let lossColumn = header.firstIndex(of: "train_loss") else {
            throw TrainingLogError(path: path, reason: "expected OpenAI's result columns (step, train_loss, …)")
        }
        func value(_ record: CSV.Record, _ name: String) -> Double? {
            header.firstIndex(of: name).flatMap { $0 < record.fields.count ? Double(record.fields[$0]) : nil }
        }
        return records.dropFirst().compactMap { record in
            guard stepColumn < record.fields.count, lossColumn < record.fields.count, let step = Double(record.fields[stepColumn]) else { return nil }
            return TrainingPoint(step: step, trainLoss: value(record, "train_loss"), validationLoss: value(record, "valid_loss"),
                                 trainAccuracy: value(record, "train_accuracy"),
                                 validationAccuracy: value(record, "valid_mean_token_accuracy") ?? value(record, "valid_accuracy"))
        }
    }

    static func trainerState(_ text: String, path: String) throws(TrainingLogError) -> TrainingLog {
        let json: JSON
        do { json = try JSON.parse(text) } catch { throw TrainingLogError(path: path, reason: "not JSON (\(error))") }
        guard let history = json["log_history"]?.arrayValue else {
            throw TrainingLogError(path: path, reason: "no \"log_history\" array (expected a Hugging Face trainer_state.json)")
        }
        var byStep: [Double: TrainingPoint] = [:]
        var runtime: Double? = nil
        for entry in history {
            // Trainer logs its summary (train_runtime, train_loss over the run) as a last entry of its own.
            if let seconds = entry["train_runtime"]?.numberValue { runtime = seconds; continue }
            guard let step = entry["step"]?.numberValue ?? entry["epoch"]?.numberValue else { continue }
            var point = byStep[step] ?? TrainingPoint(step: step)
            if let loss = entry["loss"]?.numberValue { point.trainLoss = loss }
            if let loss = entry["eval_loss"]?.numberValue { point.validationLoss = loss }
            if let accuracy = entry["eval_accuracy"]?.numberValue { point.validationAccuracy = accuracy }
            if let accuracy = entry["train_accuracy"]?.numberValue { point.trainAccuracy = accuracy }
            byStep[step] = point
        }
        // Evaluation steps rarely coincide with logging steps: carry the last training loss forward.
        var points = byStep.values.sorted { $0.step < $1.step }
        var lastTrain: Double? = nil
        for i in points.indices {
            if let t = points[i].trainLoss { lastTrain = t } else if points[i].validationLoss != nil { points[i].trainLoss = lastTrain }
        }
        // load_best_model_at_end keeps "…/checkpoint-<step>"; newer versions also write best_global_step.
        let kept = json["best_global_step"]?.numberValue
            ?? json["best_model_checkpoint"]?.stringValue.flatMap { $0.split(separator: "-").last.flatMap { Double($0) } }
        return TrainingLog(points: points, runtimeSeconds: runtime, keptStep: kept)
    }
}
