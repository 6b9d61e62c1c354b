import Foundation
import Testing
@testable import EvalKit

/// Step 4 in depth: outside fine-tunes declared with `training` — their data-efficiency curve, PEFT methods
/// compared on the same data, a distilled student against its teacher and the gold-trained model — and
/// workers that answer with next-token log-probabilities (likelihood scoring through `command`).
@Suite(.serialized) struct FineTuneComparisonTests {
    /// A worker that answers from a JSON file of input → label: generated text, or (likelihood scoring) top
    /// log-probabilities with that label's token far ahead; `"top": {...}` in the file answers every
    /// likelihood request with those log-probabilities, `"no_top": true` with no log-probabilities at all.
    static let worker = """
    import json, sys
    answers = json.load(open(sys.argv[1]))
    for line in sys.stdin:
        r = json.loads(line)
        label = answers.get(r["input"], "")
        if r.get("scoring") == "likelihood":
            if answers.get("no_top"):
                reply = {"id": r["id"], "output": label}
            else:
                top = answers.get("top") or {" " + l: (-0.1 if l == label else -4.0) for l in r["labels"]}
                reply = {"id": r["id"], "top_logprobs": top, "usage": {"input_tokens": 5, "output_tokens": 1}}
        else:
            reply = {"id": r["id"], "output": label}
        sys.stdout.write(json.dumps(reply) + "\\n")
        sys.stdout.flush()
    """

    static func target(_ i: Int) -> String { i % 2 == 0 ? "positive" : "negative" }

    /// Answers right on every example of the 20 but those in `wrong`.
    static func answers(wrong: Set<Int>) -> String {
        let members = (0..<20).map { i in "\"text \(i)\": \"\(wrong.contains(i) ? (target(i) == "positive" ? "negative" : "positive") : target(i))\"" }
        return "{" + members.joined(separator: ", ") + "}"
    }

    @Test func aWorkersLogProbabilitiesAreReadAsAnOpenAICompatibleServersAre() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let script = try Fixtures.write(Self.worker, to: "worker.py", in: dir)
        // " ne" starts "negative" and "neutral": it tells them apart not at all and counts for neither.
        let file = try Fixtures.write(#"{"top": {" pos": -1.2039728043259361, " Positive": -1.6094379124341003, " neg": -2.3025850929940455, " ne": -1.0498221244986778}}"#,
                                      to: "answers.json", in: dir)
        var settings = CommandSettings(argv: ["python3", script, file], timeoutSeconds: 30, generation: GenerationSettings())
        settings.scoring = .likelihood
        let provider = CommandProvider(settings: settings, modelID: "w", workingDirectory: dir)
        try await provider.start()
        let request = ModelRequest(prompt: RenderedPrompt(system: nil, user: "Text: x\nSentiment:"), input: "x", id: "w/x/0",
                                   labels: ["negative", "neutral", "positive"])
        let answer = try await provider.complete(request)
        #expect(answer.text == "positive")
        // Log-probabilities of 0.3, 0.2, 0.1 and 0.35; positive gets 0.3 + 0.2, neutral the floor (the least
        // likely token's less one). Expected shares from Python:
        // w = [exp(log(.1)), exp(log(.1) - 1), exp(log(.5))]; [x / sum(w) for x in w]
        let p = try #require(answer.labelProbabilities)
        #expect(abs((p["negative"] ?? 0) - 0.1570381489219964) < 1e-9)
        #expect(abs((p["neutral"] ?? 0) - 0.05777110646802178) < 1e-9)
        #expect(abs((p["positive"] ?? 0) - 0.7851907446099818) < 1e-9)
        await provider.stop()

        // A worker that answers text where log-probabilities were asked for: a failed call that says so.
        let plain = try Fixtures.write(#"{"no_top": true, "x": "positive"}"#, to: "plain.json", in: dir)
        var plainSettings = settings
        plainSettings.argv = ["python3", script, plain]
        let second = CommandProvider(settings: plainSettings, modelID: "w", workingDirectory: dir)
        try await second.start()
        do {
            _ = try await second.complete(request)
            Issue.record("expected a failed call")
        } catch {
            #expect(error.description.contains("top_logprobs"))
        }
        await second.stop()
    }

