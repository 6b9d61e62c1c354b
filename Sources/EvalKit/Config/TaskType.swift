/// What a task asks a model for, which decides what a dataset's target is and how answers are scored
/// unless the config names a scorer ("task.type").
public enum TaskType: String, Sendable, CaseIterable {
    /// One label of a fixed set.
    case classification
    /// A JSON object of fields pulled out of the input.
    case extraction
    /// A short answer to a question, with one or more accepted answers.
    case shortAnswer = "short-answer"
    /// Free text judged against one or more references.
    case generation

    /// What a target of this task is.
    public var targets: TargetKind {
        switch self {
        case .classification: return .label
        case .extraction: return .jsonObject
        case .shortAnswer, .generation: return .text
        }
    }

    /// The scorer a task of this type uses when the config names none.
    public var defaultScorer: String {
        switch self {
        case .classification: return "label"
        case .extraction: return "fields"
        case .shortAnswer: return "answer-match"
        case .generation: return "overlap"
        }
    }
}

/// What a dataset's target field holds.
public enum TargetKind: String, Sendable {
    /// One of the task's labels.
    case label
    /// A JSON object (in JSONL, the object itself; in CSV, its JSON text).
    case jsonObject = "a JSON object"
    /// Text, or in JSONL a non-empty array of texts: every one of them an accepted answer.
    case text

    /// How a config or data error describes it.
    public var described: String {
        switch self {
        case .label: return "a label of the task's label set"
        case .jsonObject: return "a JSON object (the fields to extract)"
        case .text: return "a reference text, or a non-empty array of accepted texts"
        }
    }
}
