/// What the LLM judge did in a run: how many answers it graded, what it cost (apart from every
/// candidate's cost), and how well it agrees with human grades where the data has some.
public struct JudgeSummary: Sendable, Equatable {
    public var modelID: String
    public var scale: JudgeScale
    /// Candidates' answers the judge graded, and those it could not (a failed call, no grade in its output).
    public var graded: Int
    public var ungraded: Int
    /// Judge requests answered from the response cache.
    public var cachedCalls: Int
    /// USD the judge's requests cost under its model's pricing; nil without pricing.
    public var costUSD: Double?
    /// Agreement with the humans' grades; nil when the data has none.
    public var calibration: JudgeCalibration?
    /// True when the verdict rests on the judge (the scorer is "judge").
    public var decides: Bool

    /// Below this Cohen's κ a judge's agreement with humans is weak (Landis and Koch call 0.61–0.80 substantial).
    public static let weakKappa = 0.6
    /// Fewer human grades than this leave κ too uncertain to call a judge calibrated.
    public static let fewGrades = 30

    /// How far the judge can be trusted, in words for the report and the decision.
    public var trust: String {
        guard let c = calibration else { return "uncalibrated: the data has no human grades to compare its grades with" }
        let kappa = c.kappa.map { "κ = " + Format.fixed($0, digits: 2) } ?? "κ undefined (one grade throughout)"
        if c.count < Self.fewGrades { return "barely calibrated: \(kappa) on only \(c.count) human grades" }
        if (c.kappa ?? 0) < Self.weakKappa { return "weakly calibrated: \(kappa) on \(c.count) human grades" }
        return "calibrated: \(kappa) on \(c.count) human grades"
    }

    /// True when the judge's grades should not be relied on alone.
    public var isWeak: Bool {
        guard let c = calibration else { return true }
        return c.count < Self.fewGrades || (c.kappa ?? 0) < Self.weakKappa
    }
}

/// The judge against humans on the same answers.
public struct JudgeCalibration: Sendable, Equatable {
    /// Answers both graded (a judge call that failed counts, as a disagreement).
    public var count: Int
    /// Share of answers given the same grade.
    public var agreement: Double
    /// Cohen's κ (unweighted) over the scale's grades, an ungraded answer its own category; nil when undefined.
    public var kappa: Double?
    /// Rows: the human's grade; columns: the judge's, then "none" (no grade read).
    public var confusion: [[Int]]
    /// Mean judge score minus mean human score, in score units (positive: the judge is more lenient).
    public var bias: Double
}

/// The judge's grades applied to the candidates' results, and its summary.
public enum JudgeGrades {
    /// Each result with its judge grade as the score part "judge" (0 when it has none), and, when the scorer
    /// is the judge, as its score.
    public static func apply(_ judgements: [Judgement], to results: [ResultColumn], experiment: Experiment) -> [ResultColumn] {
        guard let judge = experiment.task.judge else { return results }
        let decides = experiment.task.scorer.gradedByJudge
        var grades: [String: [String: Double]] = [:]
        for j in judgements where j.candidate != Judgement.human {
            grades[j.candidate, default: [:]][key(j.exampleID, j.repeatIndex)] = j.grade.flatMap(judge.scale.score)
        }
        return results.map { column in
            ResultColumn(column.map { result in
                var r = result
                let score = grades[r.candidate]?[key(r.exampleID, r.repeatIndex)] ?? nil
                r.scoreParts.removeAll { $0.name == "judge" }
                r.scoreParts.append(ScorePart("judge", r.answered ? (score ?? 0) : 0))
                if decides { r.score = r.answered ? (score ?? 0) : 0 }
                return r
            })
        }
    }

    static func key(_ example: String, _ repeatIndex: Int) -> String { example + "\u{1F}" + String(repeatIndex) }
    /// One judged answer across candidates: candidate, example, repeat.
    static func key(_ candidate: String, _ example: String, _ repeatIndex: Int) -> String { candidate + "\u{1F}" + key(example, repeatIndex) }

    /// The judge's summary over a run's judgements; nil when the task has no judge.
    public static func summary(_ judgements: [Judgement], experiment: Experiment) -> JudgeSummary? {
        guard let judge = experiment.task.judge else { return nil }
        let candidates = Set(experiment.candidates.map(\.id))
        let graded = judgements.filter { candidates.contains($0.candidate) }
        let costs = judgements.compactMap(\.costUSD)
        let human = judgements.filter { $0.candidate == Judgement.human && $0.humanGrade != nil }
        return JudgeSummary(modelID: judge.modelID, scale: judge.scale, graded: graded.filter { $0.grade != nil }.count,
                            ungraded: graded.filter { $0.grade == nil }.count, cachedCalls: judgements.filter(\.cached).count,
                            costUSD: costs.isEmpty ? nil : costs.reduce(0, +),
                            calibration: human.isEmpty ? nil : calibration(human, scale: judge.scale),
                            decides: experiment.task.scorer.gradedByJudge)
    }

    /// The judge's grades of the humans' answers against the humans' own.
    public static func calibration(_ pairs: [Judgement], scale: JudgeScale) -> JudgeCalibration {
        let grades = scale.grades
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: grades.count + 1), count: grades.count)
        var judgeSum = 0.0, humanSum = 0.0, agree = 0
        for pair in pairs {
            guard let human = pair.humanGrade, let row = grades.firstIndex(of: human) else { continue }
            let column = pair.grade.flatMap { grades.firstIndex(of: $0) } ?? grades.count
            confusion[row][column] += 1
            if column == row { agree += 1 }
            humanSum += scale.score(human) ?? 0
            judgeSum += pair.grade.flatMap(scale.score) ?? 0
        }
        let n = confusion.joined().reduce(0, +)
        guard n > 0 else { return JudgeCalibration(count: 0, agreement: 0, kappa: nil, confusion: confusion, bias: 0) }
        let total = Double(n)
        let observed = Double(agree) / total
        // Chance agreement from the marginals; the judge's "none" column has no human counterpart.
        var expected = 0.0
        for k in grades.indices {
            let rowShare = Double(confusion[k].reduce(0, +)) / total
            let columnShare = Double(confusion.reduce(0) { $0 + $1[k] }) / total
            expected += rowShare * columnShare
        }
        let kappa: Double? = expected < 1 ? (observed - expected) / (1 - expected) : nil
        return JudgeCalibration(count: n, agreement: observed, kappa: kappa, confusion: confusion, bias: (judgeSum - humanSum) / total)
    }
}
