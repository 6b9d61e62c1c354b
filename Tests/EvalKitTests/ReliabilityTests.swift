import EvalKit
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// Runs through a fault-injecting server: retries, resume after SIGKILL, interrupts, the cache,
/// secrets and hostile text.
@Suite(.serialized) struct ReliabilityTests {
    static let words = ["I love this", "I hate that", "a plain day", "great news", "awful service", "the bus came"]

    /// A config with one prompted model at `url`, `n` test examples, and the given run settings.
    static func writeExperiment(in dir: String, url: String, n: Int, keyEnv: String? = nil, promptID: String = "p",
                                run: String = "{}", inputs: ((Int) -> String)? = nil) throws -> String {
        try Fixtures.write(Fixtures.jsonl((0..<12).map { ("tr\($0)", words[$0 % 6], ["positive", "negative", "neutral"][$0 % 3]) }),
                           to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl((0..<n).map { i in
            (String(format: "t%04d", i), inputs?(i) ?? "\(words[i % 6]) #\(i)", ["positive", "negative", "neutral", "positive", "negative", "neutral"][i % 6])
        }), to: "test.jsonl", in: dir)
        try Fixtures.write("Tweet: {{input}}\nSentiment:", to: "p.txt", in: dir)
        let key = keyEnv.map { ", \"api_key_env\": \"\($0)\"" } ?? ""
        return try Fixtures.write("""
        {"name": "faults", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [{"id": \(JSON.string(promptID).encoded()), "user": "p.txt"}],
         "models": [{"id": "api", "provider": "openai", "role": "foundation",
                     "options": {"base_url": "\(url)", "model": "m", "timeout_seconds": 2.5\(key)},
                     "retry": {"max_attempts": 4, "base_delay_seconds": 0.05, "max_delay_seconds": 0.2},
                     "pricing": {"input_per_million": 1, "output_per_million": 1}, "concurrency": 6}],
         "run": \(run)}
        """, to: "evalkit.json", in: dir)
    }

    /// What must be the same between two runs of the same requests: everything but timing.
    static func outcomes(_ path: String, server: String) throws -> [String] {
        try ResultsJournal.read(path: path).map { r in
            [r.candidate, r.exampleID, String(r.repeatIndex), r.output ?? "-", r.label ?? "-", String(r.correct),
             (r.error ?? "-").replacingOccurrences(of: server, with: "<server>")].joined(separator: "|")
        }.sorted()
    }

    func runCLI(_ arguments: [String], in directory: String) async throws -> (Int32, String) {
        let process = try TestProcess.evalkit(arguments, in: directory)
        let status = await process.finished()
        return (status, process.errorOutput)
    }

