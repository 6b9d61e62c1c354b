import EvalKit
import Foundation
import Testing

/// `compare --shard K/N` and `evalkit merge`: shard processes side by side on this machine, as a
/// Kubernetes Indexed Job (`--shard auto/N`) or a CI matrix (`--shard K/N`) runs them, then merged.
@Suite(.serialized) struct ShardTests {
    /// Two prompts on the fake server over `n` test examples with ids t0000, t0001, …
    static func writeExperiment(in dir: String, url: String, n: Int, question: String = "Mood:") throws -> String {
        _ = try ReliabilityTests.writeExperiment(in: dir, url: url, n: n)
        try Fixtures.write("Tweet: {{input}}\n\(question)", to: "q.txt", in: dir)
        var config = try String(contentsOfFile: dir + "/evalkit.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"prompts\": [{\"id\": \"p\", \"user\": \"p.txt\"}]",
                                             with: "\"prompts\": [{\"id\": \"p\", \"user\": \"p.txt\"}, {\"id\": \"q\", \"user\": \"q.txt\"}]")
        return try Fixtures.write(config, to: "evalkit.json", in: dir)
    }

    /// The report files below the run header (times and durations), which must not differ.
    static func belowHeader(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let end = text.range(of: "<!-- /run-header -->") else { return text }
        return String(text[end.upperBound...])
    }

    static func evalkit(_ arguments: [String], in dir: String, environment: [String: String] = [:]) async throws -> (Int32, String) {
        let process = try TestProcess(CLITests.binary, arguments, in: dir, environment: environment)
        let status = await process.finished()
        return (status, process.errorOutput + process.output)
    }

    @Test func aShardIsAFixedHashOfTheExampleID() async throws {
        let ids = (0..<200).map { String(format: "t%04d", $0) } + ["", "ü", "a b", "🙂"]
        // Python's hashlib, independently: the first 8 bytes of SHA-256, big-endian, modulo N.
        let script = "import hashlib, sys, json\nids = json.load(sys.stdin)\n"
            + "print(json.dumps([[int(hashlib.sha256(i.encode()).hexdigest()[:16], 16) % n for i in ids] for n in (1, 2, 3, 7)]))"
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(JSON.array(ids.map(JSON.string)).encoded(), to: "ids.json", in: dir)
        let python = try TestProcess("/bin/sh", ["-c", "python3 -c \"$0\" < ids.json", script], in: dir)
        #expect(await python.finished() == 0, "\(python.errorOutput)")
        let expected = try #require(try JSON.parse(python.output).arrayValue)
        for (n, column) in zip([1, 2, 3, 7], expected) {
            #expect(ids.map { Shard.part(of: $0, count: n) } == (column.arrayValue ?? []).compactMap(\.intValue), "N = \(n)")
        }

        #expect(try Shard.parse("2/4", environment: [:]) == Shard(index: 2, count: 4))
        #expect(try Shard.parse("auto/4", environment: ["JOB_COMPLETION_INDEX": "3"]) == Shard(index: 3, count: 4))
        for bad in ["4/4", "-1/4", "1/0", "a/b", "1", "1/2/3", "", "auto/4"] {
            #expect(throws: Shard.ParseError.self, "\(bad)") { try Shard.parse(bad, environment: ["JOB_COMPLETION_INDEX": "x"]) }
        }
        #expect(throws: Shard.ParseError.noIndexInEnvironment(variable: "JOB_COMPLETION_INDEX")) { try Shard.parse("auto/4", environment: [:]) }
        #expect(throws: Shard.ParseError.self) { try Shard.parse("auto/2", environment: ["JOB_COMPLETION_INDEX": "2"]) }
    }

