/// The standard scorer of a short-answer task: SQuAD's exact match and token F1 of the answer against
/// every accepted answer (the best one counts).
public struct AnswerMatchOptions: ScorerKind {
    public static let name = "answer-match"
    public enum Primary: String, Sendable { case exact = "exact_match", f1 = "token_f1" }
    /// Which measure is the score (the other is shown beside it).
    public var primary: Primary = .exact
    /// Read only the output's first non-empty line (small models go on talking after the answer).
    public var firstLineOnly = true

    public init() {}
    public var isBinary: Bool { primary == .exact }
    public var readsLabels: Bool { false }
    public var targets: TargetKind { .text }
    public var scoreName: String { primary == .exact ? "exact match" : "token F1" }
    public var reportLine: String {
        "answer match: the " + (firstLineOnly ? "output's first non-empty line" : "output") + " against every accepted answer after SQuAD's normalisation "
            + "(lower case, no punctuation or articles, single spaces); the score is " + (primary == .exact ? "exact match (0/1), token F1 beside it" : "token F1, exact match beside it")
    }

    public static func read(options: JSON, path: String, task: TaskSpec) -> (options: AnswerMatchOptions?, issues: [ConfigIssue]) {
        var issues = IssueCollector()
        var read = AnswerMatchOptions()
        guard let reader = ObjectReader(options, path: path, issues: &issues) else { return (nil, issues.issues) }
        reader.rejectUnknownKeys(["primary", "answer"], issues: &issues)
        if let primary = reader.oneOf("primary", [Primary.exact.rawValue, Primary.f1.rawValue], issues: &issues) { read.primary = Primary(rawValue: primary) ?? .exact }
        if let answer = reader.oneOf("answer", ["first-line", "whole"], issues: &issues) { read.firstLineOnly = answer == "first-line" }
        return (issues.issues.isEmpty ? read : nil, issues.issues)
    }

    public func makeScorer(_ context: ScorerContext) -> any Scorer { AnswerMatchScorer(options: self) }
}

struct AnswerMatchScorer: Scorer {
    let options: AnswerMatchOptions
    func score(output: String, example: Example) -> Score {
        let answer = TextAnswer.read(output, firstLineOnly: options.firstLineOnly)
        let exact = TextMetrics.exactMatch(answer ?? "", references: example.references)
        let f1 = TextMetrics.tokenF1(answer ?? "", references: example.references)
        return Score(answer: answer, value: answer == nil ? 0 : (options.primary == .exact ? exact : f1),
                     parts: [ScorePart("exact_match", answer == nil ? 0 : exact), ScorePart("token_f1", answer == nil ? 0 : f1)])
    }
}

/// The standard scorer of a generation task: chrF and ROUGE-L of the output against every reference
/// (the best one counts).
public struct OverlapOptions: ScorerKind {
    public static let name = "overlap"
    public enum Primary: String, Sendable { case chrF = "chrf", rougeL = "rouge_l" }
    public var primary: Primary = .chrF

    public init() {}
    public var isBinary: Bool { false }
    public var readsLabels: Bool { false }
    public var targets: TargetKind { .text }
    public var scoreName: String { primary == .chrF ? "chrF" : "ROUGE-L" }
    public var reportLine: String {
        "overlap: the output against every reference; the score is " + (primary == .chrF ? "chrF (sacreBLEU's sentence chrF, 0–1), ROUGE-L F beside it"
            : "ROUGE-L F (rouge-score's default tokenizer), chrF beside it")
    }

    public static func read(options: JSON, path: String, task: TaskSpec) -> (options: OverlapOptions?, issues: [ConfigIssue]) {
        var issues = IssueCollector()
        var read = OverlapOptions()
        guard let reader = ObjectReader(options, path: path, issues: &issues) else { return (nil, issues.issues) }
        reader.rejectUnknownKeys(["primary"], issues: &issues)
        if let primary = reader.oneOf("primary", [Primary.chrF.rawValue, Primary.rougeL.rawValue], issues: &issues) { read.primary = Primary(rawValue: primary) ?? .chrF }
        return (issues.issues.isEmpty ? read : nil, issues.issues)
    }

    public func makeScorer(_ context: ScorerContext) -> any Scorer { OverlapScorer(options: self) }
}

struct OverlapScorer: Scorer {
    let options: OverlapOptions
    func score(output: String, example: Example) -> Score {
        let answer = TextAnswer.read(output, firstLineOnly: false)
        let chrF = answer.map { TextMetrics.chrF($0, references: example.references) } ?? 0
        let rougeL = answer.map { TextMetrics.rougeL($0, references: example.references) } ?? 0
        return Score(answer: answer, value: options.primary == .chrF ? chrF : rougeL, parts: [ScorePart("chrf", chrF), ScorePart("rouge_l", rougeL)])
    }
}

/// The answer a text task reads from an output: trimmed, optionally its first non-empty line; nil when empty.
enum TextAnswer {
    static func read(_ output: String, firstLineOnly: Bool) -> String? {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        let answer = firstLineOnly ? (trimmed.split(whereSeparator: \.isNewline).first.map(String.init) ?? "") : trimmed
        return answer.isEmpty ? nil : answer
    }
}

/// The LLM judge's grade as the score ("task.scorer": "judge"): the model of "task.judge" grades each
/// answer with its rubric prompt after the candidates have answered; pass scores 1 and fail 0, or a
/// 1–5 grade (grade − 1) ÷ 4. An answer the judge could not grade scores 0.
public struct JudgeOptions: ScorerKind {
    public static let name = "judge"
    public var scale: JudgeScale = .passFail

    public init() {}
    public var isBinary: Bool { scale == .passFail }
    public var readsLabels: Bool { false }
    public var targets: TargetKind { .text }
    public var gradedByJudge: Bool { true }
    public var scoreName: String { scale == .passFail ? "judge pass rate" : "judge score" }
    public var reportLine: String {
        "LLM judge: the grade the judge model gives each answer (" + (scale == .passFail ? "pass 1, fail 0" : "1–5, scored (grade − 1) ÷ 4")
            + "); an answer it could not grade scores 0"
    }

    public static func read(options: JSON, path: String, task: TaskSpec) -> (options: JudgeOptions?, issues: [ConfigIssue]) {
        var issues = IssueCollector()
        guard let reader = ObjectReader(options, path: path, issues: &issues) else { return (nil, issues.issues) }
        reader.rejectUnknownKeys([], issues: &issues)
        guard let judge = task.judge else {
            issues.add(ConfigIssue(path: "$.task.judge", expected: "the judge the \"judge\" scorer needs: {\"model\": a model id, \"prompt\": a rubric template, \"scale\": \"pass-fail\" or \"1-5\"}"))
            return (nil, issues.issues)
        }
        var read = JudgeOptions()
        read.scale = judge.scale
        return (issues.issues.isEmpty ? read : nil, issues.issues)
    }

    /// Until the judge has graded it, an answer is only read (trimmed; nil when empty) and scores 0.
    public func makeScorer(_ context: ScorerContext) -> any Scorer { PendingJudgeScorer() }
}

struct PendingJudgeScorer: Scorer {
    func score(output: String, example: Example) -> Score { Score(answer: TextAnswer.read(output, firstLineOnly: false), value: 0) }
}
