import EvalKit
import Foundation
import Testing

/// The LLM judge: a configured model grades answers with a rubric, its grades cached and costed apart,
/// and its agreement with a slice of human grades measured.
@Suite struct JudgeTests {
    /// A short-answer experiment graded by a judge model on the fake server, which passes an answer equal
    /// to the reference; the training split carries eleven human-graded answers.
    static func write(in dir: String, serverURL: String, scorer: String = "\"judge\"", judge: String? = nil,
                      prompt: String = "JUDGE\nQuestion: {{input}}\nReference: {{reference}}\nAnswer: {{answer}}\nGrade:") throws -> String {
        let test = [("q1", "ECHO Paris", "Paris"), ("q2", "ECHO Lyon", "Paris"), ("q3", "ECHO NOGRADE", "Rome"), ("q4", "ECHO J500", "Oslo")]
        try Fixtures.write(test.map { #"{"id": "\#($0.0)", "question": "\#($0.1)", "answer": "\#($0.2)"}"# }.joined(separator: "\n"), to: "test.jsonl", in: dir)
        // Human grades against the judge's rule (pass when the answer is the reference): 4 agree on pass, 3 on fail,
        // 1 pass the humans failed, 2 fails the humans passed, and one answer the judge cannot grade.
        var train: [(String, String, String)] = []
        for i in 0..<4 { train.append(("Oslo", "oslo", "pass")); _ = i }
        train.append(("Oslo", "Oslo", "fail"))
        for _ in 0..<3 { train.append(("Oslo", "Bergen", "fail")) }
        for _ in 0..<2 { train.append(("Oslo", "Norway's capital", "pass")) }
        train.append(("Oslo", "NOGRADE", "PASS"))
        try Fixtures.write(train.enumerated().map { i, row in
            #"{"id": "h\#(i)", "question": "capital of Norway?", "answer": "\#(row.0)", "human": "\#(row.1)", "grade": "\#(row.2)"}"#
        }.joined(separator: "\n"), to: "train.jsonl", in: dir)
        try Fixtures.write("{{input}}\nAnswer:", to: "p.txt", in: dir)
        try Fixtures.write(prompt, to: "judge.txt", in: dir)
        return try Fixtures.write("""
        {"name": "judged", "task": {"type": "short-answer", "scorer": \(scorer),
           "judge": \(judge ?? #"{"model": "judge", "prompt": "judge.txt", "scale": "pass-fail"}"#)},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl",
                     "fields": {"input": "question", "target": "answer", "id": "id", "human_answer": "human", "human_grade": "grade"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "\(serverURL)", "model": "m", "endpoint": "completions"}},
                    {"id": "judge", "provider": "openai", "role": "foundation", "retry": {"max_attempts": 1},
                     "options": {"base_url": "\(serverURL)", "model": "j"},
                     "pricing": {"model": "api", "input_per_million": 1, "output_per_million": 2}}],
         "candidates": [{"model": "m", "prompt": "p"}]}
        """, to: "evalkit.json", in: dir)
    }

    @Test func theJudgeGradesAnswersIsCostedApartAndCalibratedOnHumanGrades() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.write(in: dir, serverURL: server.baseURL)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.cacheDirectory = dir + "/cache"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)

        // q1 passes; q2 fails; q3 gets no grade and q4's grading fails: both count 0.
        let results = Dictionary(uniqueKeysWithValues: try #require(outcome.summary.results.first).map { ($0.exampleID, $0) })
        #expect(results["q1"]?.score == 1 && results["q2"]?.score == 0 && results["q3"]?.score == 0 && results["q4"]?.score == 0)
        #expect(results.values.allSatisfy { $0.answered && $0.scoreParts.contains { $0.name == "judge" } })
        let metrics = try #require(outcome.summary.metrics.first)
        #expect(metrics.accuracy == 0.25 && metrics.binaryScores)

        let judge = try #require(outcome.summary.analysis.judge)
        #expect(judge.graded == 2 && judge.ungraded == 2 && judge.decides)
        // Priced at the judge model's own prices, and no part of the candidate's cost (which has no pricing).
        #expect((judge.costUSD ?? 0) > 0 && metrics.costPer1kUSD == nil)
        let calibration = try #require(judge.calibration)
        #expect(calibration.count == 11 && calibration.confusion == [[3, 1, 0], [2, 4, 1]])
        // sklearn.metrics.cohen_kappa_score(human, judge) on these eleven pairs (the ungraded one as "none") gives 0.33333333333333337.
        #expect(abs((calibration.kappa ?? 0) - 0.33333333333333337) < 1e-12)
        #expect(abs(calibration.agreement - 7.0 / 11) < 1e-12 && abs(calibration.bias - (5.0 / 11 - 7.0 / 11)) < 1e-12)
        #expect(judge.isWeak && judge.trust.hasPrefix("barely calibrated"))

        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("this verdict rests on the grades of an LLM judge (judge), barely calibrated: κ = 0.33 on only 11 human grades"))
        #expect(report.contains("LLM judge (`$.task.judge`): **judge** graded 2 answers on a pass-fail scale; 2 could not be graded"))
        #expect(report.contains("| human \\ judge | fail | pass | none |") && report.contains("| pass | 2 | 4 | 1 |"))
        let lines = try String(contentsOfFile: dir + "/run/judgements.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4 + 11)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])

        // Again: every grade the judge gave comes from the cache; the failed one is asked again.
        let judgeRequests = try server.requests().filter { $0["body"]?["model"]?.stringValue == "j" }.count
        options.outDirectory = dir + "/again"
        let again = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(again.summary.analysis.judge?.cachedCalls == 14)
        #expect(try server.requests().filter { $0["body"]?["model"]?.stringValue == "j" }.count == judgeRequests + 1)
        #expect(again.summary.metrics.first?.accuracy == 0.25)
    }

    @Test func aOneToFiveJudgeBesideAnotherScorer() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.write(in: dir, serverURL: server.baseURL, scorer: #""answer-match""#,
                                    judge: #"{"model": "judge", "prompt": "judge.txt", "scale": "1-5"}"#,
                                    prompt: "JUDGE JUDGE5\nQuestion: {{input}}\nReference: {{reference}}\nAnswer: {{answer}}")
        // The human grades of the shared data are pass/fail: on a 1-5 scale they are refused, each with its line.
        #expect { _ = try Preparation.prepare(configPath: config) } throws: { "\($0)".contains("train.jsonl:1") && "\($0)".contains("1-5 scale") }
        try Fixtures.write(#"{"id": "h0", "question": "capital?", "answer": "Oslo", "human": "Oslo", "grade": 4}"#, to: "train.jsonl", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let metrics = try #require(outcome.summary.metrics.first)
        // The score stays answer-match's exact match (no echoed answer is exactly its reference); the judge's 5 is a part.
        #expect(metrics.accuracy == 0)
        #expect(metrics.scoreParts.first { $0.name == "judge" }?.mean == 0.25)
        let judge = try #require(outcome.summary.analysis.judge)
        #expect(!judge.decides && judge.calibration?.confusion[3] == [0, 0, 0, 0, 1, 0])
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
    }

    @Test func judgeConfigProblemsNameTheirPath() throws {
        let dir = try Fixtures.temporaryDirectory()
        let url = "http://127.0.0.1:1/v1"
        #expect { _ = try Preparation.prepare(configPath: try Self.write(in: dir, serverURL: url, judge: #"{"model": "nobody", "prompt": "judge.txt"}"#)) }
            throws: { "\($0)".contains("$.task.judge.model") }
        #expect { _ = try Preparation.prepare(configPath: try Self.write(in: dir, serverURL: url, prompt: "Grade {{input}} against {{reference}}")) }
            throws: { "\($0)".contains("$.task.judge.prompt") && "\($0)".contains("{{answer}}") }
        #expect { _ = try Preparation.prepare(configPath: try Self.write(in: dir, serverURL: url, prompt: "{{answer}} {{label}}")) }
            throws: { "\($0)".contains("judge.txt:1") }
        // The judge scorer without a judge; a grade off the scale, with its file and line.
        let noJudge = try String(contentsOfFile: try Self.write(in: dir, serverURL: url), encoding: .utf8)
            .replacingOccurrences(of: #""judge": {"model": "judge", "prompt": "judge.txt", "scale": "pass-fail"}"#, with: #""labels": ["x"]"#)
        #expect { _ = try Preparation.prepare(configPath: try Fixtures.write(noJudge, to: "nojudge.json", in: dir)) }
            throws: { "\($0)".contains("$.task.judge") && "\($0)".contains("$.task.labels") }
        try Fixtures.write(#"{"id": "h0", "question": "q", "answer": "a", "human": "a", "grade": "maybe"}"#, to: "train.jsonl", in: dir)
        #expect { _ = try Preparation.prepare(configPath: try Fixtures.write(try String(contentsOfFile: dir + "/evalkit.json", encoding: .utf8), to: "e.json", in: dir)) }
            throws: { "\($0)".contains("train.jsonl:1") && "\($0)".contains("\"maybe\"") }
    }
}
