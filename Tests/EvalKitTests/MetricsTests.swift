import EvalKit
import Foundation
import Testing

@Suite struct MetricsTests {
    func result(_ target: String, _ label: String?, latency: Double = 10, error: String? = nil, cost: Double? = nil,
                tokens: (Int, Int)? = nil) -> ExampleResult {
        ExampleResult(candidate: "c", model: "m", prompt: "p", exampleID: UUID().uuidString, target: target,
                      output: error == nil ? (label ?? "gibberish") : nil, label: error == nil ? label : nil,
                      correct: error == nil && label == target, latencyMs: latency, inputTokens: tokens?.0, outputTokens: tokens?.1,
                      costUSD: cost, error: error)
    }

    @Test func accuracyInvalidAndErrorsOnAKnownCase() {
        let results = [
            result("a", "a"), result("a", "b"), result("b", "b"), result("b", nil),
            result("b", "b", error: "HTTP 500"),
        ]
        let m = MetricsCalculator.metrics(candidate: "c", model: "m", prompt: "p", role: .foundation, labels: ["a", "b"], results: results)
        #expect(m.requests == 5 && m.answered == 4 && m.errors == 1)
        #expect(m.correct == 2 && m.invalid == 1)
        // A failed request counts as wrong: 2 of 5 requests; over the 4 answered, 2 of 4.
        #expect(m.accuracy == 0.4 && m.answeredAccuracy == 0.5)
        #expect(m.invalidRate == 0.25)
        #expect(m.errorRate == 0.2)
        #expect(m.firstError == "HTTP 500")
    }

    @Test func macroF1MatchesAHandComputedValue() {
        // Targets a,a,b,b,c; predictions a,b,b,b,nil.
        // a: tp1 fp0 fn1 → F1 2/3; b: tp2 fp1 fn0 → 0.8; c: tp0 fp0 fn1 → 0. Mean = (2/3 + 0.8 + 0) / 3.
        let pairs: [(target: String, predicted: String?)] = [("a", "a"), ("a", "b"), ("b", "b"), ("b", "b"), ("c", nil)]
        let f1 = MetricsCalculator.macroF1(labels: ["a", "b", "c", "d"], pairs: pairs)
        #expect(abs(f1 - (2.0 / 3.0 + 0.8) / 3.0) < 1e-12)
    }

    @Test func labelScoresCountTargetsAndAnswersThatAreNoLabel() {
        // Targets a,a,b,x(not a label),b; predictions a,zz(not a label),a,a,nil.
        // a: tp1, fp2 (b→a, x→a), fn1 (a→zz) → precision 1/3, recall 1/2, F1 2/(2+2+1) = 0.4, support 2;
        // b: tp0 fp0 fn2 → recall 0, F1 0, support 2; c: occurs nowhere.
        let pairs: [(target: String, predicted: String?)] = [("a", "a"), ("a", "zz"), ("b", "a"), ("x", "a"), ("b", nil)]
        let scores = MetricsCalculator.labelScores(labels: ["a", "b", "c"], pairs: pairs)
        #expect(scores.map(\.label) == ["a", "b", "c"])
        #expect(scores[0].precision == 1.0 / 3 && scores[0].recall == 0.5 && scores[0].f1 == 0.4 && scores[0].support == 2)
        #expect(scores[1].precision == nil && scores[1].recall == 0 && scores[1].f1 == 0 && scores[1].support == 2)
        #expect(scores[2].occurs == false && scores[2].support == 0)
        // Rows a, b, c (the target x is no label); columns a, b, c, then no label.
        #expect(MetricsCalculator.confusion(labels: ["a", "b", "c"], pairs: pairs) == [[1, 0, 0, 1], [1, 0, 0, 1], [0, 0, 0, 0]])
        #expect(abs(MetricsCalculator.macroF1(labels: ["a", "b", "c"], pairs: pairs) - 0.2) < 1e-12)
    }

