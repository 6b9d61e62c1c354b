import Foundation

/// The standard scorer of an extraction task: the first JSON object in the output against the target
/// object, field by field (nested objects as dotted paths), after a stated normalisation.
public struct FieldMatchOptions: ScorerKind {
    public static let name = "fields"
    /// The score's value: every field right (0/1), or the field-level F1.
    public enum Primary: String, Sendable { case exact = "exact_match", f1 = "field_f1" }
    public var primary: Primary = .exact
    /// Case-insensitive text, whitespace runs as one space, numbers by value ("1,234.50" = 1234.5).
    public var foldCase = true, collapseWhitespace = true, numbersByValue = true
    /// Per field: each variant's normalised text → the canonical value it stands for.
    public var synonyms: [String: [String: String]] = [:]
    /// The task's schema, where it has one: a part says whether the answer follows it.
    public var schema: JSONSchema?

    public init() {}
    public var isBinary: Bool { primary == .exact }
    public var readsLabels: Bool { false }
    public var targets: TargetKind { .jsonObject }
    public var scoreName: String { primary == .exact ? "exact match" : "field F1" }
    public var reportLine: String {
        var rules: [String] = []
        if foldCase { rules.append("case") }
        if collapseWhitespace { rules.append("whitespace") }
        if numbersByValue { rules.append("number formats") }
        let normalisation = rules.isEmpty ? "compared as written" : "compared ignoring " + rules.joined(separator: ", ")
            + (synonyms.isEmpty ? "" : ", with per-field synonyms")
        return "fields: the first JSON object in the output against the target's fields (\(normalisation)); the score is "
            + (primary == .exact ? "1 when every field is right and none is extra (exact match), else 0" : "the field-level F1")
            + "; field precision, recall and F1, JSON validity" + (schema == nil ? "" : ", schema conformance") + " and each field's accuracy beside it"
    }

    public static func read(options: JSON, path: String, task: TaskSpec) -> (options: FieldMatchOptions?, issues: [ConfigIssue]) {
        var issues = IssueCollector()
        var read = FieldMatchOptions()
        read.schema = task.schema
        guard let reader = ObjectReader(options, path: path, issues: &issues) else { return (nil, issues.issues) }
        reader.rejectUnknownKeys(["primary", "normalize", "synonyms"], issues: &issues)
        if let primary = reader.oneOf("primary", [Primary.exact.rawValue, Primary.f1.rawValue], issues: &issues) {
            read.primary = Primary(rawValue: primary) ?? .exact
        }
        if let normalize = ObjectReader(reader["normalize"], path: reader.childPath("normalize"), issues: &issues, required: false) {
            normalize.rejectUnknownKeys(["case", "whitespace", "numbers"], issues: &issues)
            read.foldCase = normalize.bool("case", issues: &issues) ?? true
            read.collapseWhitespace = normalize.bool("whitespace", issues: &issues) ?? true
            read.numbersByValue = normalize.bool("numbers", issues: &issues) ?? true
        }
        if let synonyms = ObjectReader(reader["synonyms"], path: reader.childPath("synonyms"), issues: &issues, required: false) {
            for (field, value) in synonyms.members {
                guard let variants = ObjectReader(value, path: synonyms.childPath(field), issues: &issues) else { continue }
                var map: [String: String] = [:]
                for (variant, canonical) in variants.members {
                    guard let text = canonical.stringValue else {
                        issues.add(variants.childPath(variant), expected: "the canonical value (a string) this variant stands for", found: canonical)
                        continue
                    }
                    map[read.normalizedText(variant)] = text
                }
                read.synonyms[field] = map
            }
        }
        return (issues.issues.isEmpty ? read : nil, issues.issues)
    }

    public func makeScorer(_ context: ScorerContext) -> any Scorer { FieldMatchScorer(options: self) }

