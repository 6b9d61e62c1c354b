import EvalKit
import Foundation
import Testing

/// One model served by several replicas (`base_url` as an array): requests spread over them within each
/// replica's own limit, a failing or dead replica is set aside and its requests answered by another.
@Suite(.serialized) struct ReplicaTests {
    static func writeExperiment(in dir: String, urls: [String], n: Int = 24, concurrency: Int = 2) throws -> String {
        _ = try ReliabilityTests.writeExperiment(in: dir, url: "http://placeholder/v1", n: n)
        var config = try String(contentsOfFile: dir + "/evalkit.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"http://placeholder/v1\"", with: JSON.array(urls.map(JSON.string)).encoded())
            .replacingOccurrences(of: "\"concurrency\": 6", with: "\"concurrency\": \(concurrency)")
        return try Fixtures.write(config, to: "evalkit.json", in: dir)
    }

    static func run(_ config: String, into out: String) async throws -> CompareOutcome {
        var options = CompareOptions()
        options.outDirectory = out
        return try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
    }

    @Test func requestsSpreadOverReplicasWithinEachOnesLimitAndAvoidFailingOnes() async throws {
        let first = try await FakeLLMServer(environment: ["FAKE_DELAY_MS": "150"])
        let second = try await FakeLLMServer(environment: ["FAKE_DELAY_MS": "150"])
        let failing = try await FakeLLMServer(environment: ["FAKE_STATUS": "503"])
        let dead = "http://127.0.0.1:\(closedPort())/v1"
        let dir = try Fixtures.temporaryDirectory()
        let config = try Self.writeExperiment(in: dir, urls: [dead, first.baseURL, failing.baseURL, second.baseURL])
        let outcome = try await Self.run(config, into: dir + "/run")
        let metrics = try #require(outcome.summary.metrics.first)
        #expect(metrics.answered == 24 && metrics.errors == 0, "\(outcome.summary.results.first?.compactMap(\.error) ?? [])")

        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        #expect(Set(results.compactMap(\.replica)) == [first.baseURL, second.baseURL])
        #expect(results.allSatisfy { $0.replica != nil && $0.attempts == 1 }, "a replica's failure is not an attempt of the request")
        let firstLog = try first.requests(), secondLog = try second.requests()
        // Every request reached a good replica; one that timed out there (a loaded machine) was sent to the other
        // as well, which is failover, not a retry: so at least 24, each example answered once.
        let served = firstLog.count + secondLog.count
        #expect(served >= 24 && served <= 30, "\(served) requests reached the good replicas")
        #expect(Set(results.map(\.exampleID)).count == 24 && results.count == 24)
        #expect(min(firstLog.count, secondLog.count) >= 6, "requests go to the replica with fewer in flight: \(firstLog.count) and \(secondLog.count)")
        // Each replica's limit is the model's concurrency (2), although 8 requests may be in flight in all.
        for log in [firstLog, secondLog] {
            let most = log.compactMap { $0["in_flight"]?.countValue }.max() ?? 0
            #expect(most == 2, "at most 2 in flight on a replica, and the limit used: \(most)")
        }
        // The failing replica answered 503 and was set aside (1 s, then 2 s …): it saw few of the 24 requests.
        let failed = try failing.requests().count
        #expect(failed >= 1 && failed <= 8, "\(failed) requests reached the failing replica")

        let manifest = try JSON.parse(String(contentsOfFile: dir + "/run/run.json", encoding: .utf8))
        #expect(manifest["results_schema"]?.intValue == ExampleResult.schema)
        #expect(manifest["models"]?.arrayValue?.first?["base_url"]?.arrayValue?.count == 4)
        #expect(try RunVerifier.verify(runDirectory: dir + "/run") == [])
        #expect(try String(contentsOfFile: dir + "/run/report.md", encoding: .utf8).contains("4 replicas ("))

        // The cache is keyed by content, not by the replica that answered: a second run asks nobody.
        let again = try await Self.run(config, into: dir + "/again")
        #expect(again.summary.metrics.first?.cachedAnswers == 24)
        #expect(try first.requests().count + second.requests().count == served)
    }

    @Test func aModelWhoseEveryReplicaIsDownIsNotUsedAndSaysWhy() async throws {
        let dir = try Fixtures.temporaryDirectory()
        let urls = ["http://127.0.0.1:\(closedPort())/v1", "http://127.0.0.1:\(closedPort())/v1"]
        let outcome = try await Self.run(try Self.writeExperiment(in: dir, urls: urls, n: 3), into: dir + "/run")
        let failure = try #require(outcome.summary.modelFailures.first)
        #expect(failure.reason.contains("connection refused"), "\(failure.reason)")
        #expect(outcome.failed)
    }

    @Test func replicaURLsAreCheckedByPath() throws {
        let dir = try Fixtures.temporaryDirectory()
        for (urls, path, expected) in [
            ("[]", "$.models[0].options.base_url", "at least one entry"),
            ("[\"http://a/v1\", \"ftp://b\"]", "$.models[0].options.base_url[1]", "an http:// or https:// URL"),
            ("[\"http://a/v1\", \"http://a/v1\"]", "$.models[0].options.base_url", "each replica's URL once"),
            ("[\"http://a/v1\", 3]", "$.models[0].options.base_url", "string"),
        ] {
            _ = try Self.writeExperiment(in: dir, urls: ["http://x/v1"])
            let text = try String(contentsOfFile: dir + "/evalkit.json", encoding: .utf8).replacingOccurrences(of: "[\"http://x/v1\"]", with: urls)
            let config = try Fixtures.write(text, to: "evalkit.json", in: dir)
            #expect { _ = try ExperimentLoader.load(path: config) } throws: { error in
                let said = "\(error)"
                return said.contains(path) && said.contains(expected)
            }
        }
    }
}