    /// Runs shard K of 3 for K = 0, 1, 2 at once, one of them as a Kubernetes pod would (index from the
    /// environment), into `prefix`0, 1, 2.
    static func threeShards(in dir: String, prefix: String) async throws {
        async let first = Self.evalkit(["compare", "--shard", "0/3", "--limit", "40", "--out", prefix + "0"], in: dir)
        async let second = Self.evalkit(["compare", "--shard", "1/3", "--limit", "40", "--out", prefix + "1"], in: dir)
        async let third = Self.evalkit(["compare", "--shard", "auto/3", "--limit", "40", "--out", prefix + "2"], in: dir,
                                       environment: ["JOB_COMPLETION_INDEX": "2"])
        for (status, output) in await [try first, try second, try third] { #expect(status == 0, "\(output)") }
    }

    /// Three shard processes at once, merged: every example evaluated once, and the merged reports equal,
    /// below the header, those of one process that evaluated the same answers.
    @Test func shardsRunSideBySideMergeIntoTheSingleProcessReports() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        _ = try Self.writeExperiment(in: dir, url: server.baseURL, n: 45)
        try await Self.threeShards(in: dir, prefix: "s")
        #expect(try server.requests().count == 80, "each of 40 examples × 2 candidates asked once over the three shards")

        var seen: [String] = []
        for k in 0..<3 {
            let manifest = try RunManifest.read(directory: dir + "/s\(k)")
            #expect(manifest.shard?.shard == Shard(index: k, count: 3))
            #expect(manifest.shard?.wholeRunCommand == "evalkit compare --limit 40")
            let ids = Set(try ResultsJournal.read(path: dir + "/s\(k)/results.jsonl").map(\.exampleID))
            #expect(ids.allSatisfy { Shard.part(of: $0, count: 3) == k })
            seen += ids
            let report = try String(contentsOfFile: dir + "/s\(k)/report.md", encoding: .utf8)
            #expect(report.contains("\(ids.count) test examples (shard \(k) of 3, chosen by a hash of each example's id, from the first 40 of 45)"))
        }
        #expect(seen.sorted() == (0..<40).map { String(format: "t%04d", $0) })
        #expect(try RunManifest.read(directory: dir + "/s0").shard?.fingerprint == RunManifest.read(directory: dir + "/s2").shard?.fingerprint)

        let (merged, mergeOutput) = try await Self.evalkit(["merge", "s2", "s0", "s1", "--out", "merged"], in: dir)
        #expect(merged == 0, "\(mergeOutput)")
        #expect(try RunVerifier.verify(runDirectory: dir + "/merged") == [])
        let manifest = try RunManifest.read(directory: dir + "/merged")
        #expect(manifest.shard == nil && manifest.mergedFrom.map(\.shard.index).sorted() == [0, 1, 2])
        #expect(manifest.command == "evalkit compare --limit 40" && manifest.limit == 40 && manifest.status == .finished)
        #expect(manifest.requestsSent?.total == 80)
        #expect(manifest.coldStarts?.count == 3, "each shard process started its model once")

        // One process over the same 40 examples, its answers (and their latencies) from the cache the shards
        // filled; the shards again, from the same cache: the merge of the second equals the single run.
        let (single, singleOutput) = try await Self.evalkit(["compare", "--limit", "40", "--out", "single"], in: dir)
        #expect(single == 0, "\(singleOutput)")
        try await Self.threeShards(in: dir, prefix: "c")
        #expect(try server.requests().count == 80, "every later answer came from the cache")
        #expect(try await Self.evalkit(["merge", "c0", "c1", "c2", "--out", "merged-cached"], in: dir).0 == 0)
        for file in ["report.md", "summary.csv", AnalysisFile.name] {
            let mergedText = try Self.belowHeader(dir + "/merged-cached/" + file), singleText = try Self.belowHeader(dir + "/single/" + file)
            #expect(mergedText == singleText, "\(file) differs: \(zip(mergedText.split(separator: "\n"), singleText.split(separator: "\n")).first { $0 != $1 }.map { "\($0.0)\n  against\n\($0.1)" } ?? "in length")")
        }
        func outcomes(_ run: String) throws -> [String] {
            try ResultsJournal.read(path: dir + "/\(run)/results.jsonl").map { "\($0.candidate)|\($0.exampleID)|\($0.output ?? "-")|\($0.score)" }.sorted()
        }
        #expect(try outcomes("merged") == outcomes("single"))
        // A merged run folder is an ordinary one: it re-renders to the same bytes.
        let before = try String(contentsOfFile: dir + "/merged/report.md", encoding: .utf8)
        #expect(try await Self.evalkit(["report", "merged"], in: dir).0 == 0)
        #expect(try String(contentsOfFile: dir + "/merged/report.md", encoding: .utf8) == before)
    }

