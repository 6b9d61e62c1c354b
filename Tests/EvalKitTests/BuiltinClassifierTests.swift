import EvalKit
import Foundation
import Testing

@Suite struct BuiltinClassifierTests {
    @Test func beatsTheMajorityClassClearlyOnTheBundledTestSplit() throws {
        let prepared = try Preparation.prepare(configPath: Fixtures.repositoryRoot + "/evalkit.json")
        let experiment = prepared.experiment
        guard let settings = try #require(experiment.models.first { $0.providerName == "builtin" }).provider as? BuiltinSettings else {
            Issue.record("the bundled example has no builtin model"); return
        }
        let model = TextClassifier.train(labels: experiment.task.labels, train: prepared.dataset.train,
                                         validation: prepared.dataset.validation, settings: settings)
        let test = prepared.dataset.test
        let correct = test.filter { model.predict($0.input).label == $0.target }.count
        let accuracy = Double(correct) / Double(test.count)
        let counts = Dictionary(grouping: test, by: \.target).mapValues(\.count)
        let majority = Double(counts.values.max() ?? 0) / Double(test.count)
        // Clearly: at least 15 points above always answering the most frequent label.
        #expect(accuracy >= majority + 0.15, "accuracy \(accuracy) vs majority \(majority)")
        // Early stopping may end training before the last epoch; it then keeps the best one.
        #expect(model.stoppedEarly ? model.history.count < settings.epochs : model.history.count == settings.epochs)
        #expect(model.bestEpoch >= 1 && model.bestEpoch <= model.history.count)
        #expect(model.history.last?.validationAccuracy != nil)
    }

    @Test func trainingIsDeterministicForASeed() {
        let train = (0..<60).map { i in
            Example(id: "\(i)", input: i % 2 == 0 ? "good great fine \(i)" : "bad awful poor \(i)", target: i % 2 == 0 ? "pos" : "neg")
        }
        var settings = BuiltinSettings()
        settings.epochs = 3
        settings.hashBits = 12
        let a = TextClassifier.train(labels: ["neg", "pos"], train: train, validation: [], settings: settings)
        let b = TextClassifier.train(labels: ["neg", "pos"], train: train, validation: [], settings: settings)
        #expect(a.predict("great stuff").probabilities == b.predict("great stuff").probabilities)
        #expect(a.predict("great stuff").label == "pos")
        #expect(a.predict("awful stuff").label == "neg")
        #expect(a.history.map(\.trainLoss) == b.history.map(\.trainLoss))
    }
}