    func lineCount(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func everyRequestEndsWithAnAnswerOrARecordedErrorWithinTheRetryPolicy() async throws {
        let server = try await FakeLLMServer(script: "fault_server.py")
        let dir = try Fixtures.temporaryDirectory()
        // About a fifth of the requests fail for good (kinds 0 and 5): more than 10% fails the run.
        let config = try Self.writeExperiment(in: dir, url: server.baseURL, n: 120, run: "{\"max_error_rate\": 0.1}")
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        options.cacheMode = .off
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.count == 120)
        #expect(Set(results.map(\.exampleID)).count == 120)
        #expect(results.allSatisfy { ($0.output != nil) != ($0.error != nil) })

        let log = try server.requests()
        let byPrompt = Dictionary(grouping: log, by: { $0["prompt_sha"]?.stringValue ?? "" })
        #expect(byPrompt.count == 120)
        // Each result's attempts are exactly the requests the server received for its prompt. The fewest a
        // fault allows: 500s and malformed bodies use every attempt; a 429, a hang or a reset costs one
        // more, two 503s two more. On a loaded machine an answer may also pass the 2.5 s timeout once.
        let resultsByID = Dictionary(results.map { ($0.exampleID, $0) }, uniquingKeysWith: { a, _ in a })
        for i in 0..<120 {
            let sha = SHA256.hex("Tweet: \(Self.words[i % 6]) #\(i)\nSentiment:")
            let requests = byPrompt[sha] ?? []
            let kind = Int(requests.first?["kind"]?.numberValue ?? -1)
            let count = requests.count
            let result = try #require(resultsByID[String(format: "t%04d", i)])
            #expect(count == result.attempts, "t\(i): the server saw \(count) requests, the result says \(result.attempts)")
            #expect(count <= 4, "a request was sent \(count) times")
            let fewest = [0: 4, 1: 2, 2: 3, 3: 2, 4: 2, 5: 4][kind] ?? 1
            #expect(count >= fewest, "t\(i), kind \(kind): \(count) requests")
            if kind == 0 || kind == 5 { #expect(!result.answered) } else if count < 4 { #expect(result.answered) }
        }
        let kinds = byPrompt.values.map { Int($0[0]["kind"]?.numberValue ?? -1) }
        let expectedErrors = kinds.filter { $0 == 0 || $0 == 5 }.count
        #expect(results.filter { !$0.answered }.count == expectedErrors)
        #expect(results.filter { $0.error?.contains("HTTP 500") == true }.allSatisfy { $0.attempts == 4 })
        // A malformed body is retried like a 5xx, and each failed attempt's kind is listed with the error.
        // On a loaded machine an attempt may pass the 2.5 s timeout instead, so a kind is either.
        let malformed = results.filter { $0.error?.contains("unusable answer") == true }
        #expect(malformed.count == kinds.filter { $0 == 5 }.count, "\(results.compactMap(\.error).filter { !$0.contains("HTTP 500") })")
        for result in malformed {
            let error = result.error ?? ""
            #expect(error.contains("not JSON") || error.contains("(timeout)"), "\(error)")
            let listed = error.range(of: "(attempts: ").map { error[$0.upperBound...].dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
            #expect(listed.count == 4 && listed.allSatisfy { $0 == "unusable answer" || $0 == "timeout" }, "\(error)")
        }
        #expect(outcome.summary.metrics[0].attempts == log.count)
        #expect(outcome.failed)
        let failure = try #require(outcome.summary.runFailure)
        #expect(failure.contains("of 120 requests failed") && failure.contains("$.run.max_error_rate"))
        #expect(try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8).contains("**Run failed:**"))
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
    }

    @Test func aRunKilledHalfwayAndResumedEndsWithTheSameResults() async throws {
        let dir = try Fixtures.temporaryDirectory()
        // The uninterrupted run, on its own server.
        // Answers take 0.1 s, so with 6 in flight the 90 requests take well over a second and the kill
        // after 30 results comes before the end on any machine.
        let first = try await FakeLLMServer(script: "fault_server.py", arguments: ["0.1"])
        let config = try Self.writeExperiment(in: dir, url: first.baseURL, n: 90)
        #expect(try await runCLI(["compare", "--no-cache", "--out", "whole"], in: dir).0 == 0)
        let whole = try Self.outcomes(dir + "/whole/results.jsonl", server: first.baseURL)

        // The same run on a fresh server, SIGKILLed once about a third is done, then resumed.
        let second = try await FakeLLMServer(script: "fault_server.py", arguments: ["0.1"])
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: first.baseURL, with: second.baseURL)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try TestProcess.evalkit(["compare", "--no-cache", "--out", "killed"], in: dir, discardOutput: true)
        await eventually { lineCount(dir + "/killed/results.jsonl") >= 30 }
        process.signal(SIGKILL)
        _ = await process.finished()
        let before = lineCount(dir + "/killed/results.jsonl")
        #expect(before >= 30 && before < 90, "killed after \(before) results")

        let (status, stderr) = try await runCLI(["compare", "--resume", "killed", "--no-cache"], in: dir)
        #expect(status == 0, "\(stderr)")
        let resumed = try Self.outcomes(dir + "/killed/results.jsonl", server: second.baseURL)
        #expect(resumed.count == 90)
        #expect(resumed == whole)
        // Finished requests were not sent again: at most the ones in flight at the kill (6) were repeated.
        let sent = try second.requests().count
        let needed = try first.requests().count
        #expect(sent <= needed + 6 * 4, "sent \(sent), an uninterrupted run needs \(needed)")
        // run.json counts what both processes sent, the requests in flight at the kill included: never
        // fewer than the server received, and at most the 6 in flight more (noted, then killed unsent).
        let manifest = try JSON.parse(String(contentsOfFile: dir + "/killed/run.json", encoding: .utf8))
        let counted = try #require(manifest["requests_sent"]?["total"]?.countValue)
        #expect(counted >= sent && counted <= sent + 6, "run.json counts \(counted) requests sent, the server received \(sent)")
        let unrecorded = try #require(manifest["requests_sent"]?["unrecorded"]?.countValue)
        let recorded = try ResultsJournal.read(path: dir + "/killed/results.jsonl").reduce(0) { $0 + $1.attempts }
        #expect(unrecorded == counted - recorded)
        let mismatches = try RunVerifier.verify(runDirectory: dir + "/killed")
        #expect(mismatches == [], "\(mismatches)")
    }

    @Test func aTornLastLineIsDroppedOnResume() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir + "/results.jsonl"
        let good = ExampleResult(candidate: "c", model: "m", prompt: nil, exampleID: "1", target: "a", output: "a", label: "a", correct: true, latencyMs: 1)
        try (good.json.encoded() + "\n" + String(good.json.encoded().prefix(40))).write(toFile: path, atomically: true, encoding: .utf8)
        let recovered = try ResultsJournal.recover(path: path)
        #expect(recovered == [good])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == good.json.encoded() + "\n")
        try ("garbage\n" + good.json.encoded() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ReportError.self) { try ResultsJournal.recover(path: path) }
    }

