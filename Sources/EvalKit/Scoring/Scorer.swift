/// What a scorer made of one output.
public struct Score: Sendable, Equatable {
    /// What was read from the output (a label, a normalised answer); nil when nothing could be read,
    /// which makes the answer invalid.
    public var answer: String?
    /// In [0, 1]: 1 for a fully right answer, 0 for a wrong one, between for partial credit.
    public var value: Double

    public init(answer: String?, value: Double) { self.answer = answer; self.value = value }
}

/// Scores one candidate's outputs against the examples' targets.
public protocol Scorer: Sendable {
    func score(output: String, target: String) -> Score
}

/// A scorer evalkit can run: its options type reads and validates "task.scorer" and makes the scorer
/// of each candidate. Adding a scorer is one type conforming to this, added to a catalog
/// (`Catalog.standard.adding(MyScorer.self)`).
public protocol ScorerKind: ScorerOptions {
    /// The name a config gives in "task.scorer" (or its "type").
    static var name: String { get }
    /// Reads and validates the scorer's options (the "task.scorer" object without "type"; empty when the
    /// config gave only the name) found at JSON path `path`, for a task with `labels`.
    static func read(options: JSON, path: String, labels: [String]) -> (options: Self?, issues: [ConfigIssue])
    /// The scorer of one candidate.
    func makeScorer(_ context: ScorerContext) -> any Scorer
}

extension ScorerKind {
    public var name: String { Self.name }
}

/// What a scorer is made for: one candidate of a run.
public struct ScorerContext: Sendable {
    public var labels: [String]
    /// How this candidate's labels are read: its prompt's rules, else the task's; exact for a model that
    /// answers with a label and takes no prompt (the builtin classifier).
    public var parsing: LabelParsing
}

extension LabelMatchOptions: ScorerKind {
    public static func read(options: JSON, path: String, labels: [String]) -> (options: LabelMatchOptions?, issues: [ConfigIssue]) {
        if case .object(let members) = options, let key = members.first?.0 {
            return (nil, [ConfigIssue(path: path + "." + key, expected: "no options for the label scorer (its rules are \"task.parse\" and a prompt's \"parse\")")])
        }
        return (LabelMatchOptions(), [])
    }

    public func makeScorer(_ context: ScorerContext) -> any Scorer { LabelMatchScorer(parser: LabelParser(labels: context.labels, parsing: context.parsing)) }
}

/// Label match: the label read from the output, right when it is the target.
struct LabelMatchScorer: Scorer {
    let parser: LabelParser
    func score(output: String, target: String) -> Score {
        let label = parser.parse(output)
        return Score(answer: label, value: label == target ? 1 : 0)
    }
}

extension Catalog {
    /// This catalog with `kind` added, read by its own `read`.
    public func adding(_ kind: any ScorerKind.Type) -> Catalog {
        addingScorer(kind.name) { options, path, labels in
            let (read, issues) = kind.read(options: options, path: path, labels: labels)
            return (read, issues)
        }
    }
}