    @Test func missingRepeatedAndForeignShardsAreFoundBeforeAnythingIsWritten() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        _ = try Self.writeExperiment(in: dir, url: server.baseURL, n: 20)
        for k in 0..<3 { #expect(try await Self.evalkit(["compare", "--shard", "\(k)/3", "--out", "s\(k)"], in: dir).0 == 0) }

        let (missing, said) = try await Self.evalkit(["merge", "s0", "s2", "--out", "partial"], in: dir)
        let inShard1 = (0..<20).filter { Shard.part(of: String(format: "t%04d", $0), count: 3) == 1 }.count
        #expect(missing == 1 && said.contains("shard(s) 1 missing") && said.contains("\(inShard1 * 2) of 40 requests have no result"), "\(said)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/partial"), "nothing written, not even the folder")
        let (allowed, _) = try await Self.evalkit(["merge", "s0", "s2", "--out", "partial", "--allow-partial"], in: dir)
        #expect(allowed == 0)
        let report = try String(contentsOfFile: dir + "/partial/report.md", encoding: .utf8)
        #expect(report.contains("**Stopped early:** partial merge: shard(s) 1 missing"), "\(report.prefix(1500))")
        #expect(try RunManifest.read(directory: dir + "/partial").status == .incomplete)
        // The merge read its results back from its working file with places left empty; verify reads results.jsonl
        // as any run folder's and finds the same figures.
        let (verified, verifySaid) = try await Self.evalkit(["verify", "partial"], in: dir)
        #expect(verified == 0 && verifySaid.contains("match"), "\(verifySaid)")

        // A shard killed before its first result: its examples are missing.
        try FileManager.default.copyItem(atPath: dir + "/s1", toPath: dir + "/s1-killed")
        try FileManager.default.removeItem(atPath: dir + "/s1-killed/results.jsonl")
        let (killed, killedSaid) = try await Self.evalkit(["merge", "s0", "s1-killed", "s2", "--out", "killed"], in: dir)
        #expect(killed == 1 && killedSaid.contains("\(inShard1 * 2) of 40 requests have no result") && !killedSaid.contains("shard(s) 1 missing"), "\(killedSaid)")

        let (repeated, repeatedSaid) = try await Self.evalkit(["merge", "s0", "s1", "s2", "s1", "--out", "twice"], in: dir)
        #expect(repeated == 1 && repeatedSaid.contains("shard(s) 1 given more than once") && repeatedSaid.contains("results found more than once"))

        // A shard of another experiment (a prompt changed in between), a whole run, a folder that is no run.
        try Fixtures.write("Tweet: {{input}}\nFeeling:", to: "q.txt", in: dir)
        #expect(try await Self.evalkit(["compare", "--shard", "1/3", "--out", "changed"], in: dir).0 == 0)
        let (mismatch, mismatchSaid) = try await Self.evalkit(["merge", "s0", "changed", "s2", "--out", "bad"], in: dir)
        #expect(mismatch == 2 && mismatchSaid.contains("changed cannot be merged with the first shard: its experiment fingerprint differs"))
        #expect(try await Self.evalkit(["compare", "--out", "whole"], in: dir).0 == 0)
        let (whole, wholeSaid) = try await Self.evalkit(["merge", "s0", "whole", "--out", "bad"], in: dir)
        #expect(whole == 2 && wholeSaid.contains("whole/run.json records no shard"))
        let (into, intoSaid) = try await Self.evalkit(["merge", "s0", "s1", "s2", "--out", "./s1/"], in: dir)
        #expect(into == 2 && intoSaid.contains("is one of the shard folders being merged"), "\(intoSaid)")
        #expect(try RunManifest.read(directory: dir + "/s1").shard?.shard.index == 1, "the shard folder is untouched")
        let (none, noneSaid) = try await Self.evalkit(["merge", "nothing-here", "--out", "bad"], in: dir)
        #expect(none == 2 && noneSaid.contains("nothing-here/run.json is missing"))
        let (other, otherSaid) = try await Self.evalkit(["merge", "s0", "s1", "--out", "bad", "--shard", "1/2"], in: dir)
        #expect(other == 2 && otherSaid.contains("unknown option --shard"))
        #expect(try await Self.evalkit(["compare", "--shard", "3/3"], in: dir).1.contains("expected K/N with 0 ≤ K < N"))
        #expect(try await Self.evalkit(["compare", "--shard", "auto/3"], in: dir).1.contains("JOB_COMPLETION_INDEX"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad"))

        // A damaged line in a shard's results is named once, with its file and line.
        try FileManager.default.copyItem(atPath: dir + "/s2", toPath: dir + "/s2-damaged")
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/s2-damaged/results.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("garbage\n".utf8))
        try handle.close()
        let (damaged, damagedSaid) = try await Self.evalkit(["merge", "s0", "s1", "s2-damaged", "--out", "bad"], in: dir)
        #expect(damaged == 2 && damagedSaid.contains("s2-damaged/results.jsonl:") && !damagedSaid.contains("results.jsonl: s2-damaged"), "\(damagedSaid)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad"), "a merge that fails while reading leaves nothing behind")

        // More shards than examples: a shard with no example succeeds with nothing to do.
        let (empty, emptySaid) = try await Self.evalkit(["compare", "--limit", "1", "--shard", "\(1 - Shard.part(of: "t0000", count: 2))/2", "--out", "empty"], in: dir)
        #expect(empty == 0, "\(emptySaid)")
    }

    /// A killed shard resumes as that shard.
    @Test func aResumedShardStaysItsShard() async throws {
        let server = try await FakeLLMServer()
        let dir = try Fixtures.temporaryDirectory()
        _ = try Self.writeExperiment(in: dir, url: server.baseURL, n: 20)
        #expect(try await Self.evalkit(["compare", "--shard", "1/2", "--out", "s1"], in: dir).0 == 0)
        let kept = try ResultsJournal.read(path: dir + "/s1/results.jsonl")
        // Drop the last results as a kill would, then resume.
        let lines = try String(contentsOfFile: dir + "/s1/results.jsonl", encoding: .utf8).split(separator: "\n")
        try (lines.prefix(3).joined(separator: "\n") + "\n").write(toFile: dir + "/s1/results.jsonl", atomically: true, encoding: .utf8)
        let (status, output) = try await Self.evalkit(["compare", "--resume", "s1"], in: dir)
        #expect(status == 0, "\(output)")
        let resumed = try ResultsJournal.read(path: dir + "/s1/results.jsonl")
        #expect(Set(resumed.map(\.exampleID)) == Set(kept.map(\.exampleID)))
        #expect(try RunManifest.read(directory: dir + "/s1").shard?.shard == Shard(index: 1, count: 2))
        #expect(try await Self.evalkit(["compare", "--resume", "s1", "--shard", "0/2"], in: dir).0 == 2)
    }
}
