import Foundation

/// Builds the training curves a report shows: the builtin models' epochs and the outside logs
/// named by `training_log`, each with its diagnosis.
enum TrainingCurves {
    static func builtin(_ model: String, _ classifier: TextClassifier) -> RunSummary.TrainingCurve {
        let points = classifier.history.map(TrainingPoint.init)
        return RunSummary.TrainingCurve(modelID: model, source: "builtin training", unit: "epoch", points: points,
                                        diagnosis: TrainingDiagnoser.diagnose(points), keptStep: Double(classifier.bestEpoch))
    }

    /// Curves of the outside training logs; an unreadable log is left out (validation reports it).
    static func outside(_ experiment: Experiment) -> [RunSummary.TrainingCurve] {
        experiment.models.compactMap { model in
            guard let path = model.trainingLog, let log = try? TrainingLogReader.read(experiment.resolve(path)) else { return nil }
            return RunSummary.TrainingCurve(modelID: model.id, source: path, unit: "step", points: log.points,
                                            diagnosis: TrainingDiagnoser.diagnose(log.points, unit: "step"), keptStep: log.keptStep)
        }
    }

    /// The training time a model's outside fine-tune log records (Hugging Face's `train_runtime`);
    /// nil without one. The model's one-time cost is that time at its price per hour.
    static func outsideTraining(_ experiment: Experiment, model: ModelSpec) -> RunSummary.TrainingSummary? {
        guard let path = model.trainingLog, let log = try? TrainingLogReader.read(experiment.resolve(path)),
              let seconds = log.runtimeSeconds else { return nil }
        // Rounded as run.json keeps it, so `verify` recomputes the same one-time cost.
        return RunSummary.TrainingSummary(modelID: model.id, seconds: seconds, examples: nil, source: path)
    }

    /// A builtin model's curve read back from training-<model>.csv in a run folder.
    static func read(_ directory: String, model: String) -> RunSummary.TrainingCurve? {
        let path = directory + "/training-\(model).csv"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let records = try? CSV.parse(text) else { return nil }
        let points = records.dropFirst().compactMap { r -> TrainingPoint? in
            guard r.fields.count == 5, let step = Double(r.fields[0]) else { return nil }
            return TrainingPoint(step: step, trainLoss: Double(r.fields[1]), validationLoss: Double(r.fields[3]),
                                 trainAccuracy: Double(r.fields[2]), validationAccuracy: Double(r.fields[4]))
        }
        return RunSummary.TrainingCurve(modelID: model, source: "builtin training", unit: "epoch", points: points,
                                        diagnosis: TrainingDiagnoser.diagnose(points), keptStep: nil)
    }
}