    /// Text as compared: case folded and whitespace collapsed as configured.
    func normalizedText(_ text: String) -> String {
        var result = foldCase ? text.lowercased() : text
        if collapseWhitespace { result = result.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ") }
        return result
    }

    /// A value as compared: synonyms applied, then text normalised; a number (or, with numbers by value,
    /// text that reads as one) as its shortest decimal; an array as its sorted normalised elements.
    func normalized(_ value: JSON, field: String) -> String {
        switch value {
        case .number(let n): return JSON.formatNumber(n)
        case .bool(let b): return String(b)
        case .null: return "null"
        case .array(let elements): return "[" + elements.map { normalized($0, field: field) }.sorted().joined(separator: "\u{1F}") + "]"
        case .object: return value.encoded()
        case .string(let s):
            var text = normalizedText(s)
            if let canonical = synonyms[field]?[text] { text = normalizedText(canonical) }
            if numbersByValue, let number = Self.number(in: text) { return JSON.formatNumber(number) }
            return text
        }
    }

    /// A number written with thousands separators, a currency sign or a trailing percent sign; nil for other text.
    public static func number(in text: String) -> Double? {
        var t = text.trimmingCharacters(in: .whitespaces)
        for sign in ["$", "€", "£", "¥"] where t.hasPrefix(sign) || t.hasSuffix(sign) {
            t = t.replacingOccurrences(of: sign, with: "").trimmingCharacters(in: .whitespaces)
        }
        if t.hasSuffix("%") { t.removeLast() }
        let digitsOnly = t.replacingOccurrences(of: ",", with: "")
        // Separators only between digit groups of three ("1,234"), never "1,2".
        if digitsOnly != t {
            let whole = t.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)[0].split(separator: ",", omittingEmptySubsequences: false)
            guard whole.dropFirst().allSatisfy({ $0.count == 3 }), let first = whole.first, !first.isEmpty else { return nil }
        }
        guard let value = Double(digitsOnly), value.isFinite, digitsOnly.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" || $0 == "E" }) else { return nil }
        return value
    }
}

/// Scores one output of an extraction task.
struct FieldMatchScorer: Scorer {
    let options: FieldMatchOptions

    func score(output: String, example: Example) -> Score {
        let target = (try? JSON.parse(example.target)).map(Self.flatten) ?? []
        guard let answer = Self.firstObject(in: output) else {
            var parts = [ScorePart("exact_match", 0), ScorePart("field_precision", 0), ScorePart("field_recall", 0), ScorePart("field_f1", 0),
                         ScorePart("valid_json", 0)]
            if options.schema != nil { parts.append(ScorePart("schema_valid", 0)) }
            return Score(answer: nil, value: 0, parts: parts + target.map { ScorePart("field." + $0.path, 0) })
        }
        let predicted = Self.flatten(answer)
        var predictedValues: [String: String] = [:]
        for field in predicted { predictedValues[field.path] = options.normalized(field.value, field: field.path) }
        let fieldScores = target.map { field in
            ScorePart("field." + field.path, predictedValues[field.path] == options.normalized(field.value, field: field.path) ? 1 : 0)
        }
        let right = fieldScores.filter { $0.value == 1 }.count
        let precision = predicted.isEmpty ? (target.isEmpty ? 1 : 0) : Double(right) / Double(predicted.count)
        let recall = target.isEmpty ? (predicted.isEmpty ? 1 : 0) : Double(right) / Double(target.count)
        let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        let exact: Double = right == target.count && predicted.count == target.count ? 1 : 0
        var parts = [ScorePart("exact_match", exact), ScorePart("field_precision", precision), ScorePart("field_recall", recall),
                     ScorePart("field_f1", f1), ScorePart("valid_json", 1)]
        if let schema = options.schema { parts.append(ScorePart("schema_valid", schema.violations(of: answer).isEmpty ? 1 : 0)) }
        return Score(answer: answer.encoded(), value: options.primary == .exact ? exact : f1, parts: parts + fieldScores)
    }

    /// The leaf fields of an object as dotted paths; nulls are absent fields, arrays are values.
    static func flatten(_ value: JSON) -> [(path: String, value: JSON)] {
        guard let members = value.objectValue else { return [] }
        var fields: [(path: String, value: JSON)] = []
        for (key, member) in members {
            switch member {
            case .null: continue
            case .object: fields += flatten(member).map { (key + "." + $0.path, $0.value) }
            default: fields.append((key, member))
            }
        }
        return fields
    }

    /// The first `{…}` in the text that parses as a JSON object (models wrap answers in prose or code fences).
    static func firstObject(in text: String) -> JSON? {
        let bytes = Array(text.utf8)
        var start = 0, tries = 0
        // A bounded number of starts: an output of a million "{" costs no more than a few scans.
        while tries < 16, let open = bytes[start...].firstIndex(of: UInt8(ascii: "{")) {
            tries += 1
            if let close = matchingBrace(bytes, from: open), let value = try? JSON.parse(bytes: Array(bytes[open...close])), value.objectValue != nil {
                return value
            }
            start = open + 1
        }
        return nil
    }

    /// The index of the brace that closes the one at `open`, skipping braces inside strings.
    static func matchingBrace(_ bytes: [UInt8], from open: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for i in open..<bytes.count {
            let byte = bytes[i]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return i }
            default: break
            }
        }
        return nil
    }
}
