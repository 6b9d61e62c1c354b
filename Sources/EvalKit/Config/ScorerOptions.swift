/// How a task's answers are scored, as the config's "task.scorer" gave it: what the pipeline needs to
/// know of a scorer without knowing which one it is. Each scorer defines its own, reads and validates
/// it, and makes the scorer of each candidate (`ScorerKind`, in Scoring/).
public protocol ScorerOptions: Sendable {
    /// The scorer's name in the config ("label", …).
    var name: String { get }
    /// True when every score is 0 or 1 (right or wrong): the analysis then uses paired proportion
    /// methods (Wilson, McNemar, Tango); other scores get a paired bootstrap and a permutation test.
    var isBinary: Bool { get }
    /// True when the answer read from an output is one of the task's labels, so per-label precision,
    /// recall, F1 and the confusion matrix mean something.
    var readsLabels: Bool { get }
    /// One line for the report: what a score is.
    var reportLine: String { get }
    /// What the scorer scores against: labels, JSON objects or reference texts (a task type's targets).
    var targets: TargetKind { get }
    /// True when the score is the LLM judge's grade ("task.judge"), given after the answers are in.
    var gradedByJudge: Bool { get }
    /// What the score's mean is called in the report ("accuracy", "exact match", "chrF").
    var scoreName: String { get }
}

extension ScorerOptions {
    public var targets: TargetKind { .label }
    public var gradedByJudge: Bool { false }
    public var scoreName: String { isBinary ? "accuracy" : "mean score" }
}

/// The standard scorer of a classification task: the label read from the output (by the prompt's or
/// the task's parsing rules) scores 1 when it is the target, else 0.
public struct LabelMatchOptions: ScorerOptions {
    public static let name = "label"
    public init() {}
    public var name: String { Self.name }
    public var isBinary: Bool { true }
    public var readsLabels: Bool { true }
    public var reportLine: String { "label match: 1 when the label read from the output is the target, else 0 (the mean is accuracy)" }
}
