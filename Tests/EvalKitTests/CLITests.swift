import EvalKit
import Foundation
import Testing

/// The `evalkit` executable itself: exit codes, help and messages, run as a user would.
@Suite(.serialized) struct CLITests {
    struct Output { var status: Int32; var stdout: String; var stderr: String }

    /// The built `evalkit` binary, beside the test bundle in the build folder.
    static var binary: String {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathExtension != "xctest" && url.path != "/" { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().path + "/evalkit"
    }

    func run(_ arguments: [String], in directory: String = Fixtures.repositoryRoot) async throws -> Output {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build evalkit first (swift build): \(Self.binary)")
        let process = try TestProcess.evalkit(arguments, in: directory)
        let status = await process.finished()
        return Output(status: status, stdout: process.output, stderr: process.errorOutput)
    }

    @Test func helpAndVersion() async throws {
        let help = try await run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("compare [CONFIG]") && help.stdout.contains("validate [CONFIG]"))
        let version = try await run(["--version"])
        #expect(version.status == 0 && version.stdout == "evalkit \(EvalKitInfo.version)\n")
        let compareHelp = try await run(["help", "compare"])
        #expect(compareHelp.status == 0 && compareHelp.stdout.contains("--limit N"))
        #expect(try await run(["compare", "--help"]).stdout == compareHelp.stdout)
        // Usage lines are made from what each command's parser accepts: every option a command takes
        // is in its usage line, and an option its usage line shows is accepted.
        for command in ["compare", "validate", "check", "baseline", "diff", "report", "verify", "audit", "export-finetune"] {
            let text = try await run(["help", command])
            #expect(text.status == 0 && text.stdout.hasPrefix("Usage: evalkit \(command)"), "\(command)")
            let usageLine = text.stdout.split(separator: "\n").first.map(String.init) ?? ""
            for shown in usageLine.split(separator: "[").dropFirst().map({ $0.split(separator: "]").first ?? "" }) where shown.hasPrefix("--") {
                // `--name=x` for an option with a value, so the unknown option after it is parsed, not taken as its value.
                let parts = shown.split(separator: " ")
                let option = String(parts[0]) + (parts.count > 1 ? "=x" : "")
                let probe = try await run([command, option, "--nonexistent-option"])
                #expect(probe.status == 2 && probe.stderr.contains("unknown option --nonexistent-option"), "\(command) \(option): \(probe.stderr)")
            }
        }
        #expect(compareHelp.stdout.contains("[--only M1,M2]"))
    }

    @Test func badUsageExitsTwo() async throws {
        let unknown = try await run(["compair"])
        #expect(unknown.status == 2 && unknown.stderr.contains("did you mean \"compare\""))
        let badOption = try await run(["compare", "--limt", "3"])
        #expect(badOption.status == 2 && badOption.stderr.contains("unknown option --limt (did you mean --limit?)"))
        let badValue = try await run(["compare", "--limit", "0"])
        #expect(badValue.status == 2 && badValue.stderr.contains("--limit expects a positive whole number"))
        #expect(try await run(["help", "nope"]).status == 2)
    }

