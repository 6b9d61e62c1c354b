import Foundation

/// Hashed word and character n-gram features of a text, L2-normalised.
public struct FeatureHasher: Sendable {
    public let bits: Int
    public let wordNgrams: Int
    public let charNgrams: ClosedRange<Int>
    var mask: Int { (1 << bits) - 1 }

    public init(bits: Int, wordNgrams: Int, charNgrams: ClosedRange<Int>) {
        self.bits = bits; self.wordNgrams = wordNgrams; self.charNgrams = charNgrams
    }

    /// Sparse features: bucket indices and their weights (sum of squares 1).
    public func features(_ text: String) -> (indices: [Int32], values: [Float]) {
        var counts: [Int32: Float] = [:]
        let words = Self.tokens(text)
        if wordNgrams > 0 {
            for n in 1...wordNgrams where words.count >= n {
                for start in 0...(words.count - n) {
                    var h = FNV1a(seed: UInt64(n) &* 0x9E37_79B9)
                    for w in words[start..<start + n] { h.add(w); h.add(0x20) }
                    counts[Int32(truncatingIfNeeded: Int(h.value & UInt64(mask))), default: 0] += 1
                }
            }
        }
        for word in words {
            let chars = [UInt8(ascii: "<")] + word + [UInt8(ascii: ">")]
            for n in charNgrams where chars.count >= n {
                for start in 0...(chars.count - n) {
                    var h = FNV1a(seed: 0xC0FFEE &+ UInt64(n))
                    for c in chars[start..<start + n] { h.add(c) }
                    counts[Int32(truncatingIfNeeded: Int(h.value & UInt64(mask))), default: 0] += 1
                }
            }
        }
        let sorted = counts.sorted { $0.key < $1.key }
        let indices = sorted.map(\.key)
        var values = sorted.map { 1 + log($0.value) }
        let norm = sqrt(values.reduce(0) { $0 + $1 * $1 })
        if norm > 0 { values = values.map { $0 / norm } }
        return (indices, values)
    }

    /// Lowercased word tokens (letters, digits, # and @ kept together) as UTF-8 bytes.
    static func tokens(_ text: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8] = []
        for scalar in text.lowercased().unicodeScalars {
            if CharacterSet.alphanumerics.contains(scalar) || scalar == "#" || scalar == "@" || scalar == "'" {
                current.append(contentsOf: Array(String(scalar).utf8))
            } else if !current.isEmpty {
                out.append(current); current = []
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

/// FNV-1a, a fast non-cryptographic hash for feature buckets.
struct FNV1a {
    var value: UInt64
    init(seed: UInt64) { value = 0xcbf2_9ce4_8422_2325 ^ seed }
    mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    mutating func add(_ bytes: [UInt8]) { for b in bytes { add(b) } }
}

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
    /// Per-epoch history of the training that produced this model.
    public private(set) var history: [EpochStats] = []
    /// Wall-clock seconds the training took.
    public private(set) var trainingSeconds: Double = 0

    /// Trains on `train`, reporting loss and accuracy on `validation` after each epoch.
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
        // Weights are stored divided by `scale`, so weight decay is one multiplication per step.
        var scale: Float = 1
        let lr = Float(settings.learningRate)
        let decay = Float(1 - settings.learningRate * settings.l2)
        for epoch in 1...settings.epochs {
            order.shuffle(using: &rng)
            for batchStart in stride(from: 0, to: order.count, by: settings.batchSize) {
                let batch = order[batchStart..<min(order.count, batchStart + settings.batchSize)]
                let step = lr / Float(batch.count)
                scale *= decay
                if scale < 1e-6 { model.rescale(&scale) }
                for i in batch {
                    let (features, target) = trainSet[i]
                    let probabilities = model.probabilities(features, scale: scale)
                    for k in 0..<labels.count {
                        let gradient = probabilities[k] - (k == target ? 1 : 0)
                        if gradient == 0 { continue }
                        let row = k * width
                        let delta = step * gradient / scale
                        for (j, f) in features.indices.enumerated() {
                            model.weights[row + Int(f)] -= delta * features.values[j]
                        }
                        model.bias[k] -= step * gradient
                    }
                }
            }
            model.rescale(&scale)
            let (trainLoss, trainAccuracy) = model.evaluate(trainSet)
            let validationResult = validationSet.isEmpty ? nil : model.evaluate(validationSet)
            model.history.append(EpochStats(epoch: epoch, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
                                            validationLoss: validationResult?.0, validationAccuracy: validationResult?.1))
        }
        let elapsed = ContinuousClock.now - started
        model.trainingSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return model
    }

    mutating func rescale(_ scale: inout Float) {
        if scale != 1 {
            for i in weights.indices { weights[i] *= scale }
            scale = 1
        }
    }

    func probabilities(_ features: (indices: [Int32], values: [Float]), scale: Float = 1) -> [Float] {
        let width = 1 << hasher.bits
        var logits = bias
        for k in 0..<labels.count {
            let row = k * width
            var sum: Float = 0
            for (j, f) in features.indices.enumerated() { sum += weights[row + Int(f)] * features.values[j] }
            logits[k] += sum * scale
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
