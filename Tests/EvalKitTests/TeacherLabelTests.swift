import Foundation
import Testing
@testable import EvalKit

/// Distilled labels: `export-finetune --labels-from RUN_DIR:CANDIDATE` labels the training split with a
/// teacher candidate's answers from an earlier run over it.
struct TeacherLabelTests {
    /// A teacher run over the training split on the fake server (keyword answers): tr3's gold label is not
    /// what the teacher answers, and tr4's request fails.
    static func teacherRun(in dir: String, url: String) async throws -> (config: String, run: String) {
        let train = [("tr0", "I love it", "positive"), ("tr1", "I hate it", "negative"), ("tr2", "a plain day", "neutral"),
                     ("tr3", "I love it again", "negative"), ("tr4", "FAIL500 me", "neutral")]
        try Fixtures.write(Fixtures.jsonl(train), to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("t0", "I love that", "positive")]), to: "test.jsonl", in: dir)
        try Fixtures.write("Tweet: {{input}}\nSentiment:", to: "p.txt", in: dir)
        func config(test: String) -> String {
            """
            {"name": "teach", "task": {"labels": ["negative", "neutral", "positive"]},
             "dataset": {"train": "train.jsonl", "test": "\(test)", "fields": {"input": "text", "target": "label", "id": "id"}},
             "prompts": [{"id": "p", "user": "p.txt"}],
             "models": [{"id": "big", "provider": "openai", "role": "foundation", "retry": {"max_attempts": 1},
                         "options": {"base_url": "\(url)", "model": "m"}}],
             "run": {"repeats": 2}}
            """
        }
        let labelling = try Fixtures.write(config(test: "train.jsonl"), to: "label-train.json", in: dir)
        let experiment = try Fixtures.write(config(test: "test.jsonl"), to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/teacher"
        options.probeCapacity = false
        _ = try await CompareRun.run(try Preparation.prepare(configPath: labelling), options: options)
        return (experiment, dir + "/teacher")
    }

    @Test func theTrainingSplitTakesTheTeachersConfidentAnswers() async throws {
        let server = try await FakeLLMServer()
        defer { Task { await server.stop() } }
        let dir = try Fixtures.temporaryDirectory()
        let (config, run) = try await Self.teacherRun(in: dir, url: server.baseURL)
        let teacher = try TeacherLabels.read(try TeacherLabels.Source(run + ":big:p"))
        #expect(teacher.labels["tr3"] == TeacherLabels.Label(answer: "positive", agreeing: 2, answered: 2, probability: nil))
        #expect(teacher.labels["tr4"] == nil)

        let prepared = try Preparation.prepare(configPath: config)
        let summary = try FineTuneExport.write(prepared, promptID: "p", fixes: AuditFixes(), directory: dir + "/export", teacher: teacher)
        let relabelled = try #require(summary.teacher)
        #expect(summary.examples == 4 && relabelled.unanswered == 1 && relabelled.notConfident == 0 && relabelled.agreeingWithGold == 3)
        let completions = try String(contentsOfFile: summary.promptCompletionFile, encoding: .utf8).split(separator: "\n")
            .map { try JSON.parse(String($0))["completion"]?.stringValue ?? "" }
        #expect(completions == [" positive", " negative", " neutral", " positive"])
        let records = try String(contentsOfFile: try #require(summary.teacherFile), encoding: .utf8).split(separator: "\n").map { try JSON.parse(String($0)) }
        #expect(records.count == 4 && records[3]["id"]?.stringValue == "tr3" && records[3]["gold"]?.stringValue == "negative"
                && records[3]["teacher"]?.stringValue == "positive" && records[3]["agreeing_repeats"]?.countValue == 2)

        // Without label likelihoods nothing reaches a probability floor: every example is left out.
        let strict = try TeacherLabels.read(try TeacherLabels.Source(run + ":big:p", minProbability: 0.5))
        #expect(strict.relabel(prepared.dataset.train).notConfident == 4)
        // A teacher run over another split answered none of the training examples: said, not written empty.
        var options = CompareOptions()
        options.outDirectory = dir + "/test-run"
        options.probeCapacity = false
        _ = try await CompareRun.run(prepared, options: options)
        let elsewhere = try TeacherLabels.read(try TeacherLabels.Source(dir + "/test-run:big:p"))
        #expect { _ = try FineTuneExport.write(prepared, promptID: "p", fixes: AuditFixes(), directory: dir + "/none", teacher: elsewhere) }
            throws: { "\($0)".contains("answered none of the training examples") }
        #expect { _ = try TeacherLabels.read(try TeacherLabels.Source(run + ":big:q")) } throws: { "\($0)".contains("has no candidate \"big:q\"") && "\($0)".contains("big:p") }
        #expect { _ = try TeacherLabels.Source("no-candidate") } throws: { "\($0)".contains("RUN_DIR:CANDIDATE") }
    }
}
