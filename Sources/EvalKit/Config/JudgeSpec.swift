import Foundation

/// An LLM judge: a configured model grades each answer against the task's reference with a rubric
/// prompt, on a pass/fail or 1–5 scale ("task.judge").
public struct JudgeSpec: Sendable, Equatable {
    /// The id of one of the experiment's models.
    public var modelID: String
    /// The rubric template: {{answer}} (required), {{input}} and {{reference}}.
    public var promptPath: String
    public var scale: JudgeScale

    public init(modelID: String, promptPath: String, scale: JudgeScale) { self.modelID = modelID; self.promptPath = promptPath; self.scale = scale }

    /// Placeholders a judge's prompt may use.
    public static let placeholders = ["input", "reference", "answer"]
}

/// The grades a judge gives and what each scores.
public enum JudgeScale: String, Sendable, CaseIterable {
    case passFail = "pass-fail"
    case oneToFive = "1-5"

    /// The grades, lowest first.
    public var grades: [String] { self == .passFail ? ["fail", "pass"] : ["1", "2", "3", "4", "5"] }

    /// A grade's score in [0, 1]: pass 1, fail 0; 1–5 as (grade − 1) ÷ 4.
    public func score(_ grade: String) -> Double? {
        guard let index = grades.firstIndex(of: grade) else { return nil }
        return Double(index) / Double(grades.count - 1)
    }

    /// How a grade is read from the judge's output, with the label parser: the first "pass" or "fail"
    /// (also "passed", "failed"), or the first digit 1–5 standing alone.
    public var parsing: LabelParsing {
        switch self {
        case .passFail:
            var parsing = LabelParsing(method: .first)
            parsing.synonyms = ["passed": "pass", "failed": "fail", "passes": "pass", "fails": "fail"]
            return parsing
        case .oneToFive: return LabelParsing(method: .regex("\\b([1-5])\\b"))
        }
    }

    /// A human grade as written in the data (case and surrounding space ignored; 1–5 also as numbers), or nil.
    public func canonical(_ written: String) -> String? {
        let text = written.trimmingCharacters(in: .whitespaces).lowercased()
        if grades.contains(text) { return text }
        if self == .oneToFive, let number = Double(text), let whole = Int(exactly: number), (1...5).contains(whole) { return String(whole) }
        return nil
    }
}
