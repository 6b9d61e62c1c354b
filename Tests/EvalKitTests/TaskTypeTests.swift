import EvalKit
import Foundation
import Testing

/// Extraction, short-answer and generation tasks: their scorers against independent implementations,
/// their targets and config checked with file, line and JSON path, and a whole run of each.
@Suite struct TaskTypeTests {
    static func example(_ target: String, _ alternatives: [String] = []) -> Example {
        Example(id: "x", input: "", target: target, alternatives: alternatives)
    }

    // Expected values from the SQuAD functions shipped in transformers 4.46.3
    // (transformers/data/metrics/squad_metrics.py: normalize_answer, compute_exact, compute_f1, max over references).
    @Test func squadExactMatchAndTokenF1MatchTheOfficialNormalisation() {
        let cases: [(references: [String], prediction: String, normalized: String, exact: Double, f1: Double)] = [
            (["Denver Broncos"], "the Denver Broncos!", "denver broncos", 1, 1),
            (["Santa Clara, California", "Levi's Stadium"], "Levi's Stadium in Santa Clara", "levis stadium in santa clara", 0, 0.5714285714285715),
            (["an apple a day"], "Apple", "apple", 0, 0.6666666666666666),
            (["1,000"], "1000", "1000", 1, 1),
            (["¿the answer"], "answer", "answer", 0, 0.6666666666666666),
            (["Über café"], "über cafe", "über cafe", 0, 0.5),
            (["the"], "", "", 1, 1),
            (["Paris"], "Paris is the capital of France", "paris is capital of france", 0, 0.33333333333333337),
            (["a b a"], "a b b a c", "b b c", 0, 0.5),
            (["New York City"], "york new city", "york new city", 0, 1),
        ]
        for c in cases {
            #expect(TextMetrics.squadNormalized(c.prediction) == c.normalized, "\(c.prediction)")
            #expect(TextMetrics.exactMatch(c.prediction, references: c.references) == c.exact, "\(c.prediction)")
            #expect(abs(TextMetrics.tokenF1(c.prediction, references: c.references) - c.f1) < 1e-12, "\(c.prediction)")
        }
    }

    // Expected values from sacrebleu 2.6.0 (sacrebleu.sentence_chrf(hyp, refs).score / 100) and rouge-score 0.1.2
    // (RougeScorer(["rougeL"]).score_multi(refs, hyp)["rougeL"].fmeasure).
    @Test func chrFAndRougeLMatchSacreBLEUAndRougeScore() {
        let cases: [(references: [String], hypothesis: String, chrF: Double, rougeL: Double)] = [
            (["The cat sat on the mat."], "The cat is on the mat.", 0.6458166836671698, 0.8333333333333334),
            (["A quick brown fox jumps over the lazy dog"], "quick brown dogs jump over lazy foxes", 0.4780194080154863, 0.5),
            (["Invoice total: 1,234.50 EUR", "Total due 1234.50 euros"], "The total due is 1234.50 euros.", 0.7460197238934234, 0.8333333333333333),
            (["Hello"], "hello", 0.5433333333333333, 1),
            (["Straße in München"], "Strasse in Muenchen", 0.4118906086484817, 0.25),
            (["short"], "a much longer hypothesis that rambles on and on", 0.08474576271186439, 0),
            (["ab"], "a", 0.5555555555555556, 0),
        ]
        for c in cases {
            #expect(abs(TextMetrics.chrF(c.hypothesis, references: c.references) - c.chrF) < 1e-12, "\(c.hypothesis)")
            #expect(abs(TextMetrics.rougeL(c.hypothesis, references: c.references) - c.rougeL) < 1e-12, "\(c.hypothesis)")
        }
    }

