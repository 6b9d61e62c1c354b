import EvalKit
import Foundation
import Testing

/// Step 2 (similar examples) and step 4 (audit, training controls, diagnosis, export) on data
/// whose findings are known in advance, and the audit of the bundled corpus.
@Suite(.serialized) struct DataQualityAndSimilarityTests {
    func example(_ id: String, _ text: String, _ label: String, confidence: Double? = nil, split: String = "train") -> Example {
        Example(id: id, input: text, target: label, confidence: confidence, location: "\(split).jsonl:\(id)")
    }

    @Test func auditFindsEachPlantedProblem() throws {
        let train = [
            example("1", "I love this phone", "positive"), example("2", "I love this phone", "positive"),           // exact duplicate
            example("3", "RT @bob: Great flight!! http://t.co/x", "positive"), example("4", "great flight", "positive"), // near duplicate
            example("5", "the service was ok", "neutral"), example("6", "The service was OK.", "negative"),          // conflicting labels
            example("7", "caf\u{FFFD} closed", "negative"), example("8", "cars_Ս\u{0581}_ are here today friends", "neutral"), // mojibake
            example("9", "   ", "neutral"),                                                                          // empty
            example("10", String(repeating: "long ", count: 300), "neutral"),                                        // overly long
            example("11", "meh", "neutral", confidence: 0.34), example("12", "fine", "neutral", confidence: 0.9),
            example("13", "unique words here", "negative"), example("14", "more words", "negative"),
        ]
        let test = [example("t1", "I LOVE this phone!", "positive", split: "test"), example("t2", "nothing shared", "negative", split: "test")]
        let validation = [example("v1", "the service was ok", "neutral", split: "validation")]
        let audit = DataAuditor.audit(Dataset(train: train, validation: validation, test: test), labels: ["negative", "neutral", "positive"])
        #expect(audit.finding("duplicates-exact")?.count == 1)
        // Rows 3 and 4, and rows 5 and 6 (which also disagree on the label).
        #expect(audit.finding("duplicates-near")?.count == 2)
        #expect(audit.finding("conflicting-labels")?.examples.first?.contains("train.jsonl:5") == true)
        #expect(audit.finding("leakage-test")?.count == 1)
        #expect(audit.finding("leakage-test")?.severity == .critical)
        #expect(audit.finding("leakage-validation")?.count == 1)
        #expect(audit.finding("mojibake")?.count == 2)
        #expect(audit.finding("empty")?.count == 1)
        #expect(audit.finding("overly-long")?.count == 1)
        #expect(audit.finding("low-confidence")?.count == 1)
        #expect(audit.critical.map(\.id) == ["leakage-test"])
        #expect(audit.findings.first?.id == "leakage-test")
        #expect(audit.findings.allSatisfy { !$0.remedy.isEmpty })

        let fixed = DataAuditor.fixedTraining(Dataset(train: train, validation: validation, test: test),
                                              fixes: AuditFixes(dropDuplicates: true, dropConflicts: true, dropLeaked: true))
        #expect(!fixed.contains { $0.id == "1" || $0.id == "2" })      // leaked into test
        #expect(!fixed.contains { $0.id == "5" || $0.id == "6" })      // conflicting (and leaked into validation)
        #expect(fixed.filter { $0.id == "3" || $0.id == "4" }.count == 1)
        let clean = DataAuditor.audit(Dataset(train: [example("a", "one", "neutral"), example("b", "two", "negative"), example("c", "three", "positive")],
                                              validation: [], test: [example("x", "four", "neutral")]), labels: ["negative", "neutral", "positive"])
        #expect(clean.findings.isEmpty)
    }

    @Test func theBundledCorpusShowsItsRealProblems() throws {
        let prepared = try Preparation.prepare(configPath: Fixtures.repositoryRoot + "/evalkit.json")
        let audit = DataAuditor.audit(prepared.dataset, labels: prepared.experiment.task.labels)
        #expect((audit.finding("duplicates-exact")?.count ?? 0) > 10)
        #expect((audit.finding("mojibake")?.count ?? 0) > 100)
        #expect((audit.finding("low-confidence")?.count ?? 0) > 100)
        #expect(audit.finding("leakage-test") != nil)
        #expect(audit.trainingTokens > 50_000)
    }

