import Foundation

/// training-<model>.csv: a builtin model's curve, one row per epoch (written with the reports, read back
/// when they are rendered again).
enum TrainingCurveFile {
    /// The curve as CSV: the step column named by its unit, then losses and accuracies.
    static func csv(_ curve: TrainingCurve) -> String {
        var csv = CSV.row([curve.unit, "train_loss", "train_accuracy", "validation_loss", "validation_accuracy"])
        for p in curve.points {
            csv += CSV.row([JSON.formatNumber(p.step)] + [p.trainLoss, p.trainAccuracy, p.validationLoss, p.validationAccuracy].map { $0.map(JSON.formatNumber) ?? "" })
        }
        return csv
    }

    /// A builtin model's curve read back from training-<model>.csv in a run folder.
    static func read(_ directory: String, model: String) -> TrainingCurve? {
        let path = directory + "/training-\(model).csv"
        guard let bytes = SmallFile.bytes(at: path), let text = String(validating: bytes, as: UTF8.self), let records = try? CSV.parse(text) else { return nil }
        let points = records.dropFirst().compactMap { r -> TrainingPoint? in
            guard r.fields.count == 5, let step = Double(r.fields[0]) else { return nil }
            return TrainingPoint(step: step, trainLoss: Double(r.fields[1]), validationLoss: Double(r.fields[3]),
                                 trainAccuracy: Double(r.fields[2]), validationAccuracy: Double(r.fields[4]))
        }
        return TrainingCurve(modelID: model, source: "builtin training", unit: "epoch", points: points,
                                        diagnosis: TrainingDiagnoser.diagnose(points), keptStep: nil)
    }
}