    @Test func sigintStopsCleanlyWritesReportsAndTheRunResumes() async throws {
        let server = try await FakeLLMServer(script: "fault_server.py", arguments: ["0.05"])
        let dir = try Fixtures.temporaryDirectory()
        _ = try Self.writeExperiment(in: dir, url: server.baseURL, n: 60)
        let process = try TestProcess.evalkit(["compare", "--no-cache", "--out", "run", "--concurrency", "1"], in: dir)
        await eventually { lineCount(dir + "/run/results.jsonl") >= 5 }
        process.signal(SIGINT)
        let interrupted = await process.finished()
        let stderr = process.errorOutput
        #expect(interrupted == 3, "\(stderr)")
        #expect(stderr.contains("Resume with:") && stderr.contains("evalkit compare --resume run"))
        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        #expect(report.contains("Stopped early") && report.contains("interrupted by SIGINT"))
        let partial = lineCount(dir + "/run/results.jsonl")
        #expect(partial < 60)
        let (status, resumeErr) = try await runCLI(["compare", "--resume", "run", "--no-cache"], in: dir)
        #expect(status == 0, "\(resumeErr)")
        #expect(lineCount(dir + "/run/results.jsonl") == 60)
        #expect(try !String(contentsOfFile: dir + "/run/report.md", encoding: .utf8).contains("Stopped early"))
    }

