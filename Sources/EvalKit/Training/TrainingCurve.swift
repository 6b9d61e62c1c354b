import Foundation

/// A training curve with its diagnosis: the builtin model's epochs or an outside fine-tune's log.
public struct TrainingCurve: Sendable {
    public var modelID: String
    /// Where the curve came from ("builtin training", or the log's path).
    public var source: String
    /// "epoch" or "step".
    public var unit: String
    public var points: [TrainingPoint]
    public var diagnosis: TrainingDiagnosis
    /// The epoch or step whose weights the model kept, when known.
    public var keptStep: Double?

    /// training-<model>.csv in the run folder.
    public var dataFile: String { "training-\(modelID).csv" }
    /// training-<model>.svg in the run folder.
    public var chartFile: String { "training-\(modelID).svg" }

    /// The same curve with the epoch or step the model kept marked, and diagnosed as of that one.
    func keeping(_ step: Double?) -> TrainingCurve {
        var copy = self
        copy.keptStep = step
        copy.diagnosis = TrainingDiagnoser.diagnose(points, unit: unit, kept: step)
        return copy
    }

    /// A builtin model's curve: one point per epoch, the kept epoch marked.
    static func builtin(_ model: String, _ classifier: TextClassifier) -> TrainingCurve {
        let points = classifier.history.map(TrainingPoint.init)
        return TrainingCurve(modelID: model, source: "builtin training", unit: "epoch", points: points,
                             diagnosis: TrainingDiagnoser.diagnose(points, kept: Double(classifier.bestEpoch)), keptStep: Double(classifier.bestEpoch))
    }

    /// Curves of the outside training logs named by `training_log`; an unreadable log is left out
    /// (validation reports it).
    static func outside(_ experiment: Experiment) -> [TrainingCurve] {
        experiment.models.compactMap { model in
            guard let path = model.trainingLog, let log = try? TrainingLogReader.read(experiment.resolve(path)) else { return nil }
            return TrainingCurve(modelID: model.id, source: path, unit: "step", points: log.points,
                                 diagnosis: TrainingDiagnoser.diagnose(log.points, unit: "step", kept: log.keptStep), keptStep: log.keptStep)
        }
    }
}
