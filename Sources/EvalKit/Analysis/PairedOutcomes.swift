/// Two candidates' (or two runs') first-repeat outcomes on the examples both were asked: the counts
/// every paired test here starts from (the decision's comparisons, the gate, `evalkit diff`).
public struct PairedOutcomes: Sendable, Equatable {
    /// Examples both were asked.
    public var pairs: Int
    public var bothRight: Int
    /// Examples only the first got right, and only the second.
    public var onlyFirstRight: Int
    public var onlySecondRight: Int

    /// Pairs `first` and `second` (right or wrong by example id, as `DecisionAnalyzer.firstOutcomes` gives them).
    public init(_ first: [String: Bool], _ second: [String: Bool]) {
        var pairs = 0, both = 0, onlyFirst = 0, onlySecond = 0
        for (id, right) in first {
            guard let other = second[id] else { continue }
            pairs += 1
            if right && other { both += 1 } else if right { onlyFirst += 1 } else if other { onlySecond += 1 }
        }
        self.pairs = pairs; bothRight = both; onlyFirstRight = onlyFirst; onlySecondRight = onlySecond
    }

    /// Accuracy of the first and of the second on the shared examples; nil when there are none.
    public var firstAccuracy: Double? { pairs == 0 ? nil : Double(bothRight + onlyFirstRight) / Double(pairs) }
    public var secondAccuracy: Double? { pairs == 0 ? nil : Double(bothRight + onlySecondRight) / Double(pairs) }

    /// Two-sided exact McNemar p-value on the discordant pairs.
    public var mcNemarP: Double { Statistics.mcNemarExact(b: onlyFirstRight, c: onlySecondRight) }
}