    @Test func aCachedRerunSendsNoRequest() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, url: server.baseURL, n: 30)
        var options = CompareOptions()
        options.outDirectory = dir + "/first"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let sent = try server.requests().count
        #expect(sent == 30)
        #expect(FileManager.default.fileExists(atPath: dir + "/.evalkit/cache"))

        options.outDirectory = dir + "/second"
        let again = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(try server.requests().count == sent)
        let first = try ResultsJournal.read(path: dir + "/first/results.jsonl")
        let second = try ResultsJournal.read(path: dir + "/second/results.jsonl")
        #expect(second.allSatisfy { $0.cached && $0.attempts == 0 })
        // Cached answers keep the latency first measured.
        #expect(Dictionary(uniqueKeysWithValues: first.map { ($0.exampleID, $0.latencyMs) })
                == Dictionary(uniqueKeysWithValues: second.map { ($0.exampleID, $0.latencyMs) }))
        #expect(again.summary.metrics[0].cachedAnswers == 30)
        #expect(try String(contentsOfFile: dir + "/second/report.md", encoding: .utf8).contains("30 of 30 answers came from the response cache"))

        options.outDirectory = dir + "/refresh"
        options.cacheMode = .refresh
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(try server.requests().count == 2 * sent)

        // Entries cut short (a crash while writing) or emptied read as misses: asked again and rewritten.
        let entries = (FileManager.default.enumerator(atPath: dir + "/.evalkit/cache")?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".json") }.sorted().map { dir + "/.evalkit/cache/" + $0 }
        #expect(entries.count == 30)
        for (i, entry) in entries.prefix(4).enumerated() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: entry))
            try bytes.prefix(i == 0 ? 0 : bytes.count - i).write(to: URL(fileURLWithPath: entry))
        }
        options.outDirectory = dir + "/repaired"
        options.cacheMode = .use
        let repaired = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(try server.requests().count == 2 * sent + 4)
        #expect(repaired.summary.metrics[0].cachedAnswers == 26 && repaired.summary.metrics[0].errors == 0)

        // With every answer cached, the model is not needed at all: the run works with the server gone.
        await server.stop()
        options.outDirectory = dir + "/offline"
        let offline = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(!offline.failed && offline.summary.metrics[0].cachedAnswers == 30 && offline.summary.metrics[0].errors == 0)
    }

    @Test func secretsAppearInNoFileARunWrites() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        setenv("EVALKIT_SECRET_FOR_TEST", "sk-bad-key", 1)
        defer { unsetenv("EVALKIT_SECRET_FOR_TEST") }
        // One input makes the server quote the key back inside a normal answer.
        let config = try Self.writeExperiment(in: dir, url: server.baseURL, n: 5, keyEnv: "EVALKIT_SECRET_FOR_TEST",
                                              inputs: { $0 == 2 ? "ECHOKEY please" : "\(Self.words[$0 % 6]) #\($0)" })
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        let outcome = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        // The server rejects the key and quotes it back; evalkit names the variable, not the value.
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.allSatisfy { $0.error?.contains("the API key from environment variable EVALKIT_SECRET_FOR_TEST was rejected") == true })
        #expect(results.allSatisfy { $0.attempts == 1 })
        #expect(outcome.failed)
        // A good key, so the cache is written too.
        setenv("EVALKIT_SECRET_FOR_TEST", "sk-good-secret-value-42", 1)
        options.outDirectory = dir + "/run2"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        #expect(try server.requests().contains { $0["authorization"]?.stringValue == "Bearer sk-good-secret-value-42" })
        #expect(try ResultsJournal.read(path: dir + "/run2/results.jsonl").contains { $0.output == "you sent Bearer [redacted]" })
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: dir)
        while let file = enumerator?.nextObject() as? String { files.append(dir + "/" + file) }
        #expect(files.contains { $0.contains(".evalkit/cache/") })
        for file in files where !FileManager.default.fileExists(atPath: file + "/.") {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            #expect(!text.contains("sk-bad-key") && !text.contains("sk-good-secret-value-42"), "secret in \(file)")
        }
    }

    @Test func hostileTextIsEscapedInEveryOutput() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        let hostile = ["ECHO <script>alert(1)</script> | pipe", "ECHO =HYPERLINK(\"http://x\") @SUM(A1) +1 -2", "ECHO <img src=x onerror=alert(1)> & \"q\"",
                       "ECHO line\nbreak ``` fence ![x](https://evil.example/t.png) [click](javascript:alert(1))",
                       "ECHO ]]> <!-- --> \u{202E}gnp.exe\u{200B}"]
        // Ids with markup are refused by name; one with a formula start and an ampersand is escaped where it appears.
        let refused = try Self.writeExperiment(in: dir, url: server.baseURL, n: 5, promptID: "p<b>", inputs: { hostile[$0] })
        #expect { _ = try Preparation.prepare(configPath: refused) } throws: { "\($0)".contains("$.prompts[0].id: expected an id") && "\($0)".contains("U+3C") }
        let config = try Self.writeExperiment(in: dir, url: server.baseURL, n: 5, promptID: "=p&x", inputs: { hostile[$0] })
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(results.contains { $0.output?.contains("<script>") == true })

        let report = try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8)
        for needle in ["<script", "<img", "<!-- -->", "![x](", "[click](", "\u{202E}", "\u{200B}"] { #expect(!report.contains(needle), "\(needle) in report.md") }
        #expect(report.contains("⟨U+202E⟩"))
        // Every table row has as many unescaped cell separators as its header.
        var columns: Int? = nil
        for line in report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            guard line.hasPrefix("|") else { columns = nil; continue }
            let separators = line.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
            if let columns { #expect(separators == columns, "broken row: \(line)") } else { columns = separators }
        }
        for file in ["accuracy-vs-cost.svg", "latency.svg"] {
            let svg = try String(contentsOfFile: dir + "/run/" + file, encoding: .utf8)
            #expect(XMLParser(data: Data(svg.utf8)).parse(), "\(file) is not well-formed")
            #expect(!svg.contains("<script"))
        }
        let csv = try CSV.parse(String(contentsOfFile: dir + "/run/summary.csv", encoding: .utf8))
        #expect(csv.count == 2 && csv[1].fields[0] == "api:=p&x")
        #expect(csv.allSatisfy { $0.fields.count == SummaryTable.columns.count })
        #expect(CSV.cell("=HYPERLINK(\"http://x\")").hasPrefix("\"'="))
    }
}