    @Test func percentilesInterpolateLikeNumpy() {
        let values = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        // numpy.percentile(range(1, 11), 50) == 5.5, (…, 95) == 9.55
        #expect(MetricsCalculator.percentile(values, 0.5) == 5.5)
        #expect(abs((MetricsCalculator.percentile(values, 0.95) ?? 0) - 9.55) < 1e-12)
        #expect(MetricsCalculator.percentile([], 0.5) == nil)
        #expect(MetricsCalculator.percentile([7], 0.95) == 7)
    }

    @Test func tokenAndHourlyCostArithmetic() {
        let perToken = APIPricing(inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25)
        // 1,000 input tokens at $2.50/M + 200 output at $10/M = 0.0025 + 0.002.
        let tokenCost = perToken.requestCost(RequestUsage(inputTokens: 1000, outputTokens: 200, latencyMs: 999))
        #expect(abs((tokenCost ?? 0) - 0.0045) < 1e-15)
        // 400 of the 1,000 input tokens from the prompt cache at $1.25/M: 600 × 2.5 + 400 × 1.25 + 200 × 10 per million.
        let cachedCost = perToken.requestCost(RequestUsage(inputTokens: 1000, cachedInputTokens: 400, outputTokens: 200))
        #expect(abs((cachedCost ?? 0) - 0.004) < 1e-15)
        let hourly = ServerlessPricing(perHour: 3.6, perRequest: 0.0001)
        // $3.60/h is $0.001/s; 500 ms on a machine serving 2 at once is 0.25 s of it, plus the fee.
        let hourlyCost = hourly.requestCost(RequestUsage(latencyMs: 500, concurrency: 2))
        #expect(abs((hourlyCost ?? 0) - 0.00035) < 1e-15)
        #expect(DedicatedPricing(perHour: 1).requestCost(RequestUsage(latencyMs: 500)) == nil)

        let results = [result("a", "a", cost: 0.001), result("a", "a", cost: 0.003)]
        let m = MetricsCalculator.metrics(candidate: "c", model: "m", prompt: nil, role: .small, labels: ["a"], results: results)
        #expect(abs((m.costPer1kUSD ?? 0) - 2.0) < 1e-12)
    }
}

/// The compact store that holds a run's results in memory.
@Suite struct ResultColumnTests {
    @Test func everyFieldReadsBackAsWrittenAndSortingKeepsRowsWhole() {
        var answered = ExampleResult(candidate: "gemma-270m-likelihood:raw-fewshot", model: "gemma-270m-likelihood", prompt: "raw-fewshot",
                                     exampleID: "row9", repeatIndex: 1, target: "positive", output: "positive", label: "positive",
                                     correct: true, latencyMs: 123.456, inputTokens: 812, outputTokens: 1, tokensEstimated: true,
                                     costUSD: 0.000012345)
        answered.attempts = 3
        answered.labelProbabilities = ["negative": 0.1, "neutral": 0.2, "positive": 0.7]
        var cached = ExampleResult(candidate: "builtin", model: "builtin", prompt: nil, exampleID: "row1", target: "negative",
                                   output: "I'd say it is negative, mostly", label: nil, correct: false, latencyMs: 0.5)
        cached.cached = true
        cached.attempts = 0
        let failed = ExampleResult(candidate: "api:plain", model: "api", prompt: "plain", exampleID: "row5", target: "neutral",
                                   output: nil, label: nil, correct: false, latencyMs: 30_000, error: "timed out after 30 s")
        let zeroCost = ExampleResult(candidate: "api:plain", model: "api", prompt: "plain", exampleID: "row1", repeatIndex: 1,
                                     target: "neutral", output: "neutral", label: "neutral", correct: true, latencyMs: 2, costUSD: 0)
        let written = [answered, cached, failed, zeroCost]
        var column = ResultColumn(written)
        #expect(Array(column) == written)
        #expect(column.count == 4 && column[0].labelProbabilities?["positive"] == 0.7 && column[2].costUSD == nil && column[3].costUSD == 0)

        column.sortCanonically()
        #expect(Array(column) == written.sorted { ($0.exampleID, $0.repeatIndex) < ($1.exampleID, $1.repeatIndex) })
        // The probabilities moved with their row (row9 sorts last).
        #expect(column.last?.exampleID == "row9" && column.last?.labelProbabilities == answered.labelProbabilities)
        #expect(column.first(where: { $0.exampleID == "row1" && $0.repeatIndex == 0 })?.labelProbabilities == nil)
    }