    @Test func declaredFineTunesAreComparedByMethodAndDistilledStudentsAgainstTeacherAndGold() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(Self.worker, to: "worker.py", in: dir)
        try Fixtures.write(Fixtures.jsonl((0..<20).map { ("t\($0)", "text \($0)", Self.target($0)) }), to: "test.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl((0..<40).map { ("tr\($0)", "train \($0)", Self.target($0)) }), to: "train.jsonl", in: dir)
        try Fixtures.write("Text: {{input}}\nSentiment:", to: "p.txt", in: dir)
        // Right and wrong by design (targets alternate positive, negative):
        let wrong: [String: Set<Int>] = ["teacher": [0, 1, 2, 3], "lora-8": [0, 5], "lora-32": [0], "ia3-32": [0, 1, 2, 3, 4, 5, 6], "student-32": [0, 1, 2]]
        for (name, set) in wrong { try Fixtures.write(Self.answers(wrong: set), to: "\(name).json", in: dir) }
        let adapter = String(repeating: "a", count: 1234)
        try Fixtures.write(adapter, to: "a32.bin", in: dir)
        try Fixtures.write(String(repeating: "c", count: 100), to: "ia3/adapter_config.json", in: dir)
        try Fixtures.write(String(repeating: "w", count: 900), to: "ia3/adapter_model.safetensors", in: dir)
        try Fixtures.write(#"{"log_history": [{"loss": 0.9, "step": 1, "epoch": 0.5}, {"eval_loss": 0.8, "step": 1, "epoch": 0.5}, {"train_runtime": 36.0, "step": 2}], "best_model_checkpoint": "x/checkpoint-1"}"#,
                           to: "state32.json", in: dir)
        func model(_ name: String, role: String = "fine-tuned", likelihood: Bool = true, extra: String = "") -> String {
            #"{"id": "\#(name)", "provider": "command", "role": "\#(role)", "options": {"argv": ["python3", "worker.py", "\#(name).json"\#(name == "lora-32" ? #", "a32.bin""# : "")]\#(likelihood ? #", "scoring": "likelihood""# : "")}, "pricing": {"model": "dedicated", "per_hour": 1}\#(extra)}"#
        }
        let config = try Fixtures.write("""
        {"name": "fine-tunes", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [\(model("teacher", role: "foundation", likelihood: false)),
                    \(model("lora-8", extra: #", "training": {"method": "LoRA r=16", "examples": 8}"#)),
                    \(model("lora-32", extra: #", "training_log": "state32.json", "training": {"method": "LoRA r=16", "examples": 32, "trainable_parameters": 4884480, "adapter": "a32.bin"}"#)),
                    \(model("ia3-32", extra: #", "files": ["worker.py", "ia3-32.json", "ia3/adapter_config.json", "ia3/adapter_model.safetensors"], "training": {"method": "IA3", "examples": 32, "adapter": "ia3"}"#)),
                    \(model("student-32", extra: #", "training": {"method": "LoRA r=16", "examples": 32, "labels_from": "teacher:p"}"#))],
         "candidates": [{"model": "teacher", "prompt": "p"}, {"model": "lora-8", "prompt": "p"}, {"model": "lora-32", "prompt": "p"},
                        {"model": "ia3-32", "prompt": "p"}, {"model": "student-32", "prompt": "p"}],
         "decision": {"reference": "teacher:p", "margin": 0.05, "label_cost_usd": 0.25}}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.probeCapacity = false
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let analysis = outcome.summary.analysis
        #expect(outcome.summary.metrics.map(\.errors) == [0, 0, 0, 0, 0])

        // One curve: the gold-labelled LoRA adapters at 8 and 32 examples (IA3 and the student train differently).
        #expect(analysis.dataEfficiency.count == 1)
        let curve = try #require(analysis.dataEfficiency.first)
        #expect(curve.method == "LoRA r=16" && curve.teacher == nil && curve.points.map(\.candidate) == ["lora-8:p", "lora-32:p"])
        #expect(curve.name == "LoRA r=16 (command) with prompt p")

        let f = try #require(analysis.fineTunes)
        #expect(f.rows.map(\.candidate) == ["lora-8:p", "lora-32:p", "ia3-32:p", "student-32:p"])
        let lora32 = try #require(f.rows.first { $0.candidate == "lora-32:p" })
        #expect(lora32.adapterBytes == 1234 && lora32.trainableParameters == 4_884_480 && lora32.trainingSeconds == 36)
        #expect(abs(lora32.oneTimeCostUSD - 0.01) < 1e-12, "36 s at $1 an hour")
        #expect(lora32.accuracy == 0.95)
        #expect(f.rows.first { $0.candidate == "ia3-32:p" }?.adapterBytes == 1000, "the folder's two files")
        #expect(f.rows.first { $0.candidate == "lora-8:p" }?.adapterBytes == nil, "no adapter declared")

        // IA3 against LoRA on the same 32 examples: LoRA right where IA3 is wrong on 6 examples (1 to 6), never
        // the other way: exact McNemar p = 2 × 0.5^6 = 0.03125 (by hand), the only comparison of its family.
        #expect(f.methodComparisons.count == 1)
        let method = try #require(f.methodComparisons.first)
        #expect(Set([method.candidate, method.reference]) == ["lora-32:p", "ia3-32:p"])
        #expect(method.candidateBetter + method.referenceBetter == 6 && min(method.candidateBetter, method.referenceBetter) == 0)
        #expect(abs(method.pValue - 0.03125) < 1e-12 && abs(method.pValueHolm - 0.03125) < 1e-12)
        #expect(abs(abs(method.difference) - 0.30) < 1e-12)

        // The student (wrong on 0, 1, 2) against its teacher (wrong on 0 to 3): 1 discordant pair, p = 1;
        // against the gold-trained LoRA at 32 (wrong on 0): 2 discordant pairs, p = 2 × 0.25 = 0.5.
        // Holm over the two: 0.5 × 2 = 1 and max(1, 1 × 1) = 1.
        let d = try #require(f.distillations.first)
        #expect(f.distillations.count == 1 && d.student == "student-32:p" && d.teacher == "teacher:p" && d.goldTrained == "lora-32:p")
        #expect(d.againstTeacher?.candidateBetter == 1 && d.againstTeacher?.referenceBetter == 0 && d.againstTeacher?.pValue == 1)
        #expect(d.againstGold?.candidateBetter == 0 && d.againstGold?.referenceBetter == 2 && abs((d.againstGold?.pValue ?? 0) - 0.5) < 1e-12)
        #expect(d.againstGold?.pValueHolm == 1 && d.againstTeacher?.pValueHolm == 1)

        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("### Fine-tunes compared"))
        #expect(report.contains("| ia3-32:p | IA3 | 32 | gold | – |"))
        #expect(report.contains("| student-32:p | LoRA r=16 | 32 | from teacher:p |"))
        #expect(report.contains("| lora-32:p | LoRA r=16 | 32 | gold | 4,884,480 | 36 s | $0.0100 | 1.2 kB | 95.0% |"))
        #expect(report.contains("**Methods on the same data**") && report.contains("lora-32:p has the higher accuracy"))
        #expect(report.contains("**Distilled labels**: **student-32:p** learnt from the answers of **teacher:p**"))
        #expect(report.contains("scored by label likelihood"), "the appendix says how the worker's answers were read")
        let json = try JSON.parse(String(contentsOfFile: dir + "/run/analysis.json", encoding: .utf8))
        #expect(abs((json["fine_tunes"]?["method_comparisons"]?.arrayValue?.first?["p"]?.numberValue ?? 0) - 0.03125) < 1e-12)
        #expect(json["data_efficiency"]?.arrayValue?.first?["method"]?.stringValue == "LoRA r=16")
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
        // Re-rendered from the folder (adapter sizes from run.json's fingerprints), the comparison is the same.
        let again = try RunFolderCommands.summary(of: dir + "/run")
        #expect(again.analysis.fineTunes == analysis.fineTunes)
    }

    @Test func aTrainingDeclarationIsCheckedWithItsPath() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.writeSplitsAndPrompt([("a", "x", "positive"), ("b", "y", "negative")], in: dir)
        let config = """
        {"name": "bad", "task": {"labels": ["negative", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "x"}},
                    {"id": "s", "provider": "openai", "role": "fine-tuned", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "x"},
                     "training": {"method": "LoRA", "examples": 0, "labels_from": "m:q", "size": 3}},
                    {"id": "t", "provider": "openai", "role": "fine-tuned", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "x"},
                     "training": {"examples": 10, "trainable_parameters": -1}},
                    {"id": "b", "provider": "builtin", "role": "fine-tuned", "training": {"method": "mine", "examples": 4}}],
         "candidates": [{"model": "m", "prompt": "p"}, {"model": "s", "prompt": "p"}, {"model": "t", "prompt": "p"}, {"model": "b"}]}
        """
        let path = try Fixtures.write(config, to: "evalkit.json", in: dir)
        do {
            _ = try ExperimentLoader.load(path: path)
            Issue.record("expected the config to be rejected")
        } catch {
            guard case .invalid(_, let issues) = error else { Issue.record("unexpected \(error)"); return }
            let paths = Set(issues.map(\.path))
            for expected in ["$.models[1].training.examples", "$.models[1].training.size", "$.models[2].training.method",
                             "$.models[2].training.trainable_parameters", "$.models[3].training"] {
                #expect(paths.contains(expected), "\(expected) in \(paths.sorted())")
            }
            // labels_from is checked once the declaration reads (examples 0 stops it here): a second config.
        }
        let teacherless = config.replacingOccurrences(of: #""examples": 0, "labels_from": "m:q", "size": 3"#, with: #""examples": 5, "labels_from": "m:q""#)
            .replacingOccurrences(of: #""training": {"examples": 10, "trainable_parameters": -1}"#, with: #""training": {"method": "IA3", "examples": 10}"#)
            .replacingOccurrences(of: #", "training": {"method": "mine", "examples": 4}"#, with: "")
        try Fixtures.write(teacherless, to: "evalkit.json", in: dir)
        do {
            _ = try ExperimentLoader.load(path: path)
            Issue.record("expected the config to be rejected")
        } catch {
            guard case .invalid(_, let issues) = error else { Issue.record("unexpected \(error)"); return }
            let issue = try #require(issues.first { $0.path == "$.models[1].training.labels_from" })
            #expect(issues.count == 1 && issue.description.contains("\"m:q\"") && issue.description.contains("did you mean \"m:p\""))
        }
        // Nor may a model learn from its own answers.
        try Fixtures.write(teacherless.replacingOccurrences(of: #""labels_from": "m:q""#, with: #""labels_from": "s:p""#), to: "evalkit.json", in: dir)
        #expect { _ = try ExperimentLoader.load(path: path) } throws: { "\($0)".contains("$.models[1].training.labels_from") && "\($0)".contains("its own answers") }
    }
}
