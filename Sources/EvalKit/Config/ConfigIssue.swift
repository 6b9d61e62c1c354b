/// One problem found in an experiment file: where it is, what was expected and what was found.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// JSON path, e.g. `$.models[1].pricing.input_per_million`.
    public var path: String
    public var expected: String
    public var found: String?
    /// Where outside the JSON the problem is, e.g. `prompts/plain.txt:3`.
    public var location: String?

    public init(path: String, expected: String, found: String? = nil, location: String? = nil) {
        self.path = path; self.expected = expected; self.found = found; self.location = location
    }

    public var description: String {
        var text = "\(path): expected \(expected)"
        if let found { text += "; found \(found)" }
        if let location { text += " (\(location))" }
        return text
    }
}

/// Why an experiment could not be loaded.
public enum ConfigError: Error, CustomStringConvertible, Sendable {
    case unreadable(file: String, reason: String)
    case malformedJSON(file: String, JSONParseError)
    case invalid(file: String, issues: [ConfigIssue])

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "cannot read experiment \(file): \(reason)"
        case let .malformedJSON(file, error):
            return "\(file):\(error.line):\(error.column): not valid JSON: \(error.message)"
        case let .invalid(file, issues):
            let noun = issues.count == 1 ? "problem" : "problems"
            return "\(file): \(issues.count) \(noun) in the experiment:\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

/// Collects issues while a config is read, so all of them are reported at once.
struct IssueCollector {
    private(set) var issues: [ConfigIssue] = []

    mutating func add(_ path: String, expected: String, found: JSON? = nil) {
        issues.append(ConfigIssue(path: path, expected: expected, found: found?.kindDescription))
    }

    mutating func add(_ issue: ConfigIssue) { issues.append(issue) }
}

/// Reads one JSON object of the config, recording every issue instead of stopping at the first.
struct ObjectReader {
    let path: String
    let members: [(String, JSON)]

    init?(_ value: JSON?, path: String, issues: inout IssueCollector, required: Bool = true) {
        guard let value, !value.isNull else {
            if required { issues.add(path, expected: "an object") }
            return nil
        }
        guard let members = value.objectValue else {
            issues.add(path, expected: "an object", found: value)
            return nil
        }
        self.path = path
        self.members = members
    }

    subscript(key: String) -> JSON? {
        guard let value = members.first(where: { $0.0 == key })?.1, !value.isNull else { return nil }
        return value
    }

    func childPath(_ key: String) -> String { "\(path).\(key)" }

    /// Records every key that is not one of `known`, with a did-you-mean suggestion.
    func rejectUnknownKeys(_ known: [String], issues: inout IssueCollector) {
        for (key, _) in members where !known.contains(key) {
            var expected = "one of the fields " + known.joined(separator: ", ")
            if let guess = Text.suggestion(for: key, among: known) { expected = "\"\(guess)\" (did you mean it?)" }
            issues.add(ConfigIssue(path: childPath(key), expected: expected, found: "an unknown field \"\(key)\""))
        }
    }

    func string(_ key: String, required: Bool = false, issues: inout IssueCollector) -> String? {
        guard let value = self[key] else {
            if required { issues.add(childPath(key), expected: "a string (required)") }
            return nil
        }
        guard let s = value.stringValue, !s.isEmpty else {
            issues.add(childPath(key), expected: "a non-empty string", found: value)
            return nil
        }
        return s
    }

    func bool(_ key: String, issues: inout IssueCollector) -> Bool? {
        guard let value = self[key] else { return nil }
        guard let b = value.boolValue else {
            issues.add(childPath(key), expected: "true or false", found: value)
            return nil
        }
        return b
    }

    func number(_ key: String, required: Bool = false, range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude,
                rangeText: String? = nil, issues: inout IssueCollector) -> Double? {
        guard let value = self[key] else {
            if required { issues.add(childPath(key), expected: "a number (required)") }
            return nil
        }
        guard let n = value.numberValue, range.contains(n) else {
            issues.add(childPath(key), expected: rangeText ?? "a number", found: value)
            return nil
        }
        return n
    }

    func integer(_ key: String, required: Bool = false, minimum: Int = Int.min, maximum: Int? = nil, issues: inout IssueCollector) -> Int? {
        guard let value = self[key] else {
            if required { issues.add(childPath(key), expected: "an integer (required)") }
            return nil
        }
        guard let n = value.numberValue, n == n.rounded(), n >= Double(minimum), n < 9e15, maximum.map({ n <= Double($0) }) ?? true else {
            let what = maximum.map { "an integer from \(minimum) to \($0)" } ?? (minimum == Int.min ? "an integer" : "an integer ≥ \(minimum)")
            issues.add(childPath(key), expected: what, found: value)
            return nil
        }
        return Int(n)
    }

    func stringArray(_ key: String, required: Bool = false, nonEmpty: Bool = false, issues: inout IssueCollector) -> [String]? {
        guard let value = self[key] else {
            if required { issues.add(childPath(key), expected: "an array of strings (required)") }
            return nil
        }
        guard let items = value.arrayValue else {
            issues.add(childPath(key), expected: "an array of strings", found: value)
            return nil
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item.stringValue else {
                issues.add("\(childPath(key))[\(i)]", expected: "a string", found: item)
                continue
            }
            out.append(s)
        }
        if nonEmpty && items.isEmpty { issues.add(childPath(key), expected: "at least one entry", found: value) }
        return out
    }

    func oneOf(_ key: String, _ choices: [String], required: Bool = false, issues: inout IssueCollector) -> String? {
        guard let s = string(key, required: required, issues: &issues) else { return nil }
        guard choices.contains(s) else {
            var expected = "one of " + choices.joined(separator: ", ")
            if let guess = Text.suggestion(for: s, among: choices) { expected += " (did you mean \"\(guess)\"?)" }
            issues.add(ConfigIssue(path: childPath(key), expected: expected, found: "\"\(s)\""))
            return nil
        }
        return s
    }
}

/// Runs `body` on an options object as an `ObjectReader`, collecting its issues.
func readOptions<T>(_ options: JSON, path: String, _ body: (ObjectReader, inout IssueCollector) -> T?) -> (options: T?, issues: [ConfigIssue]) {
    var issues = IssueCollector()
    guard let reader = ObjectReader(options, path: path, issues: &issues) else { return (nil, issues.issues) }
    let read = body(reader, &issues)
    return (read, issues.issues)
}
