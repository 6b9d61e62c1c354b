/// What a scorer made of one output.
public struct Score: Sendable, Equatable {
    /// What was read from the output (a label, a normalised answer); nil when nothing could be read,
    /// which makes the answer invalid.
    public var answer: String?
    /// In [0, 1]: 1 for a fully right answer, 0 for a wrong one, between for partial credit.
    public var value: Double
    /// The measures the score is made of or shown beside (exact match and token F1, each field of an
    /// extraction, JSON validity), each in [0, 1]; the report gives each one's mean.
    public var parts: [ScorePart]

    public init(answer: String?, value: Double, parts: [ScorePart] = []) { self.answer = answer; self.value = value; self.parts = parts }
}

/// One named measure of an answer, in [0, 1].
public struct ScorePart: Sendable, Equatable {
    public var name: String
    public var value: Double
    public init(_ name: String, _ value: Double) { self.name = name; self.value = value }
}

/// Scores one candidate's outputs against the examples' targets.
public protocol Scorer: Sendable {
    /// The score of `output` as an answer to `example` (its target and any alternatives). A failed call is
    /// scored as an empty output, so that its parts count as wrong.
    func score(output: String, example: Example) -> Score
}

/// A scorer evalkit can run: its options type reads and validates "task.scorer" and makes the scorer
/// of each candidate. Adding a scorer is one type conforming to this, added to a catalog
/// (`Catalog.standard.adding(MyScorer.self)`).
public protocol ScorerKind: ScorerOptions {
    /// The name a config gives in "task.scorer" (or its "type").
    static var name: String { get }
    /// Reads and validates the scorer's options (the "task.scorer" object without "type"; empty when the
    /// config gave only the name) found at JSON path `path`, for `task`.
    static func read(options: JSON, path: String, task: TaskSpec) -> (options: Self?, issues: [ConfigIssue])
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

    public init(labels: [String], parsing: LabelParsing) { self.labels = labels; self.parsing = parsing }
}

extension LabelMatchOptions: ScorerKind {
    public static func read(options: JSON, path: String, task: TaskSpec) -> (options: LabelMatchOptions?, issues: [ConfigIssue]) {
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
    func score(output: String, example: Example) -> Score {
        let label = parser.parse(output)
        return Score(answer: label, value: label == example.target ? 1 : 0)
    }
}

extension Catalog {
    /// This catalog with `kind` added, read by its own `read`.
    public func adding(_ kind: any ScorerKind.Type) -> Catalog {
        addingScorer(kind.name) { options, path, task in
            let (read, issues) = kind.read(options: options, path: path, task: task)
            return (read, issues)
        }
    }
}
