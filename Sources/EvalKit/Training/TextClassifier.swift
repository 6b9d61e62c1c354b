import Foundation

/// Loss and accuracy of one epoch on the training and validation splits.
public struct EpochStats: Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double?, validationAccuracy: Double?) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss; self.validationAccuracy = validationAccuracy
    }
}

/// Multinomial logistic regression over hashed n-grams, trained by mini-batch gradient
/// descent with L2 weight decay; deterministic for a seed.
public struct TextClassifier: Sendable {
    public let labels: [String]
    public let hasher: FeatureHasher
    var weights: [Float]   // labels.count × 2^bits, row per label
    var bias: [Float]
    /// True weights are `weights × weightScale`: L2 decay then costs one multiplication per update.
    var weightScale: Float = 1
    /// Per-epoch history of the training that produced this model.
    public private(set) var history: [EpochStats] = []
    /// Wall-clock seconds the training took.
    public private(set) var trainingSeconds: Double = 0
    /// The epoch whose weights the model keeps (the lowest validation loss under early stopping).
    public private(set) var bestEpoch: Int = 0
    /// True when early stopping ended training before the configured epochs.
    public private(set) var stoppedEarly = false

    /// Trains on `train` by mini-batch gradient descent (gradients summed over `gradientAccumulation`
    /// batches per update, L2 weight decay), reporting loss and accuracy on `validation` after each
    /// epoch; with `patience`, stops when validation loss has not improved for that many epochs and
    /// keeps the best epoch's weights.
    public static func train(labels: [String], train: [Example], validation: [Example], settings: BuiltinSettings) -> TextClassifier {
        let started = ContinuousClock.now
        let hasher = FeatureHasher(bits: settings.hashBits, wordNgrams: settings.wordNgrams, charNgrams: settings.charNgrams)
        var model = TextClassifier(labels: labels, hasher: hasher,
                                   weights: [Float](repeating: 0, count: labels.count << settings.hashBits),
                                   bias: [Float](repeating: 0, count: labels.count))
        let index = Dictionary(labels.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let trainSet = train.map { (hasher.features($0.input), index[$0.target] ?? 0) }
        let validationSet = validation.map { (hasher.features($0.input), index[$0.target] ?? 0) }
        var order = Array(trainSet.indices)
        var rng = SeededRandom(seed: settings.seed)
        let width = 1 << settings.hashBits
        let lr = Float(settings.learningRate)
        let stepSize = max(1, settings.batchSize * settings.gradientAccumulation)
        var best: (loss: Double, weights: [Float], bias: [Float], epoch: Int)? = nil
        // A dense gradient buffer reused across updates, with the indices each update touched.
        var gradient = [Float](repeating: 0, count: model.weights.count)
        var touched: [Int] = []
        var sinceBest = 0
        for epoch in 1...settings.epochs {
            order.shuffle(using: &rng)
            // One update per `stepSize` examples: the summed gradient of that many, averaged.
            for stepStart in stride(from: 0, to: order.count, by: stepSize) {
                let step = order[stepStart..<min(order.count, stepStart + stepSize)]
                var biasGradient = [Float](repeating: 0, count: labels.count)
                for i in step {
                    let (features, target) = trainSet[i]
                    let probabilities = model.probabilities(features)
                    for k in 0..<labels.count {
                        let g = probabilities[k] - (k == target ? 1 : 0)
                        if g == 0 { continue }
                        biasGradient[k] += g
                        let row = k * width
                        for (j, f) in features.indices.enumerated() {
                            let w = row + Int(f)
                            if gradient[w] == 0 { touched.append(w) }
                            gradient[w] += g * features.values[j]
                        }
                    }
                }
                let scale = lr / Float(step.count)
                // L2 weight decay shrinks every weight once per update.
                model.weightScale *= Float(1 - settings.learningRate * settings.l2)
                if model.weightScale < 1e-3 { model.foldScale() }
                for w in touched {
                    model.weights[w] -= scale * gradient[w] / model.weightScale
                    gradient[w] = 0
                }
                touched.removeAll(keepingCapacity: true)
                for k in 0..<labels.count { model.bias[k] -= scale * biasGradient[k] }
            }
            model.foldScale()
            let (trainLoss, trainAccuracy) = model.evaluate(trainSet)
            let validationResult = validationSet.isEmpty ? nil : model.evaluate(validationSet)
            model.history.append(EpochStats(epoch: epoch, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
                                            validationLoss: validationResult?.0, validationAccuracy: validationResult?.1))
            model.bestEpoch = epoch
            guard let patience = settings.patience, let validationLoss = validationResult?.0 else { continue }
            if best == nil || validationLoss < (best?.loss ?? .infinity) {
                best = (validationLoss, model.weights, model.bias, epoch)
                sinceBest = 0
            } else {
                sinceBest += 1
                if sinceBest >= patience {
                    model.stoppedEarly = epoch < settings.epochs
                    break
                }
            }
        }
        if let best {
            model.weights = best.weights
            model.bias = best.bias
            model.bestEpoch = best.epoch
        }
        let elapsed = ContinuousClock.now - started
        model.trainingSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return model
    }

    mutating func foldScale() {
        guard weightScale != 1 else { return }
        for i in weights.indices { weights[i] *= weightScale }
        weightScale = 1
    }

    func probabilities(_ features: (indices: [Int32], values: [Float])) -> [Float] {
        let width = 1 << hasher.bits
        var logits = bias
        for k in 0..<labels.count {
            let row = k * width
            var sum: Float = 0
            for (j, f) in features.indices.enumerated() { sum += weights[row + Int(f)] * features.values[j] }
            logits[k] += sum * weightScale
        }
        let top = logits.max() ?? 0
        var exps = logits.map { exp($0 - top) }
        let total = exps.reduce(0, +)
        for k in exps.indices { exps[k] /= total }
        return exps
    }

    func evaluate(_ set: [((indices: [Int32], values: [Float]), Int)]) -> (loss: Double, accuracy: Double) {
        var loss = 0.0, correct = 0
        for (features, target) in set {
            let p = probabilities(features)
            loss -= log(Double(max(p[target], 1e-12)))
            if p.indices.max(by: { p[$0] < p[$1] }) == target { correct += 1 }
        }
        return (loss / Double(max(1, set.count)), Double(correct) / Double(max(1, set.count)))
    }

    /// The most likely label for `text` and every label's probability.
    public func predict(_ text: String) -> (label: String, probabilities: [Double]) {
        let p = probabilities(hasher.features(text))
        let best = p.indices.max(by: { p[$0] < p[$1] }) ?? 0
        return (labels[best], p.map(Double.init))
    }
}

/// Training settings of the builtin classifier.
public struct BuiltinSettings: Sendable, Equatable {
    public var epochs: Int = 8
    public var learningRate: Double = 0.5
    public var batchSize: Int = 32
    /// Mini-batches whose gradients are summed before one update. The classifier accumulates every
    /// example's gradient in one buffer anyway, so this is exactly a batch of batchSize × this; it is kept
    /// so configs written as a trainer's batch and accumulation (as Transformers takes them) read the same.
    public var gradientAccumulation: Int = 1
    /// Stop after this many epochs without a lower validation loss, keeping the best epoch; nil trains every epoch.
    public var patience: Int? = nil
    public var l2: Double = 1e-6
    /// Features are hashed into 2^hashBits buckets.
    public var hashBits: Int = 18
    public var wordNgrams: Int = 2
    public var charNgrams: ClosedRange<Int> = 2...4
    public var seed: UInt64 = 1
    /// Train on this many examples of the training split (a label-stratified subset chosen with `seed`) rather
    /// than all of it: models that differ only here trace how accuracy grows with labelled data.
    public var trainExamples: Int? = nil
    public init() {}
}
