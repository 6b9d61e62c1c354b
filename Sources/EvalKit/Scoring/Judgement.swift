/// The judge's grade of one answer: a candidate's answer to one example (one line of judgements.jsonl),
/// or, for the calibration slice, a human's answer with the human's own grade beside it.
public struct Judgement: Sendable, Equatable {
    /// The layout of judgements.jsonl lines (run.json's `judgements_schema`).
    public static let schema = 1
    /// The candidate id of a human's graded answer.
    public static let human = "(human)"

    public var candidate: String
    public var exampleID: String
    public var repeatIndex: Int
    /// The grade read from the judge's output (one of its scale's grades); nil when none could be read or the call failed.
    public var grade: String?
    /// The human's grade of the same answer (calibration only).
    public var humanGrade: String?
    /// The judge's raw output; nil when the call failed.
    public var output: String?
    public var error: String?
    public var latencyMs: Double
    public var attempts: Int
    public var cached: Bool
    /// USD for the judge's request under its model's pricing; nil without pricing.
    public var costUSD: Double?

    public init(candidate: String, exampleID: String, repeatIndex: Int, grade: String?, humanGrade: String? = nil, output: String?,
                error: String?, latencyMs: Double, attempts: Int, cached: Bool, costUSD: Double?) {
        self.candidate = candidate; self.exampleID = exampleID; self.repeatIndex = repeatIndex; self.grade = grade; self.humanGrade = humanGrade
        self.output = output; self.error = error; self.latencyMs = latencyMs; self.attempts = attempts; self.cached = cached; self.costUSD = costUSD
    }

    /// The line as judgements.jsonl keeps it, keys in a fixed order.
    public var json: JSON {
        .object([
            ("candidate", .string(candidate)), ("example_id", .string(exampleID)), ("repeat", .number(Double(repeatIndex))),
            ("grade", grade.map(JSON.string) ?? .null), ("human_grade", humanGrade.map(JSON.string) ?? .null),
            ("output", output.map(JSON.string) ?? .null), ("error", error.map(JSON.string) ?? .null),
            ("latency_ms", .number(ExampleResult.roundLatency(latencyMs))), ("attempts", .number(Double(attempts))),
            ("cached", .bool(cached)), ("cost_usd", costUSD.map(JSON.number) ?? .null),
        ])
    }

    /// Reads a judgements.jsonl object back; nil when a required field is missing or out of range.
    public init?(json: JSON) {
        guard let candidate = json["candidate"]?.stringValue, let exampleID = json["example_id"]?.stringValue,
              let repeatIndex = json["repeat"]?.countValue, repeatIndex <= Int(Int16.max),
              let latency = json["latency_ms"]?.numberValue, latency.isFinite, latency >= 0,
              let attempts = json["attempts"]?.countValue else { return nil }
        let cost = json["cost_usd"]?.numberValue
        if let cost, !cost.isFinite { return nil }
        self.init(candidate: candidate, exampleID: exampleID, repeatIndex: repeatIndex, grade: json["grade"]?.stringValue,
                  humanGrade: json["human_grade"]?.stringValue, output: json["output"]?.stringValue, error: json["error"]?.stringValue,
                  latencyMs: latency, attempts: attempts, cached: json["cached"]?.boolValue ?? false, costUSD: cost)
    }
}