    @Test func extractionScoresFieldsAfterTheStatedNormalisation() throws {
        let target = #"{"invoice": "INV-001", "total": "1,234.50", "customer": {"name": "ACME Corp"}, "currency": "EUR", "note": null}"#
        var options = FieldMatchOptions()
        let scorer = options.makeScorer(ScorerContext(labels: [], parsing: LabelParsing()))
        let output = """
        Sure! Here it is:
        ```json
        {"invoice": "inv-001", "total": 1234.5, "customer": {"name": "Acme   corp"}, "currency": "Euro", "date": "2024-01-02"}
        ```
        """
        // By hand: invoice (case), total (number format) and customer.name (case, whitespace) right; currency
        // wrong; date extra. Precision 3/5, recall 3/4, F1 2·0.6·0.75/1.35.
        let score = scorer.score(output: output, example: Self.example(target))
        func part(_ s: Score, _ name: String) -> Double? { s.parts.first { $0.name == name }?.value }
        #expect(score.value == 0 && part(score, "exact_match") == 0 && part(score, "valid_json") == 1)
        #expect(part(score, "field_precision") == 0.6 && part(score, "field_recall") == 0.75)
        #expect(abs((part(score, "field_f1") ?? 0) - 2 * 0.6 * 0.75 / 1.35) < 1e-15)
        #expect(part(score, "field.invoice") == 1 && part(score, "field.total") == 1 && part(score, "field.customer.name") == 1)
        #expect(part(score, "field.currency") == 0 && part(score, "field.note") == nil)

        // Per-field synonyms, F1 as the score, and the exact match once nothing is extra.
        let (read, issues) = FieldMatchOptions.read(options: try JSON.parse(#"{"primary": "field_f1", "synonyms": {"currency": {"euro": "EUR", "€": "EUR"}}}"#),
                                                    path: "$.task.scorer", task: TaskSpec(labels: [], parsing: LabelParsing(), type: .extraction))
        #expect(issues.isEmpty)
        options = try #require(read)
        let withSynonyms = options.makeScorer(ScorerContext(labels: [], parsing: LabelParsing()))
        let exact = withSynonyms.score(output: #"{"invoice": "INV-001", "total": "1234.50", "customer": {"name": "acme corp"}, "currency": "€"}"#,
                                       example: Self.example(target))
        #expect(exact.value == 1 && part(exact, "exact_match") == 1 && exact.answer != nil)
        #expect(!options.isBinary && options.scoreName == "field F1")

        // No JSON object at all: invalid, every field wrong; a thousand opening braces cost a bounded scan.
        let none = scorer.score(output: "I could not find it {" + String(repeating: "{", count: 100_000), example: Self.example(target))
        #expect(none.answer == nil && none.value == 0 && part(none, "valid_json") == 0 && part(none, "field.total") == 0)
    }

    @Test func aSchemaIsCheckedAsConfigAndAgainstTargetsAndAnswers() throws {
        let dir = try Fixtures.temporaryDirectory()
        _ = try Fixtures.write(#"""
        {"id": "1", "text": "Invoice INV-1 over 12 EUR", "fields": {"invoice": "INV-1", "total": 12}}
        {"id": "2", "text": "Invoice INV-2", "fields": {"invoice": "INV-2", "total": "twelve"}}
        {"id": "3", "text": "Invoice INV-3", "fields": "positive"}
        """#, to: "data.jsonl", in: dir)
        _ = try Fixtures.write("Extract {{schema}} from: {{input}}\nJSON:", to: "p.txt", in: dir)
        func config(_ schema: String, prompt: String = "p.txt") throws -> String {
            try Fixtures.write("""
            {"name": "invoices", "task": {"type": "extraction", "schema": \(schema)},
             "dataset": {"train": "data.jsonl", "test": "data.jsonl", "fields": {"input": "text", "target": "fields"}},
             "prompts": [{"id": "p", "user": "\(prompt)"}],
             "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}]}
            """, to: "evalkit.json", in: dir)
        }
        // A schema evalkit cannot check is refused with its JSON path, never ignored.
        #expect { _ = try Preparation.prepare(configPath: try config(#"{"type": "objekt", "properties": {"total": {"type": "number", "minimum": 0}}}"#)) }
            throws: { "\($0)".contains("$.task.schema.type") && "\($0)".contains("$.task.schema.properties.total.minimum") }
        // Targets that break the schema or are not objects: file, line and what was expected.
        let schema = #"{"type": "object", "properties": {"invoice": {"type": "string"}, "total": {"type": "number"}}, "required": ["invoice"]}"#
        #expect { _ = try Preparation.prepare(configPath: try config(schema)) } throws: { error in
            let text = "\(error)"
            return text.contains("data.jsonl:2") && text.contains("fields.total: expected number") && text.contains("data.jsonl:3")
                && text.contains("expected a JSON object (the fields to extract)")
        }
        // Label placeholders belong to classification; {schema} to extraction with a schema.
        _ = try Fixtures.write("Labels: {{labels}} {{input}}", to: "labels.txt", in: dir)
        _ = try Fixtures.write(#"{"id": "1", "text": "Invoice INV-1", "fields": {"invoice": "INV-1", "total": 12}}"#, to: "data.jsonl", in: dir)
        #expect { _ = try Preparation.prepare(configPath: try config(schema, prompt: "labels.txt")) } throws: { "\($0)".contains("labels.txt:1") }
        let prepared = try Preparation.prepare(configPath: try config(schema))
        #expect(prepared.experiment.task.type == .extraction && prepared.dataset.test.first?.target == #"{"invoice":"INV-1","total":12}"#)

        // A label task's fields are not an extraction's: labels, parse and label-only models are refused by path.
        let wrong = try Fixtures.write("""
        {"name": "x", "task": {"type": "short-answer", "labels": ["a"], "scorer": "fields"},
         "dataset": {"train": "data.jsonl", "test": "data.jsonl", "fields": {"input": "text", "target": "fields"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "clf", "provider": "builtin", "role": "fine-tuned"}]}
        """, to: "wrong.json", in: dir)
        #expect { _ = try Preparation.prepare(configPath: wrong) } throws: { error in
            let text = "\(error)"
            return text.contains("$.task.labels") && text.contains("$.task.scorer") && text.contains("$.models[0]")
        }
    }

    /// An extraction run end to end through the fake server, which echoes the prompt's input line back.
    @Test func anExtractionRunScoresReportsAndVerifies() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        // Echoed, each input's JSON is the answer: right for even ids, a wrong total for odd ones.
        let rows = (0..<8).map { i -> String in
            let target = JSON.object([("name", .string("Person \(i)")), ("total", .number(Double(i * 10)))])
            let answer = JSON.object([("name", .string("person \(i)")), ("total", .string(i % 2 == 0 ? "\(i * 10).0" : "999"))])
            return JSON.object([("id", .string("e\(i)")), ("text", .string("ECHO " + answer.encoded())), ("fields", target)]).encoded()
        }
        _ = try Fixtures.write(rows.joined(separator: "\n"), to: "data.jsonl", in: dir)
        _ = try Fixtures.write("{{input}}\nJSON:", to: "echo.txt", in: dir)
        _ = try Fixtures.write("{{input}}\n{\"name\": \"nobody\"}\nJSON:", to: "wrong.txt", in: dir)
        let config = try Fixtures.write("""
        {"name": "people", "task": {"type": "extraction"},
         "dataset": {"train": "data.jsonl", "test": "data.jsonl", "fields": {"input": "text", "target": "fields"}},
         "prompts": [{"id": "echo", "user": "echo.txt"}, {"id": "wrong", "user": "wrong.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "m", "endpoint": "completions"}}],
         "decision": {"reference": "m:echo"}}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let echo = try #require(outcome.summary.metrics.first { $0.candidate == "m:echo" })
        #expect(echo.accuracy == 0.5 && echo.binaryScores)
        #expect(echo.scoreParts.first { $0.name == "field.name" }?.mean == 1)
        #expect(echo.scoreParts.first { $0.name == "field.total" }?.mean == 0.5)
        #expect(echo.scoreParts.first { $0.name == "valid_json" }?.mean == 1)
        let wrong = try #require(outcome.summary.metrics.first { $0.candidate == "m:wrong" })
        #expect(wrong.accuracy == 0 && wrong.scoreParts.first { $0.name == "field_recall" }?.mean == 0)
        #expect(wrong.macroF1 == nil)
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("| candidate | answer read by | exact match |"))
        #expect(report.contains("| field.total | 50.0% | 0.0% |") && report.contains("| valid_json | 100.0% | 100.0% |"))
        #expect(!report.contains("Per-label precision"))
        let analysis = try JSON.parse(String(contentsOfFile: dir + "/run/analysis.json", encoding: .utf8))
        #expect(analysis["candidates"]?.arrayValue?.first?["score_parts"]?.arrayValue?.isEmpty == false)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])

        // The gate passes the run against itself and refuses a baseline scored another way.
        let folder = try RunFolder.load(dir + "/run")
        #expect(try RegressionCheck.check(current: folder, baseline: folder, policy: CheckPolicy()).passed)
        options.outDirectory = dir + "/f1"
        let f1Config = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: #""type": "extraction"}"#, with: #""type": "extraction", "scorer": {"type": "fields", "primary": "field_f1"}}"#)
        _ = try await CompareRun.run(try Preparation.prepare(configPath: try Fixtures.write(f1Config, to: "f1.json", in: dir)), options: options)
        #expect { try RegressionCheck.check(current: try RunFolder.load(dir + "/f1"), baseline: folder, policy: CheckPolicy()) }
            throws: { "\($0)".contains("exact match") && "\($0)".contains("field-level F1") }

        // Fine-tuning data: the completion is the target object's JSON.
        let export = try FineTuneExport.write(try Preparation.prepare(configPath: config), promptID: "echo", fixes: AuditFixes(), directory: dir + "/export")
        let first = try JSON.parse(String(try String(contentsOfFile: export.promptCompletionFile, encoding: .utf8).split(separator: "\n")[0]))
        #expect(first["completion"]?.stringValue == #" {"name":"Person 0","total":0}"#)
    }

    /// Short-answer and generation runs: several accepted answers, non-binary scores through the paired
    /// resampling methods.
    @Test func shortAnswerAndGenerationRunsScoreAgainstEveryReference() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let rows = [
            #"{"id": "q1", "question": "ECHO The Eiffel Tower", "answers": ["Eiffel Tower", "the tower"]}"#,
            #"{"id": "q2", "question": "ECHO Paris, France", "answers": ["Paris"]}"#,
            #"{"id": "q3", "question": "ECHO 1,000", "answers": ["1000"]}"#,
            #"{"id": "q4", "question": "ECHO nothing like it", "answers": ["London"]}"#,
        ]
        _ = try Fixtures.write(rows.joined(separator: "\n"), to: "qa.jsonl", in: dir)
        _ = try Fixtures.write("{{input}}\nAnswer:", to: "p.txt", in: dir)
        func config(_ type: String, _ scorer: String) throws -> String {
            try Fixtures.write("""
            {"name": "qa", "task": {"type": "\(type)", "scorer": \(scorer)},
             "dataset": {"train": "qa.jsonl", "test": "qa.jsonl", "fields": {"input": "question", "target": "answers"}},
             "prompts": [{"id": "p", "user": "p.txt"}],
             "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "m", "endpoint": "completions"}}]}
            """, to: "\(type).json", in: dir)
        }
        var options = CompareOptions()
        options.outDirectory = dir + "/short"
        let short = try await CompareRun.run(try Preparation.prepare(configPath: try config("short-answer", #"{"type": "answer-match", "primary": "token_f1"}"#)), options: options)
        // The echoed line is "ECHO …": token F1 by SQuAD's rules against the best reference, computed by hand:
        // q1 "echo eiffel tower" vs "eiffel tower" 2·(2/3·1)/(5/3) = 0.8; q2 "echo paris france" vs "paris" 0.5;
        // q3 "echo 1000" vs "1000" 2/3; q4 0.
        let m = try #require(short.summary.metrics.first)
        #expect(!m.binaryScores && abs((m.accuracy ?? 0) - (0.8 + 0.5 + 2.0 / 3.0) / 4) < 1e-6)
        #expect(m.scoreParts.first { $0.name == "exact_match" }?.mean == 0)
        #expect(try RunVerifier.verify(runDirectory: dir + "/short") == [])

        options.outDirectory = dir + "/generation"
        let generation = try await CompareRun.run(try Preparation.prepare(configPath: try config("generation", #""overlap""#)), options: options)
        let g = try #require(generation.summary.metrics.first)
        let expected = [("ECHO The Eiffel Tower", ["Eiffel Tower", "the tower"]), ("ECHO Paris, France", ["Paris"]),
                        ("ECHO 1,000", ["1000"]), ("ECHO nothing like it", ["London"])]
            .map { TextMetrics.chrF($0.0, references: $0.1) }.reduce(0, +) / 4
        #expect(abs((g.accuracy ?? 0) - expected) < 1e-5)
        let report = try String(contentsOfFile: dir + "/generation/report.md", encoding: .utf8)
        #expect(report.contains("| candidate | answer read by | chrF |") && report.contains("| rouge_l |"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/generation") == [])
    }
}