    @Test func validateReportsEveryProblemAndExitsTwo() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write("""
        {"name": "x", "task": {"labels": []}, "dataset": {"fields": {"input": "t", "target": "l"}},
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"model": "m"}}], "extra": 1}
        """, to: "evalkit.json", in: dir)
        let result = try await run(["validate"], in: dir)
        #expect(result.status == 2)
        for path in ["$.task.labels", "$.dataset", "$.models[0].options.base_url", "$.extra"] {
            #expect(result.stderr.contains(path), "missing \(path) in \(result.stderr)")
        }
        let good = try await run(["validate"])
        #expect(good.status == 0 && good.stdout.contains("valid"))
    }

    @Test func aConfigWithAOneCharacterNameIsReadNotATrap() async throws {
        // Foundation's deletingLastPathComponent traps on Linux for "x": `evalkit validate x` ended with SIGILL.
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(#"{"name": "x", "task": {"labels": []}}"#, to: "x", in: dir)
        let result = try await run(["validate", "x"], in: dir)
        #expect(result.status == 2 && result.stderr.contains("$.task.labels"), "\(result.status): \(result.stderr)")
        // The folder part of a path, against Foundation's answers where Foundation does not trap ("//" is "/" here).
        let expected = ["a/b": "a", "/a": "/", "ab": "", "ab/": "", "a/b/": "a", "a//b": "a", "/": "/", "": "", "/ab/cd": "/ab",
                        "./ab": ".", "../ab": "..", "ab/cd//": "ab", "x": "", "x/": "", "//": "/"]
        for (path, folder) in expected { #expect(FilePath.folder(of: path) == folder, "\(path)") }
    }

    @Test func aFIFOOrADeviceWhereAFileWasExpectedIsAnErrorNotAWait() async throws {
        // A FIFO waits for a writer and /dev/zero never ends: named as a dataset, prompt or a run folder's
        // results, each is reported as not a file instead of hanging the process or filling its memory.
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.oneModelExperiment(in: dir, model: #"{"id": "m", "provider": "builtin", "role": "fine-tuned"}"#)
        for name in ["test.jsonl", "p.txt"] {
            try FileManager.default.removeItem(atPath: dir + "/" + name)
            #expect(mkfifo(dir + "/" + name, 0o600) == 0)
        }
        try FileManager.default.removeItem(atPath: dir + "/train.jsonl")
        try FileManager.default.createSymbolicLink(atPath: dir + "/train.jsonl", withDestinationPath: "/dev/zero")
        let validate = try await bounded(["validate"], in: dir)
        #expect(validate.status == 2, "\(validate.status): \(validate.stderr)")
        for expected in ["test.jsonl", "train.jsonl", "p.txt"] {
            #expect(validate.stderr.contains(expected) && validate.stderr.contains("not a regular file"), "\(expected): \(validate.stderr)")
        }
        // A run folder whose results.jsonl is a FIFO.
        let run = try Fixtures.temporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.repositoryRoot + "/reports/twitter-sentiment/baseline", toPath: run + "/r")
        try FileManager.default.removeItem(atPath: run + "/r/results.jsonl")
        #expect(mkfifo(run + "/r/results.jsonl", 0o600) == 0)
        let report = try await bounded(["report", "r"], in: run)
        #expect(report.status != 0 && report.stderr.contains("not a regular file"), "\(report.status): \(report.stderr)")
    }

    /// `run`, stopped after 60 s: a command that waits for ever fails the test instead of hanging the suite.
    private func bounded(_ arguments: [String], in directory: String) async throws -> Output {
        let process = try TestProcess.evalkit(arguments, in: directory)
        for _ in 0..<600 where !process.hasFinished { try await Task.sleep(for: .milliseconds(100)) }
        if !process.hasFinished { Issue.record("evalkit \(arguments) still running after 60 s"); process.signal(SIGKILL) }
        let status = await process.finished()
        return Output(status: status, stdout: process.output, stderr: process.errorOutput)
    }

    @Test func validateListsConfigAndDataProblemsTogether() async throws {
        // A model without a base_url (config), two bad data lines (data) and an unknown placeholder
        // (prompt): all three kinds in one run, since the task and dataset sections are sound.
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.oneModelExperiment(in: dir, model: #"{"id": "m", "provider": "openai", "role": "foundation", "options": {"model": "m"}}"#,
                                        train: Fixtures.jsonl([("1", "a", "x"), ("2", "b", "y")]) + "{\"id\": \"4\", \"text\": \"c\"}\nnot json\n",
                                        prompt: "{{input}} {{nonsense}}")
        let result = try await run(["validate"], in: dir)
        #expect(result.status == 2)
        for expected in ["$.models[0].options.base_url", "train.jsonl:3: missing field", "train.jsonl:4: not a JSON object", "nonsense"] {
            #expect(result.stderr.contains(expected), "missing \(expected) in \(result.stderr)")
        }
    }

    @Test func compareExitsThreeWhenNoCandidateAnswers() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.oneModelExperiment(in: dir, model: """
            {"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:\(closedPort())/v1", "model": "m"}}
            """)
        let result = try await run(["compare", "--out", "run"], in: dir)
        #expect(result.status == 3)
        #expect(result.stderr.contains("was not used: unreachable"))
        #expect(FileManager.default.fileExists(atPath: dir + "/run/report.md"))
        #expect(FileManager.default.fileExists(atPath: dir + "/run/results.jsonl"))
    }

    @Test func compareRunsTheBundledExampleOffline() async throws {
        let dir = try Fixtures.temporaryDirectory()
        // The offline path: only the builtin model, no LLM server needed.
        let result = try await run(["compare", "--only", "builtin-lr", "--limit", "40", "--out", dir + "/run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("builtin-lr: accuracy"))
        #expect(result.stderr.contains("40/40 requests"))
        let summary = try String(contentsOfFile: dir + "/run/summary.csv", encoding: .utf8)
        #expect(summary.split(separator: "\n").count == 1 + 1)
        let unknown = try await run(["compare", "--only", "builtn-lr"])
        #expect(unknown.status == 2 && unknown.stderr.contains("did you mean \"builtin-lr\""))
    }

    @Test func dryRunEstimatesWithoutSendingAndVerifyChecksARun() async throws {
        let dry = try await run(["compare", "--dry-run", "--limit", "10"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("100 requests (10 test examples × 10 candidates × 1 repeats); nothing sent"))
        // Similar examples are chosen for the estimate too.
        #expect(dry.stdout.contains("| gemma-270m:raw-similar | 10 |"))
        #expect(dry.stdout.contains("| gemma-270m:raw-fewshot | 10 |"))
        #expect(dry.stdout.contains("dedicated: cost follows from measured time, not estimated"))

        let dir = try Fixtures.temporaryDirectory()
        #expect(try await run(["compare", "--only", "builtin-lr", "--limit", "30", "--out", dir + "/run"]).status == 0)
        let verified = try await run(["verify", dir + "/run"])
        #expect(verified.status == 0 && verified.stdout.contains("summary.csv, analysis.json and report.md match"))
        let csv = try String(contentsOfFile: dir + "/run/summary.csv", encoding: .utf8)
        try csv.replacingOccurrences(of: ",fine-tuned,30,30,0,", with: ",fine-tuned,30,29,1,").write(toFile: dir + "/run/summary.csv", atomically: true, encoding: .utf8)
        let tampered = try await run(["verify", dir + "/run"])
        #expect(tampered.status == 1 && tampered.stderr.contains("builtin-lr answered: summary.csv has \"29\", recomputed \"30\""))
        #expect(try await run(["verify", dir + "/nowhere"]).status == 2)
    }

    @Test func checkExitCodesJUnitAndCorruptBaselines() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let base = try GateTests.writeRun(dir, id: "base", answers: [.init(candidate: "big:p", n: 200) { _ in true }, .init(candidate: "small:p", n: 200) { _ in true }])
        let worse = try GateTests.writeRun(dir, id: "worse", answers: [.init(candidate: "big:p", n: 200) { $0 >= 40 },
                                                                       .init(candidate: "small:p", n: 200, latency: 400) { _ in true }])
        let same = try await run(["check", base, "--baseline", base])
        #expect(same.status == 0 && same.stdout.contains("PASS: 6 checks"))

        let failed = try await run(["check", worse, "--baseline", base, "--junit", dir + "/junit.xml", "--markdown", dir + "/summary.md"])
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        #expect(failed.stdout.contains("FAIL: 2 of 6 checks"))
        // A JUnit reader (Python's xml module) sees six cases and two failures carrying the numbers.
        let reader = try TestProcess("/usr/bin/env", ["python3", "-c", """
        import sys, xml.etree.ElementTree as ET
        root = ET.parse(sys.argv[1]).getroot()
        cases = root.findall('.//testcase'); failures = root.findall('.//failure')
        print(len(cases), len(failures), root.get('failures'), '|'.join(f.get('message') for f in failures))
        """, dir + "/junit.xml"])
        _ = await reader.finished()
        let parsed = reader.output
        #expect(parsed.hasPrefix("6 2 2 "), "\(parsed)")
        #expect(parsed.contains("accuracy: baseline 100.0%, now 80.0% -20.0 pts"))
        #expect(parsed.contains("latency: baseline 103.00 ms, now 403.00 ms"))
        let markdown = try String(contentsOfFile: dir + "/summary.md", encoding: .utf8)
        #expect(markdown.contains("❌ regression") && markdown.contains("### Regressions"))

        // Flags override the config's thresholds.
        #expect(try await run(["check", worse, "--baseline", base, "--max-accuracy-drop", "0.5", "--max-latency-ratio", "10"]).status == 0)

        // A corrupted or mismatched baseline: exit 2 with a message naming the file.
        try "candidate,oops\n\"unterminated".write(toFile: base + "/summary.csv", atomically: true, encoding: .utf8)
        let corrupt = try await run(["check", worse, "--baseline", base])
        #expect(corrupt.status == 2 && corrupt.stderr.contains("the baseline cannot be read: \(base)/summary.csv is unreadable"))
        let both = try await run(["check", worse, "--baseline", base, "--against-ref", "HEAD"])
        #expect(both.status == 2 && both.stderr.contains("exclude each other"))
        let notARepository = try await run(["check", worse, "--against-ref", "HEAD"])
        #expect(notARepository.status == 2 && notARepository.stderr.contains("cannot read the baseline's experiment from git"), "\(notARepository.stderr)")
        let missing = try await run(["check", worse, "--baseline", dir + "/nothing-here"])
        #expect(missing.status == 2 && missing.stderr.contains("is missing"))
        let other = try GateTests.writeRun(dir, id: "other", answers: [])
        var config = try String(contentsOfFile: other + "/config.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"name\": \"gate\"", with: "\"name\": \"another\"")
        try config.write(toFile: other + "/config.json", atomically: true, encoding: .utf8)
        let mismatched = try await run(["check", worse, "--baseline", other])
        #expect(mismatched.status == 2 && mismatched.stderr.contains("the baseline does not match this run: it is for experiment \"another\""))
    }

    /// Everything that shapes a prompt is the same in every process: the similar examples of step 2
    /// are chosen by scores summed in a fixed order, so near-ties break the same way each time.
    @Test func similarExamplesAreTheSameInEveryProcess() async throws {
        let dir = try Fixtures.temporaryDirectory()
        // Short texts over a few shared words: many training examples score within rounding of each other.
        let words = ["delay", "flight", "crew", "seat", "bag", "gate", "late", "good", "bad", "ok"]
        var train: [(String, String, String)] = [], test: [(String, String, String)] = []
        var random = SeededRandom(seed: 11)
        func text() -> String { (0..<4).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ") }
        for i in 0..<300 { train.append(("r\(i)", text(), ["negative", "neutral", "positive"][i % 3])) }
        for i in 0..<60 { test.append(("t\(i)", text(), "neutral")) }
        try Fixtures.write(Fixtures.jsonl(train), to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl(test), to: "test.jsonl", in: dir)
        try Fixtures.write("{{examples}}\n{{input}}", to: "p.txt", in: dir)
        // The worker answers with the prompt it was sent, so results.jsonl shows every prompt.
        try Fixtures.write("""
        import json, sys
        for line in sys.stdin:
            r = json.loads(line)
            print(json.dumps({"id": r["id"], "output": r["prompt"]}), flush=True)
        """, to: "echo.py", in: dir)
        try Fixtures.write("""
        {"name": "similar", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt", "examples": {"kind": "similar", "k": 6, "balanced": true}}],
         "models": [{"id": "echo", "provider": "command", "role": "small", "options": {"argv": ["python3", "echo.py"]}}]}
        """, to: "evalkit.json", in: dir)
        var prompts: [[String]] = []
        for attempt in 0..<4 {
            let out = try await run(["compare", "--no-cache", "--out", "run\(attempt)"], in: dir)
            #expect(out.status == 0, "\(out.stderr)")
            let results = try ResultsJournal.read(path: dir + "/run\(attempt)/results.jsonl")
            prompts.append(results.sorted { $0.exampleID < $1.exampleID }.map { $0.output ?? "" })
        }
        #expect(prompts[0].count == 60)
        #expect(prompts.allSatisfy { $0 == prompts[0] })
    }

    /// A run killed in the middle of writing a line resumes: the torn line is cut, not a reason to refuse.
    @Test func resumeCutsATornLastLine() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(Fixtures.jsonl((0..<6).map { ("t\($0)", ["I love it", "I hate it", "a thing"][$0 % 3], ["positive", "negative", "neutral"][$0 % 3]) }),
                           to: "test.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("r", "fine", "neutral")]), to: "train.jsonl", in: dir)
        try Fixtures.write("{{input}}", to: "p.txt", in: dir)
        try Fixtures.write("""
        {"name": "torn", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "w", "provider": "command", "role": "small", "options": {"argv": ["python3", "\(Fixtures.repositoryRoot)/scripts/example-worker.py"]}}]}
        """, to: "evalkit.json", in: dir)
        #expect(try await run(["compare", "--no-cache", "--out", "run"], in: dir).status == 0)
        // Keep three whole lines and half of the fourth, as a kill during a write leaves them.
        let journal = dir + "/run/results.jsonl"
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n")
        try (lines.prefix(3).joined(separator: "\n") + "\n" + lines[3].prefix(25)).write(toFile: journal, atomically: true, encoding: .utf8)
        let resumed = try await run(["compare", "--resume", "run"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let results = try ResultsJournal.read(path: journal)
        #expect(results.count == 6 && Set(results.map(\.exampleID)).count == 6)
    }

    /// The committed baselines are what CI gates on: every file of each must still be what its results give.
    @Test(arguments: ["twitter-sentiment", "us-addresses", "twitter-sentiment-data-efficiency"]) func theCommittedBaselineMatchesItsRecomputation(example: String) async throws {
        #expect(try RunVerifier.verify(runDirectory: Fixtures.repositoryRoot + "/reports/\(example)/baseline") == [])
    }
}
