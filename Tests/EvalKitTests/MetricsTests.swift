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

    @Test func percentilesInterpolateLikeNumpy() {
        let values = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        // numpy.percentile(range(1, 11), 50) == 5.5, (…, 95) == 9.55
        #expect(MetricsCalculator.percentile(values, 0.5) == 5.5)
        #expect(abs((MetricsCalculator.percentile(values, 0.95) ?? 0) - 9.55) < 1e-12)
        #expect(MetricsCalculator.percentile([], 0.5) == nil)
        #expect(MetricsCalculator.percentile([7], 0.95) == 7)
    }

    @Test func tokenAndHourlyCostArithmetic() {
        let perToken = Pricing(basis: .perToken(inputPerMillion: 2.5, outputPerMillion: 10), source: nil, date: nil)
        // 1,000 input tokens at $2.50/M + 200 output at $10/M = 0.0025 + 0.002.
        let tokenCost = CostModel.cost(pricing: perToken, inputTokens: 1000, outputTokens: 200, latencyMs: 999, concurrency: 1)
        #expect(abs((tokenCost ?? 0) - 0.0045) < 1e-15)
        let hourly = Pricing(basis: .perHour(3.6), source: nil, date: nil)
        // $3.60/h is $0.001/s; 500 ms on a machine serving 2 at once is 0.25 s of it.
        let hourlyCost = CostModel.cost(pricing: hourly, inputTokens: nil, outputTokens: nil, latencyMs: 500, concurrency: 2)
        #expect(abs((hourlyCost ?? 0) - 0.00025) < 1e-15)
        #expect(CostModel.cost(pricing: nil, inputTokens: 1, outputTokens: 1, latencyMs: 1, concurrency: 1) == nil)

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
}