    @Test func aPlacedColumnReadsBackWhatAnOrdinaryOneHoldsFromItsWorkingFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("placed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 25,000 examples × 2 repeats, coming in an order unlike the ids': rows cross the file's 128 kB blocks
        // and fill more than one 4 MB window as they are put in order, more than 4,096 distinct strings,
        // answers longer than 64 bytes and more than 1 MB of them (written in several pieces).
        let ids = (0..<25_000).map { "ex\($0 * 7919 % 25_000)" }
        var written: [ExampleResult] = []
        for (i, id) in ids.enumerated() {
            for rep in 0..<2 where !(i % 97 == 5 && rep == 1) {  // some places stay empty
                var r = ExampleResult(candidate: "m:p", model: "m", prompt: "p", exampleID: id, repeatIndex: rep, target: i % 3 == 0 ? "a" : "b",
                                      output: i % 5 == 0 ? String(repeating: "long answer \(i) ", count: 20) : "short \(i)",
                                      label: i % 4 == 0 ? nil : "a", correct: false, latencyMs: Double(i) + 0.25,
                                      inputTokens: i % 6 == 0 ? nil : i, outputTokens: 3, tokensEstimated: i % 2 == 0,
                                      costUSD: i % 7 == 0 ? nil : Double(i) * 1e-6, error: i % 11 == 0 ? "failed \(i): é" : nil)
                r.score = i % 3 == 0 ? 1 : 0
                r.attempts = i % 4
                r.cached = i % 8 == 0
                if i % 13 == 0 { r.labelProbabilities = ["a": 0.25, "b": 0.75]; r.replica = "r\(i)" }
                written.append(r)
            }
        }
        let sortedIDs = ids.sorted()
        let rank = Dictionary(uniqueKeysWithValues: sortedIDs.enumerated().map { ($0.element, $0.offset) })
        var placed = try ResultColumn(placingIn: folder, exampleIDs: sortedIDs, repeats: 2)
        for r in written.reversed() { #expect(try placed.place(r, exampleRank: rank[r.exampleID] ?? -1)) }
        // A place taken twice, a repeat or rank out of range: refused, nothing written.
        #expect(try placed.place(written[0], exampleRank: rank[written[0].exampleID] ?? -1) == false)
        var outside = written[0]
        outside.repeatIndex = 2
        #expect(try placed.place(outside, exampleRank: 0) == false)
        #expect(try placed.place(written[1], exampleRank: 25_000) == false && (try placed.place(written[1], exampleRank: -1)) == false)
        try placed.finishPlacing()
        #expect(try placed.place(written[1], exampleRank: 0) == false)

        var ordinary = ResultColumn(written)
        ordinary.sortCanonically()
        #expect(placed.count == written.count && placed.count == 50_000 - 258)
        #expect(Array(placed) == Array(ordinary))
        #expect(placed == ordinary)
        // Collected before the ids are known (what reading a run folder's results.jsonl does), numbered as they come.
        var collected = try ResultColumn(collectingIn: folder)
        var ordinal: [String: Int] = [:]
        for r in written.reversed() {
            let k = ordinal[r.exampleID] ?? ordinal.count
            ordinal[r.exampleID] = k
            #expect(try collected.collect(r, exampleOrdinal: k))
        }
        var rankOf = [Int32](repeating: 0, count: ordinal.count)
        for (id, k) in ordinal { rankOf[k] = Int32(rank[id] ?? -1) }
        #expect(try collected.finishCollecting(exampleIDs: sortedIDs, rankOfOrdinal: rankOf, repeats: 2))
        #expect(Array(collected) == Array(ordinary))
        // Two results of one request cannot both have a place; few results among many places are not worth them.
        var twice = try ResultColumn(collectingIn: folder)
        _ = try twice.collect(written[0], exampleOrdinal: 0)
        _ = try twice.collect(written[0], exampleOrdinal: 0)
        #expect(try twice.finishCollecting(exampleIDs: [written[0].exampleID], rankOfOrdinal: [0], repeats: 2) == false)
        var sparse = try ResultColumn(collectingIn: folder)
        _ = try sparse.collect(written[0], exampleOrdinal: 0)
        #expect(try sparse.finishCollecting(exampleIDs: sortedIDs, rankOfOrdinal: [0], repeats: 32_000) == false)

        // Appended to, a placed column becomes an ordinary one holding the same results and the new one.
        var grown = placed
        grown.append(outside)
        #expect(Array(grown) == Array(ordinary) + [outside])
        #expect(Array(placed) == Array(ordinary))
    }

    @Test func dedicatedAndServerlessMonthlyCostsByHand() throws {
        // One instance serves 2 requests/s. 10M requests a month average 10,000,000 ÷ (730 × 3,600) = 3.805 requests/s;
        // with a peak factor of 3 that is 11.42/s: ⌈11.42 ÷ 2⌉ = 6 instances × $0.50/h × 730 h = $2,190.
        let dedicated = DedicatedPricing(perHour: 0.5, minInstances: 1, peakFactor: 3)
        let capacity = Capacity(requestsPerSecond: 2, concurrency: 4, source: .probe)
        let measured = CostMeasurements(meanRequestCostUSD: nil, capacity: capacity)
        #expect(dedicated.instances(volume: 10_000_000, capacity: 2) == 6)
        #expect(dedicated.monthly(volume: 10_000_000, measured: measured).usd == 2190)
        // A quiet month still pays for min_instances, always on.
        #expect(DedicatedPricing(perHour: 0.5, minInstances: 2).monthly(volume: 10, measured: measured).usd == 730)
        #expect(DedicatedPricing(perHour: 0.5, minInstances: 0).monthly(volume: 0, measured: measured).usd == 0)
        // Without a measured throughput the cost is unknown, and says why.
        let unknown = dedicated.monthly(volume: 1000, measured: CostMeasurements())
        #expect(unknown.usd == nil && unknown.basis.contains("throughput not measured"))
        // Serverless: the mean measured request cost × the volume. 0.25 s busy of a $3.60/h machine = $0.00025.
        let serverless = ServerlessPricing(perHour: 3.6)
        #expect(abs((serverless.monthly(volume: 10_000_000, measured: CostMeasurements(meanRequestCostUSD: 0.00025)).usd ?? 0) - 2500) < 1e-9)
        #expect(serverless.linearRate(CostMeasurements(meanRequestCostUSD: 0.00025)) == 0.00025 && dedicated.linearRate(measured) == nil)
    }

    @Test func breakEvenFindsTheStepOfADedicatedMachine() throws {
        // The reference: an API at $0.001 a request. The candidate: one $1/h machine (730 $ a month) serving 1 request/s,
        // 2,628,000 requests a month at peak factor 1. Over 1 month they cost the same at 730,000 requests: cheaper above.
        let api = HorizonCost(model: APIPricing(inputPerMillion: 1, outputPerMillion: 1), measured: CostMeasurements(meanRequestCostUSD: 0.001), months: 1)
        let machine = HorizonCost(model: DedicatedPricing(perHour: 1),
                                  measured: CostMeasurements(capacity: Capacity(requestsPerSecond: 1, concurrency: 1, source: .probe)), months: 1)
        guard case .above(let volume) = DecisionAnalyzer.breakEven(machine, api, volume: 1_000_000) else {
            Issue.record("expected a volume above which the machine is cheaper"); return
        }
        #expect(abs(volume - 730_000) <= 1)
        // The other way round: the API is the cheaper one below the same volume.
        guard case .below(let back) = DecisionAnalyzer.breakEven(api, machine, volume: 1_000_000) else {
            Issue.record("expected a volume below which the API is cheaper"); return
        }
        #expect(abs(back - 730_000) <= 1)
        // With a one-time cost of $365 for the machine the crossing moves to 1,095,000 requests.
        var trained = machine
        trained.oneTime = 365
        guard case .above(let later) = DecisionAnalyzer.breakEven(trained, api, volume: 1_000_000) else { Issue.record("no crossing"); return }
        #expect(abs(later - 1_095_000) <= 1)
    }
}