    @Test func diagnosisOnCurvesWhoseFitIsKnown() {
        let validation: [Double] = [0.9, 0.8, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
        let overfit = (1...8).map { (e: Int) -> TrainingPoint in
            TrainingPoint(step: Double(e), trainLoss: 1.0 / Double(e), validationLoss: validation[e - 1])
        }
        let o = TrainingDiagnoser.diagnose(overfit)
        #expect(o.fit == .overfitting && o.evidence.contains("at epoch 3") && o.remedy.contains("stop at epoch 3"))
        let gap = [TrainingPoint(step: 1, trainLoss: 0.5, validationLoss: 0.6, trainAccuracy: 0.9, validationAccuracy: 0.85),
                   TrainingPoint(step: 2, trainLoss: 0.3, validationLoss: 0.59, trainAccuracy: 0.99, validationAccuracy: 0.8)]
        #expect(TrainingDiagnoser.diagnose(gap).fit == .overfitting)
        let under = (1...5).map { (e: Int) -> TrainingPoint in
            let x = Double(e)
            return TrainingPoint(step: x, trainLoss: 2.0 - 0.2 * x, validationLoss: 2.1 - 0.2 * x, trainAccuracy: 0.3 + 0.05 * x)
        }
        let u = TrainingDiagnoser.diagnose(under)
        #expect(u.fit == .underfitting && u.remedy.contains("more epochs"))
        let good = (1...6).map { (e: Int) -> TrainingPoint in
            let decay = 0.5 / Double(e * e * e)
            return TrainingPoint(step: Double(e), trainLoss: 0.5 + decay, validationLoss: 0.55 + decay)
        }
        #expect(TrainingDiagnoser.diagnose(good).fit == .goodFit)
        #expect(TrainingDiagnoser.diagnose([TrainingPoint(step: 1, trainLoss: 1)]).fit == .unknown)
    }

    @Test func outsideTrainingLogsAreReadAndDiagnosed() throws {
        let dir = try Fixtures.temporaryDirectory()
        // OpenAI's result file: validation columns only on some rows.
        var csv = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
        for step in 1...30 {
            let valid = step % 5 == 0 ? "\(0.3 + abs(Double(step) - 10) * 0.02),0.8" : ","
            csv += "\(step),\(1.0 / Double(step)),\(0.5 + Double(step) / 70),\(valid)\n"
        }
        let openai = try Fixtures.write(csv, to: "step_metrics.csv", in: dir)
        let points = try TrainingLogReader.read(openai).points
        #expect(points.count == 30)
        #expect(points.filter { $0.validationLoss != nil }.count == 6)
        let d = TrainingDiagnoser.diagnose(points, unit: "step")
        #expect(d.fit == .overfitting && d.evidence.contains("step 10"))

        let state = """
        {"best_metric": 1.3, "best_model_checkpoint": "out/checkpoints/checkpoint-40", "log_history": [
          {"epoch": 0.5, "step": 10, "loss": 2.1, "learning_rate": 0.0002},
          {"epoch": 1.0, "step": 20, "loss": 1.5},
          {"epoch": 1.0, "step": 20, "eval_loss": 1.6, "eval_accuracy": 0.5},
          {"epoch": 1.5, "step": 30, "loss": 1.2},
          {"epoch": 2.0, "step": 40, "loss": 0.9},
          {"epoch": 2.0, "step": 40, "eval_loss": 1.3, "eval_accuracy": 0.6},
          {"train_runtime": 100.0, "step": 40}
        ]}
        """
        let hf = try Fixtures.write(state, to: "trainer_state.json", in: dir)
        let hfLog = try TrainingLogReader.read(hf)
        let hfPoints = hfLog.points
        #expect(hfPoints.map(\.step) == [10, 20, 30, 40])
        // The trainer's own summary entry gives the measured time, not a point; the kept checkpoint is step 40.
        #expect(hfLog.runtimeSeconds == 100 && hfLog.keptStep == 40)
        #expect(hfPoints.compactMap(\.validationLoss) == [1.6, 1.3])
        #expect(TrainingDiagnoser.diagnose(hfPoints, unit: "step").fit == .underfitting)
        #expect(throws: TrainingLogError.self) { try TrainingLogReader.read(try Fixtures.write("{}", to: "bad.json", in: dir)) }
    }

    @Test func trainingControlsEarlyStoppingAndAccumulation() {
        // Validation labels are the opposite of training labels: validation loss rises from the first epoch.
        let train = (0..<80).map { i in Example(id: "\(i)", input: i % 2 == 0 ? "sunny bright \(i)" : "rainy grey \(i)", target: i % 2 == 0 ? "pos" : "neg") }
        let flipped = (0..<20).map { i in Example(id: "v\(i)", input: i % 2 == 0 ? "sunny bright" : "rainy grey", target: i % 2 == 0 ? "neg" : "pos") }
        var settings = BuiltinSettings()
        settings.epochs = 12
        settings.hashBits = 12
        settings.patience = 2
        let stopped = TextClassifier.train(labels: ["neg", "pos"], train: train, validation: flipped, settings: settings)
        #expect(stopped.stoppedEarly)
        #expect(stopped.bestEpoch == 1)
        #expect(stopped.history.count == 3)

        // Two accumulated mini-batches of 8 make the same updates as one batch of 16.
        var accumulated = BuiltinSettings(), plain = BuiltinSettings()
        accumulated.hashBits = 12; plain.hashBits = 12
        accumulated.batchSize = 8; accumulated.gradientAccumulation = 2
        plain.batchSize = 16
        let a = TextClassifier.train(labels: ["neg", "pos"], train: train, validation: [], settings: accumulated)
        let b = TextClassifier.train(labels: ["neg", "pos"], train: train, validation: [], settings: plain)
        #expect(a.predict("sunny day").probabilities == b.predict("sunny day").probabilities)
        #expect(a.history.map(\.trainLoss) == b.history.map(\.trainLoss))
        // And accumulation is not ignored: batches of 8 without it take twice the steps and end elsewhere.
        var small = BuiltinSettings()
        small.hashBits = 12; small.batchSize = 8
        let c = TextClassifier.train(labels: ["neg", "pos"], train: train, validation: [], settings: small)
        #expect(c.predict("sunny day").probabilities != a.predict("sunny day").probabilities)
    }

    @Test func similarExamplesAreTheNearestNeverTheInputItselfAndCanBeBalanced() {
        let train = [example("1", "the flight was delayed again", "negative"), example("2", "flight delayed for hours", "negative"),
                     example("3", "the weather is mild", "neutral"), example("4", "thanks for the upgrade", "positive"),
                     example("5", "The flight was delayed again!", "negative"), example("6", "a delayed flight and lost bags", "negative")]
        let index = SimilarityIndex.tfidf(train)
        let chosen = index.select(for: "the flight was delayed again", k: 2, balanced: false, labels: ["negative", "neutral", "positive"])
        #expect(chosen.count == 2)
        #expect(!chosen.contains { Text.comparisonKey($0.input) == "the flight was delayed again" })
        #expect(chosen.allSatisfy { $0.input.contains("delayed") })
        let balanced = index.select(for: "delayed flight", k: 3, balanced: true, labels: ["negative", "neutral", "positive"])
        #expect(Set(balanced.map(\.target)) == ["negative", "neutral", "positive"])
        let dense = SimilarityIndex.dense(train, vectors: [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [1, 0], [0.8, 0.2]])
        #expect(dense.select(for: "query", k: 1, balanced: false, labels: [], vector: [0, 2]).map(\.id) == ["3"])
    }

    @Test func embeddingsFromAServerArePooledAndCachedOnDisk() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let client = EmbeddingsClient(settings: EmbeddingsSettings(baseURL: server.baseURL, model: "per-token"))
        let vectors = try await client.embed(["ab", "b b"])
        // One vector per word, mean-pooled; answers came back in reverse order with their index.
        #expect(vectors[0][0] == 1 && vectors[0][1] == 1)
        #expect(vectors[1][0] == 0 && vectors[1][1] == 1)

        try Fixtures.write(Fixtures.jsonl([("a", "I love flying", "positive"), ("b", "I hate delays", "negative"), ("c", "plain words", "neutral")]),
                           to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("x", "love love", "positive"), ("y", "hate it", "negative")]), to: "test.jsonl", in: dir)
        try Fixtures.write("{{examples}}\nText: {{input}}\nSentiment:", to: "p.txt", in: dir)
        let config = try Fixtures.write("""
        {"name": "sim", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [
           {"id": "static", "user": "p.txt", "examples": {"kind": "first", "k": 1}, "example_template": "Text: {{input}} = {{label}}"},
           {"id": "dynamic", "user": "p.txt", "example_template": "Text: {{input}} = {{label}}",
            "examples": {"kind": "similar", "k": 1, "similarity": "embeddings", "embeddings": {"base_url": "\(server.baseURL)", "model": "letters"}}},
           {"id": "tfidf", "user": "p.txt", "example_template": "Text: {{input}} = {{label}}", "examples": {"kind": "similar", "k": 1}}
         ],
         "models": [{"id": "api", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "m"}}]}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let requests = try server.requests()
        let prompts = requests.compactMap { $0["body"]?["messages"]?.arrayValue?.last?["content"]?.stringValue }
        #expect(prompts.contains { $0.hasPrefix("Text: I love flying = positive\nText: love love") })
        #expect(prompts.contains { $0.hasPrefix("Text: I hate delays = negative\nText: hate it") })
        let embeddingCalls = requests.filter { $0["path"]?.stringValue == "/v1/embeddings" }.count
        #expect(embeddingCalls == 3) // the test call above, the training split, the test inputs
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("| api:dynamic | embeddings letters, k = 1 |"))
        #expect(report.contains("| api:tfidf | TF-IDF, k = 1 |"))

        // A second run finds every vector on disk and asks the endpoint for none.
        options.outDirectory = dir + "/run2"
        options.cacheMode = .off
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(try server.requests().filter { $0["path"]?.stringValue == "/v1/embeddings" }.count == embeddingCalls)
    }

    @Test func exportFinetuneWritesBothFormatsAfterTheFixes() throws {
        let prepared = try Preparation.prepare(configPath: Fixtures.repositoryRoot + "/evalkit.json")
        let dir = try Fixtures.temporaryDirectory()
        let all = try FineTuneExport.write(prepared, promptID: "plain", fixes: AuditFixes(), directory: dir + "/all")
        #expect(all.examples == prepared.dataset.train.count && all.removed == 0)
        let fixed = try FineTuneExport.write(prepared, promptID: "plain", fixes: AuditFixes(dropDuplicates: true, dropConflicts: true, dropLeaked: true),
                                             directory: dir + "/fixed")
        #expect(fixed.removed > 20)
        let chat = try String(contentsOfFile: fixed.chatFile, encoding: .utf8).split(separator: "\n")
        #expect(chat.count == fixed.examples)
        let first = try JSON.parse(String(chat[0]))
        let roles = first["messages"]?.arrayValue?.compactMap { $0["role"]?.stringValue }
        #expect(roles == ["system", "user", "assistant"])
        #expect(prepared.experiment.task.labels.contains(first["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""))
        let pc = try JSON.parse(String(try String(contentsOfFile: fixed.promptCompletionFile, encoding: .utf8).split(separator: "\n")[0]))
        #expect(pc["prompt"]?.stringValue?.hasSuffix("Sentiment:") == true && pc["completion"]?.stringValue?.hasPrefix(" ") == true)
        #expect(fixed.tokens > 10_000)
        // The validation split, untouched by the fixes, is written beside it for evaluation during training.
        #expect(fixed.validationExamples == prepared.dataset.validation.count)
        let validation = try String(contentsOfFile: dir + "/fixed/prompt-completion-validation.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(validation.count == prepared.dataset.validation.count)
        let v0 = try JSON.parse(String(validation[0]))
        #expect(v0["completion"]?.stringValue == " " + prepared.dataset.validation[0].target)
        #expect(v0["prompt"]?.stringValue?.contains(prepared.dataset.validation[0].input) == true)
        #expect(throws: FineTuneExport.ExportError.self) { try FineTuneExport.write(prepared, promptID: "nope", fixes: AuditFixes(), directory: dir) }
    }
}
