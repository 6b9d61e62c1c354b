import Foundation

/// Reads a label from a model's free-text output, as the task or prompt says.
public struct LabelParser: Sendable {
    public let labels: [String]
    public let parsing: LabelParsing
    /// Lowercased label or synonym → canonical label.
    let terms: [(term: String, label: String)]
    let regex: NSRegularExpression?

    public init(labels: [String], parsing: LabelParsing) {
        self.labels = labels
        self.parsing = parsing
        var terms = labels.map { ($0.lowercased(), $0) }
        for (synonym, label) in parsing.synonyms.sorted(by: { $0.key < $1.key }) { terms.append((synonym.lowercased(), label)) }
        // Longer terms first, so "very positive" wins over "positive" at the same position.
        self.terms = terms.sorted { $0.0.count > $1.0.count }
        if case .regex(let pattern) = parsing.method {
            regex = try? NSRegularExpression(pattern: pattern)
        } else {
            regex = nil
        }
    }

    /// The label found in `output`, or nil when the output is invalid.
    public func parse(_ output: String) -> String? {
        switch parsing.method {
        case .exact:
            return exactMatch(output)
        case .first:
            return firstMatch(output)
        case .regex:
            guard let regex else { return nil }
            let range = NSRange(output.startIndex..., in: output)
            guard let match = regex.firstMatch(in: output, range: range), match.numberOfRanges > 1,
                  let group = Range(match.range(at: 1), in: output) else { return nil }
            return exactMatch(String(output[group]))
        }
    }

    static let trimmed = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: ".,;:!?\"'`*()[]{}<>"))

    static func normalize(_ text: String) -> String {
        Text.collapseWhitespace(text.lowercased()).trimmingCharacters(in: trimmed)
    }

    func exactMatch(_ text: String) -> String? {
        let normalized = Self.normalize(text)
        if let hit = terms.first(where: { $0.term == normalized }) { return hit.label }
        if let number = Double(normalized) { return numericLabel(number) }
        return nil
    }

    func numericLabel(_ value: Double) -> String? {
        parsing.numericRanges.first { $0.min <= value && value <= $0.max }?.label
    }

    /// The earliest whole-word label or synonym (or number, when numeric ranges are set).
    func firstMatch(_ output: String) -> String? {
        let text = Array(output.lowercased().unicodeScalars)
        var best: (position: Int, label: String)? = nil
        for (term, label) in terms {
            let needle = Array(term.unicodeScalars)
            guard !needle.isEmpty, needle.count <= text.count else { continue }
            var i = 0
            while i + needle.count <= text.count {
                if let b = best, i >= b.position { break }
                if text[i] == needle[0], Array(text[i..<i + needle.count]) == needle,
                   !Self.isWordScalar(i > 0 ? text[i - 1] : nil), !Self.isWordScalar(i + needle.count < text.count ? text[i + needle.count] : nil) {
                    best = (i, label)
                    break
                }
                i += 1
            }
        }
        if !parsing.numericRanges.isEmpty, let number = firstNumber(text, before: best?.position ?? text.count) {
            return numericLabel(number) ?? best?.label
        }
        return best?.label
    }

    func firstNumber(_ text: [Unicode.Scalar], before limit: Int) -> Double? {
        var i = 0
        while i < limit {
            if CharacterSet.decimalDigits.contains(text[i]), !Self.isWordScalar(i > 0 ? text[i - 1] : nil) {
                var j = i
                while j < text.count, CharacterSet.decimalDigits.contains(text[j]) || text[j] == "." { j += 1 }
                var digits = String(String.UnicodeScalarView(text[i..<j]))
                if digits.hasSuffix(".") { digits.removeLast() }
                return Double(digits)
            }
            i += 1
        }
        return nil
    }

    static func isWordScalar(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return Text.isAlphanumeric(scalar)
    }
}
