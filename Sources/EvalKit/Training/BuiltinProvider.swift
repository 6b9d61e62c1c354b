/// Serves a trained `TextClassifier` as a model: it reads the raw input, not a prompt.
public struct BuiltinProvider: ModelProvider {
    public let classifier: TextClassifier

    public init(classifier: TextClassifier) { self.classifier = classifier }

    public func start() async throws(ProviderError) {}

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        ModelResponse(text: classifier.predict(request.input).label)
    }

    public func stop() async {}
}

/// What training a model for a run measured: its time, its last epoch and the curve the report shows.
public struct ModelTraining: Sendable {
    public var seconds: Double
    public var examples: Int
    public var last: EpochStats?
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    public var curve: TrainingCurve
}

extension BuiltinSettings: ProviderKind {
    public static let name = "builtin"
    /// The classifier reads the raw input: no prompt, no tokens, no cache.
    public var usesPrompts: Bool { false }
    public var answersOneAtATime: Bool { true }
    /// It runs inside evalkit.
    public var acceptsServer: Bool { false }
    public var maxOutputTokens: Int { 0 }
    public var serverURL: String? { nil }
    public var fileArguments: [String] { [] }
    public var answerReading: String? { "classifier" }
    public var answersWithLabels: Bool { true }
    public var manifestMembers: [(String, JSON)] { [] }
    public var reportLine: String {
        let training = patience.map { "up to \(epochs) epochs, stopping after \($0) without a lower validation loss" } ?? "\(epochs) epochs"
        let subset = trainExamples.map { ", trained on \($0) examples of the training split (label-stratified, seed \(seed))" } ?? ""
        return "builtin logistic regression (2^\(hashBits) hashed n-gram features, \(training)\(subset))"
    }

    public static func read(options: JSON, path: String) -> (options: BuiltinSettings?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { o, issues in
            o.rejectUnknownKeys(["epochs", "learning_rate", "batch_size", "gradient_accumulation", "early_stopping_patience", "l2", "hash_bits",
                                 "word_ngrams", "char_ngrams", "seed", "train_examples"], issues: &issues)
            var b = BuiltinSettings()
            if let v = o.integer("gradient_accumulation", minimum: 1, issues: &issues) { b.gradientAccumulation = v }
            b.patience = o.integer("early_stopping_patience", minimum: 1, issues: &issues)
            if let v = o.integer("epochs", minimum: 1, issues: &issues) { b.epochs = v }
            if let v = o.number("learning_rate", range: 1e-9...100, rangeText: "a learning rate > 0", issues: &issues) { b.learningRate = v }
            if let v = o.integer("batch_size", minimum: 1, issues: &issues) { b.batchSize = v }
            if let v = o.number("l2", range: 0...10, rangeText: "an L2 weight decay between 0 and 10", issues: &issues) { b.l2 = v }
            // Each update shrinks the weights by (1 − learning_rate × l2): at 1 or more they would vanish or flip sign.
            if b.learningRate * b.l2 >= 1 {
                issues.add(ConfigIssue(path: o.childPath("l2"), expected: "learning_rate × l2 below 1 (weight decay shrinks weights by that share each update)",
                                       found: "\(JSON.formatNumber(b.learningRate)) × \(JSON.formatNumber(b.l2)) = \(JSON.formatNumber(b.learningRate * b.l2))"))
            }
            if let v = o.integer("hash_bits", minimum: 8, issues: &issues) {
                if v > 24 { issues.add(o.childPath("hash_bits"), expected: "an integer between 8 and 24", found: .number(Double(v))) } else { b.hashBits = v }
            }
            if let v = o.integer("word_ngrams", minimum: 0, issues: &issues) { b.wordNgrams = v }
            if let v = o["char_ngrams"] {
                if let pair = v.arrayValue, pair.count == 2, let lo = pair[0].intValue, let hi = pair[1].intValue, lo >= 1, hi >= lo, hi <= 8 {
                    b.charNgrams = lo...hi
                } else {
                    issues.add(o.childPath("char_ngrams"), expected: "[min, max] whole numbers with 1 ≤ min ≤ max ≤ 8", found: v)
                }
            }
            if let v = o.integer("seed", minimum: 0, issues: &issues) { b.seed = UInt64(v) }
            b.trainExamples = o.integer("train_examples", minimum: 1, issues: &issues)
            return b
        }
    }

    /// Trains the classifier on the training split, watching the validation split each epoch.
    public func makeProvider(_ context: ProviderContext) -> PreparedProvider {
        let train = trainExamples.map { Dataset.stratifiedSubset(context.train, count: $0, seed: seed) } ?? context.train
        let classifier = TextClassifier.train(labels: context.labels, train: train, validation: context.validation, settings: self)
        let training = ModelTraining(seconds: classifier.trainingSeconds, examples: train.count, last: classifier.history.last,
                                     bestEpoch: classifier.bestEpoch, stoppedEarly: classifier.stoppedEarly,
                                     curve: TrainingCurve.builtin(context.modelID, classifier))
        return PreparedProvider(provider: BuiltinProvider(classifier: classifier), training: training)
    }
}
