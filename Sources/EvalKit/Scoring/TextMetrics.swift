/// The text-overlap measures of question answering and generation, each written to match the
/// reference implementation its name gives (tests compare against those implementations' figures).
public enum TextMetrics {
    // MARK: SQuAD

    /// SQuAD's answer normalisation (its official evaluation script): lower-case, drop ASCII
    /// punctuation, drop the articles a, an and the as words, and collapse whitespace.
    public static func squadNormalized(_ text: String) -> String {
        let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)
        var kept = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars where !punctuation.contains(scalar) { kept.append(scalar) }
        // The script removes `\b(a|an|the)\b`: a run of word characters that is exactly an article.
        var spaced = String.UnicodeScalarView(), run = String.UnicodeScalarView()
        func endRun() {
            let word = String(run)
            spaced.append(contentsOf: (word == "a" || word == "an" || word == "the") ? " ".unicodeScalars : run)
            run = String.UnicodeScalarView()
        }
        for scalar in kept {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "_" { run.append(scalar) } else {
                endRun(); spaced.append(scalar)
            }
        }
        endRun()
        // Python's str.split() splits on any whitespace.
        return String(spaced).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// SQuAD's exact match: 1 when the normalised answer is one of the normalised references.
    public static func exactMatch(_ answer: String, references: [String]) -> Double {
        let normalized = squadNormalized(answer)
        return references.contains { squadNormalized($0) == normalized } ? 1 : 0
    }

    /// SQuAD's token F1 against the best reference: the harmonic mean of the shares of shared tokens
    /// (counted with multiplicity) in the answer and in the reference; 1 when both are empty, as in
    /// SQuAD 2.0's script.
    public static func tokenF1(_ answer: String, references: [String]) -> Double {
        let answerTokens = squadNormalized(answer).split(separator: " ").map(String.init)
        return references.map { reference in
            let referenceTokens = squadNormalized(reference).split(separator: " ").map(String.init)
            if answerTokens.isEmpty || referenceTokens.isEmpty { return answerTokens.isEmpty && referenceTokens.isEmpty ? 1 : 0 }
            let shared = sharedCount(answerTokens, referenceTokens)
            if shared == 0 { return 0 }
            let precision = Double(shared) / Double(answerTokens.count), recall = Double(shared) / Double(referenceTokens.count)
            return 2 * precision * recall / (precision + recall)
        }.max() ?? 0
    }

    /// How many items two lists share, counted with multiplicity (a multiset intersection).
    static func sharedCount<T: Hashable>(_ a: [T], _ b: [T]) -> Int {
        var counts: [T: Int] = [:]
        for item in b { counts[item, default: 0] += 1 }
        var shared = 0
        for item in a where (counts[item] ?? 0) > 0 {
            counts[item, default: 0] -= 1
            shared += 1
        }
        return shared
    }

    // MARK: chrF

    /// chrF as sacreBLEU computes a sentence score with its defaults (character n-grams of 1 to 6,
    /// whitespace removed, β = 2, case kept), in [0, 1] rather than sacreBLEU's [0, 100]; with several
    /// references, the best one.
    public static func chrF(_ hypothesis: String, references: [String], order: Int = 6, beta: Double = 2) -> Double {
        let hypothesisGrams = characterNGrams(hypothesis, order: order)
        var best = -1.0
        for reference in references {
            let referenceGrams = characterNGrams(reference, order: order)
            var precisionSum = 0.0, recallSum = 0.0, effectiveOrder = 0
            for n in 0..<order {
                let hypothesisCount = hypothesisGrams[n].values.reduce(0, +), referenceCount = referenceGrams[n].values.reduce(0, +)
                guard hypothesisCount > 0, referenceCount > 0 else { continue }
                var matches = 0
                for (gram, count) in hypothesisGrams[n] { matches += min(count, referenceGrams[n][gram] ?? 0) }
                precisionSum += Double(matches) / Double(hypothesisCount)
                recallSum += Double(matches) / Double(referenceCount)
                effectiveOrder += 1
            }
            var score = 0.0
            if effectiveOrder > 0 {
                let precision = precisionSum / Double(effectiveOrder), recall = recallSum / Double(effectiveOrder)
                let factor = beta * beta
                if precision + recall > 0 { score = (1 + factor) * precision * recall / (factor * precision + recall) }
            }
            best = max(best, score)
        }
        return max(best, 0)
    }

    /// Counts of character n-grams of each order 1…`order`, over Unicode scalars with whitespace removed.
    static func characterNGrams(_ text: String, order: Int) -> [[String: Int]] {
        let scalars = Array(text.unicodeScalars.filter { !$0.properties.isWhitespace })
        return (1...order).map { n in
            var counts: [String: Int] = [:]
            if scalars.count >= n {
                for start in 0...(scalars.count - n) {
                    var gram = String.UnicodeScalarView()
                    gram.append(contentsOf: scalars[start..<(start + n)])
                    counts[String(gram), default: 0] += 1
                }
            }
            return counts
        }
    }

    // MARK: ROUGE-L

    /// ROUGE-L's F-measure as Google's rouge-score package computes it with its default tokenizer
    /// (lower-case; tokens are runs of ASCII letters and digits; no stemming); with several references,
    /// the best one.
    public static func rougeL(_ prediction: String, references: [String]) -> Double {
        let predictionTokens = rougeTokens(prediction)
        return references.map { reference in
            let referenceTokens = rougeTokens(reference)
            guard !predictionTokens.isEmpty, !referenceTokens.isEmpty else { return 0 }
            let common = Double(longestCommonSubsequence(referenceTokens, predictionTokens))
            let precision = common / Double(predictionTokens.count), recall = common / Double(referenceTokens.count)
            return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        }.max() ?? 0
    }

    static func rougeTokens(_ text: String) -> [String] {
        var tokens: [String] = [], current = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) { current.append(scalar) } else if !current.isEmpty {
                tokens.append(String(current)); current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { tokens.append(String(current)) }
        return tokens
    }

    /// The length of the longest common subsequence, in one row of memory.
    static func longestCommonSubsequence(_ a: [String], _ b: [String]) -> Int {
        var previous = [Int](repeating: 0, count: b.count + 1), current = previous
        for x in a {
            for (j, y) in b.enumerated() { current[j + 1] = x == y ? previous[j] + 1 : max(previous[j + 1], current[j]) }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
