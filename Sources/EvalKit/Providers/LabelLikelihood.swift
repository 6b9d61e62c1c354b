import Foundation

/// Reads a label from a model's next-token log-probabilities: the way a likelihood-scored candidate
/// answers, whichever provider gave the log-probabilities (an OpenAI-compatible server's `top_logprobs`,
/// a worker's), so that two candidates scored this way are scored alike.
public enum LabelLikelihood {
    /// Top tokens asked for: the most OpenAI-compatible servers return.
    public static let topTokens = 20
    /// How the report's appendix names this way of answering.
    public static let reportPhrase = "scored by label likelihood (each label's probability as the next token)"

    /// Each label is scored by the summed probability of the tokens that start it (" positive", "Positive",
    /// " pos" count together); a label none of whose spellings is among `top` gets less than the least
    /// likely of them. Returns the most likely label and every label's share, or nil when no label can be
    /// told apart (no labels, or a tie at the top): an unreadable answer, never a guess by label order.
    public static func answer(top: [(token: String, logprob: Double)], labels: [String]) -> (label: String, probabilities: [String: Double])? {
        let floor = (top.map(\.logprob).min() ?? -30) - 1
        let targets = labels.map { $0.lowercased() }
        // A piece that starts several labels (" ne": negative and neutral) tells them apart not at all:
        // it is credited to none, rather than to each and then to the first by label order.
        let pieces = top.compactMap { token, logprob -> (piece: String, logprob: Double)? in
            let piece = token.trimmingCharacters(in: .whitespaces).lowercased()
            guard !piece.isEmpty, logprob.isFinite, targets.filter({ $0.hasPrefix(piece) }).count == 1 else { return nil }
            return (piece, logprob)
        }
        var scores: [Double] = []
        for target in targets {
            let matches = pieces.compactMap { target.hasPrefix($0.piece) ? $0.logprob : nil }
            // log(sum(exp)) over the spellings that start this label.
            if let best = matches.max() {
                scores.append(best + log(matches.reduce(0) { $0 + exp($1 - best) }))
            } else {
                scores.append(floor)
            }
        }
        guard let best = scores.indices.max(by: { scores[$0] < scores[$1] }),
              scores.filter({ $0 == scores[best] }).count == 1 else { return nil }
        let weights = scores.map { exp($0 - scores[best]) }
        let total = weights.reduce(0, +)
        return (labels[best], Dictionary(zip(labels, weights.map { $0 / total }), uniquingKeysWith: { a, _ in a }))
    }

    /// The answer a likelihood-scored request gives: the most likely label with every label's share, or no
    /// text (an unreadable answer, counted invalid) when no label can be told apart.
    public static func response(top: [(token: String, logprob: Double)], labels: [String], usage: JSON?, openAINames: Bool,
                                systemFingerprint: String? = nil) -> ModelResponse {
        guard let read = answer(top: top, labels: labels) else {
            return ModelResponse(text: "", usage: usage, openAINames: openAINames, systemFingerprint: systemFingerprint)
        }
        return ModelResponse(text: read.label, usage: usage, openAINames: openAINames, labelProbabilities: read.probabilities,
                             systemFingerprint: systemFingerprint)
    }

    /// `top_logprobs` as OpenAI's completions API and evalkit's worker protocol write it: an object of
    /// token → log-probability; members that are not numbers are left out.
    public static func top(_ object: [(String, JSON)]) -> [(token: String, logprob: Double)] {
        object.compactMap { token, value in value.numberValue.map { (token, $0) } }
    }
}
