/// Two candidates' (or two runs') first-repeat scores on the examples both were asked: what every
/// paired test here starts from (the decision's comparisons, the gate, `evalkit diff`).
public struct PairedOutcomes: Sendable, Equatable {
    /// Examples both were asked.
    public var pairs: Int
    /// Examples where the first scored higher than the second, and the reverse; for right-or-wrong
    /// scores, those only the first got right and those only the second did.
    public var firstBetter: Int
    public var secondBetter: Int
    /// Each side's scores summed over the shared examples.
    public var firstTotal: Double
    public var secondTotal: Double
    /// True when every paired score is 0 or 1: the exact proportion methods apply.
    public var binary: Bool
    /// First minus second score on each shared example, in example-id order; kept only when the scores
    /// are not all 0 or 1 (the resampling methods need them; counts suffice otherwise).
    public var differences: [Double]

    /// Pairs `first` and `second` (scores by example id, as `DecisionAnalyzer.firstScores` gives them).
    public init(_ first: [String: Double], _ second: [String: Double]) {
        var better = 0, worse = 0, firstTotal = 0.0, secondTotal = 0.0, binary = true
        var shared: [(id: String, difference: Double)] = []
        for (id, x) in first {
            guard let y = second[id] else { continue }
            firstTotal += x
            secondTotal += y
            if x > y { better += 1 } else if y > x { worse += 1 }
            if (x != 0 && x != 1) || (y != 0 && y != 1) { binary = false }
            shared.append((id, x - y))
        }
        pairs = shared.count; firstBetter = better; secondBetter = worse
        self.firstTotal = firstTotal; self.secondTotal = secondTotal; self.binary = binary
        differences = binary ? [] : shared.sorted { $0.id < $1.id }.map(\.difference)
    }

    /// Mean score (accuracy, for right-or-wrong scores) of the first and of the second on the shared
    /// examples; nil when there are none.
    public var firstAccuracy: Double? { pairs == 0 ? nil : firstTotal / Double(pairs) }
    public var secondAccuracy: Double? { pairs == 0 ? nil : secondTotal / Double(pairs) }

    /// Two-sided p-value of "no difference": exact McNemar on the discordant pairs for right-or-wrong
    /// scores, else the paired sign-flip permutation test of the mean difference.
    public var pValue: Double {
        binary ? Statistics.mcNemarExact(b: firstBetter, c: secondBetter) : Statistics.signFlipP(differences)
    }

    /// The test `pValue` comes from, for a report.
    public var testName: String { binary ? "exact McNemar" : "paired sign-flip permutation test" }
}
