import EvalKit
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

@Suite struct StatisticsTests {
    @Test func wilsonMatchesNewcombe1998() throws {
        // Newcombe RG (1998), "Two-sided confidence intervals for the single proportion", Stat Med 17:857–872,
        // Table I, method 3 (score interval without continuity correction).
        let cases: [(Int, Int, Double, Double)] = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]
        for (k, n, low, high) in cases {
            let interval = try #require(Statistics.wilson(successes: k, trials: n))
            #expect(abs(interval.low - low) < 0.00005, "\(k)/\(n) low \(interval.low)")
            #expect(abs(interval.high - high) < 0.00005, "\(k)/\(n) high \(interval.high)")
        }
        #expect(Statistics.wilson(successes: 0, trials: 0) == nil)
    }

    @Test func exactMcNemarMatchesTheBinomialTest() {
        // Two-sided exact McNemar = two-sided binomial test of b successes in b + c trials at ½:
        // b=2, c=8: 2·(1 + 10 + 45)/1024 = 0.109375.
        #expect(abs(Statistics.mcNemarExact(b: 2, c: 8) - 0.109375) < 1e-12)
        #expect(abs(Statistics.mcNemarExact(b: 8, c: 2) - 0.109375) < 1e-12)
        // b=0, c=5: 2/32.
        #expect(abs(Statistics.mcNemarExact(b: 0, c: 5) - 0.0625) < 1e-12)
        // Agresti (2002), Categorical Data Analysis, Table 10.1 (presidential approval, b=150, c=86);
        // scipy.stats.binomtest(86, 236).pvalue = 3.7159361395713866e-05.
        #expect(abs(Statistics.mcNemarExact(b: 150, c: 86) / 3.7159361395713866e-05 - 1) < 1e-6)
        #expect(Statistics.mcNemarExact(b: 0, c: 0) == 1)
        #expect(Statistics.mcNemarExact(b: 5, c: 5) == 1)
    }

    @Test func holmAdjustsStepDown() {
        // Sorted 0.01, 0.03, 0.04 → 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06.
        let adjusted = Statistics.holm([0.01, 0.04, 0.03])
        #expect(zip(adjusted, [0.03, 0.06, 0.06]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(Statistics.holm([0.5, 0.9]) == [1, 1])
        #expect(Statistics.holm([]) == [])
    }

    @Test func normalQuantileAndPower() throws {
        #expect(abs(Statistics.normalQuantile(0.975) - 1.959963985) < 1e-8)
        #expect(abs(Statistics.normalQuantile(0.8) - 0.841621234) < 1e-8)
        #expect(abs(Statistics.normalQuantile(0.01) + 2.326347874) < 1e-8)
        // Connor (1987): δ = 0.1, ψ = 0.3, α = 0.05, power 0.8 → (1.95996·√0.3 + 0.84162·√0.29)² / 0.01 = 233.1 → 234.
        #expect(Statistics.pairedSampleSize(delta: 0.1, discordance: 0.3) == 234)
        #expect(Statistics.pairedSampleSize(delta: 0.6, discordance: 0.3) == nil)
        let mde = try #require(Statistics.minimumDetectableDifference(pairs: 234, discordance: 0.3))
        #expect(abs(mde - 0.1) < 0.002)
        #expect((Statistics.pairedSampleSize(delta: mde, discordance: 0.3) ?? .max) <= 234)
    }

    @Test func pairedBootstrapIsSeededAndCoversTheObservedDifference() throws {
        var pairs: [(first: Bool, second: Bool)] = []
        for i in 0..<200 { pairs.append((first: i % 4 != 0, second: i % 3 != 0)) }
        let a = try #require(Statistics.pairedBootstrap(pairs, seed: 11))
        let b = try #require(Statistics.pairedBootstrap(pairs, seed: 11))
        #expect(a.low == b.low && a.high == b.high)
        let observed = Double(pairs.filter(\.first).count - pairs.filter(\.second).count) / 200
        #expect(a.low < observed && observed < a.high)
        let same = try #require(Statistics.pairedBootstrap(Array(repeating: (first: true, second: true), count: 50), seed: 1))
        #expect(same.low == 0 && same.high == 0)
    }
}

@Suite struct DecisionTests {
    static let config = """
    {
      "name": "d", "task": {"labels": ["a", "b"]},
      "dataset": {"train": "t.jsonl", "test": "t.jsonl", "fields": {"input": "text", "target": "label"}},
      "prompts": [{"id": "p", "user": "p.txt"}],
      "models": [
        {"id": "big", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m"},
         "pricing": {"input_per_million": 10, "output_per_million": 30, "source": "list", "date": "2026-11-01"}},
        {"id": "tuned", "provider": "openai", "role": "fine-tuned", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "t"},
         "pricing": {"input_per_million": 1, "output_per_million": 2}, "fine_tuning": {"training_tokens": 1000000, "epochs": 3, "usd_per_million_tokens": 8}}
      ],
      "candidates": [{"model": "big", "prompt": "p"}, {"model": "tuned", "prompt": "p"}],
      "decision": DECISION
    }
    """

    func experiment(_ decision: String) throws -> Experiment {
        try Fixtures.experiment(Self.config.replacingOccurrences(of: "DECISION", with: decision), in: try Fixtures.temporaryDirectory())
    }

    /// n results for a candidate; `right(i)` says whether example i is answered correctly.
    func results(_ candidate: String, model: String, n: Int, tokens: (Int, Int), price: (Double, Double), latency: Double,
                 right: (Int) -> Bool) -> [ExampleResult] {
        (0..<n).map { i in
            let ok = right(i)
            return ExampleResult(candidate: candidate, model: model, prompt: "p", exampleID: String(format: "e%04d", i), target: "a",
                                 output: ok ? "a" : "b", label: ok ? "a" : "b", correct: ok, latencyMs: latency,
                                 inputTokens: tokens.0, outputTokens: tokens.1,
                                 costUSD: (Double(tokens.0) * price.0 + Double(tokens.1) * price.1) / 1_000_000)
        }
    }

    func analyze(_ e: Experiment, big: (Int) -> Bool, tuned: (Int) -> Bool, n: Int = 400) -> DecisionAnalysis {
        let all = [results("big:p", model: "big", n: n, tokens: (1000, 10), price: (10, 30), latency: 800, right: big),
                   results("tuned:p", model: "tuned", n: n, tokens: (100, 10), price: (1, 2), latency: 100, right: tuned)]
        let metrics = zip(e.candidates, all).map { c, r in
            MetricsCalculator.metrics(candidate: c.id, model: c.modelID, prompt: c.promptID, role: e.model(c.modelID)?.role ?? .small,
                                      labels: e.task.labels, results: r)
        }
        return DecisionAnalyzer.analyze(experiment: e, metrics: metrics, results: all, trainingSeconds: [:])
    }

    @Test func movesToTheFineTunedModelWhenItIsAsGoodAndCheaper() throws {
        let e = try experiment("{\"margin\": 0.03, \"monthly_requests\": 100000, \"horizon_months\": 12}")
        // Same answers on every example: difference 0, bootstrap [0, 0].
        let a = analyze(e, big: { $0 % 5 != 0 }, tuned: { $0 % 5 != 0 })
        #expect(a.verdict == .moveTo(candidate: "tuned:p"))
        #expect(a.referenceID == "big:p")
        let tuned = try #require(a.assessment("tuned:p"))
        // One-time: 1M tokens × 3 epochs × $8/M = $24.
        #expect(abs(tuned.oneTimeCostUSD - 24) < 1e-9)
        // Per request: (100·1 + 10·2)/1e6 = 0.00012; big: (1000·10 + 10·30)/1e6 = 0.0103.
        #expect(abs((tuned.monthlyCostUSD ?? 0) - 12) < 1e-9)
        #expect(abs((tuned.horizonCostUSD ?? 0) - (24 + 12 * 12)) < 1e-9)
        // Break-even: 24 / (12 · (0.0103 − 0.00012)) ≈ 196.46 requests a month.
        guard case .above(let volume) = tuned.breakEven else { Issue.record("expected a break-even volume"); return }
        #expect(abs(volume - 24 / (12 * (0.0103 - 0.00012))) < 1e-6)
        #expect(tuned.comparison?.pValue == 1)
    }

    @Test func keepsTheFoundationModelWhenTheSmallerOneIsClearlyWorse() throws {
        let e = try experiment("{\"margin\": 0.02}")
        let a = analyze(e, big: { $0 % 10 != 0 }, tuned: { $0 % 2 == 0 })
        #expect(a.verdict == .keepFoundation(candidate: "big:p"))
        let tuned = try #require(a.assessment("tuned:p"))
        #expect(tuned.nonInferior == false)
        #expect((tuned.comparison?.pValue ?? 1) < 0.0001)
        #expect((tuned.comparison?.difference ?? 0) < -0.3)
    }

    @Test func noCandidateQualifiesAndEachFailureSaysByHowMuch() throws {
        let e = try experiment("{\"requirements\": {\"min_accuracy\": 0.95, \"max_p95_latency_ms\": 500}}")
        let a = analyze(e, big: { $0 % 10 != 0 }, tuned: { $0 % 10 != 0 })
        #expect(a.verdict == .noneQualifies)
        let big = try #require(a.assessment("big:p"))
        #expect(big.requirementFailures.contains("accuracy 90.0% is 5.0 points below the required 95.0%"))
        #expect(big.requirementFailures.contains("p95 latency 800.0 ms exceeds 500.0 ms by 300.0 ms"))
        #expect(a.assessment("tuned:p")?.requirementFailures == ["accuracy 90.0% is 5.0 points below the required 95.0%"])
    }

    @Test func breakEvenArithmetic() {
        #expect(DecisionAnalyzer.breakEven(oneTime: 100, perRequest: 0.001, referenceOneTime: 0, referencePerRequest: 0.002, months: 12)
                == .above(100 / (12 * 0.001)))
        #expect(DecisionAnalyzer.breakEven(oneTime: 0, perRequest: 0.001, referenceOneTime: 0, referencePerRequest: 0.002, months: 12) == .always)
        #expect(DecisionAnalyzer.breakEven(oneTime: 5, perRequest: 0.003, referenceOneTime: 0, referencePerRequest: 0.002, months: 12) == .never)
        #expect(DecisionAnalyzer.breakEven(oneTime: 0, perRequest: 0.003, referenceOneTime: 12, referencePerRequest: 0.002, months: 12)
                == .below(12 / (12 * 0.001)))
        #expect(DecisionAnalyzer.breakEven(oneTime: 0, perRequest: nil, referenceOneTime: 0, referencePerRequest: 0.002, months: 12) == .notApplicable)
    }

    @Test func chartsEscapeLabelsAndDrawTheFrontier() throws {
        let points = [Charts.CostPoint(label: "<script>alert(1)</script>", costPer1k: 0.01, accuracy: 0.9, low: 0.85, high: 0.95),
                      Charts.CostPoint(label: "b & c", costPer1k: 1, accuracy: 0.95, low: 0.9, high: 0.97),
                      Charts.CostPoint(label: "dominated", costPer1k: 2, accuracy: 0.8, low: 0.7, high: 0.85)]
        #expect(Charts.paretoFrontier(points) == [0, 1])
        let svg = Charts.accuracyVersusCost(points, title: "t \"quoted\"")
        #expect(!svg.contains("<script"))
        #expect(svg.contains("&lt;script&gt;"))
        #expect(svg.contains("b &amp; c"))
        #expect(svg.contains("<polyline"))
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        let latency = Charts.latency([.init(label: "x<y", p50: 0.05, p95: 0.1), .init(label: "z", p50: 120, p95: 900)], title: "lat")
        #expect(XMLParser(data: Data(latency.utf8)).parse())
    }

    @Test func signTestAndMedianIntervalMatchScipy() throws {
        // scipy.stats.binomtest(15, 20, 0.5, alternative="greater").pvalue and (140, 250).
        #expect(abs(Statistics.binomialUpperTail(15, of: 20) - 0.020694732666015625) < 1e-12)
        #expect(abs(Statistics.binomialUpperTail(140, of: 250) - 0.03321057562002166) < 1e-10)
        #expect(Statistics.binomialUpperTail(0, of: 0) == 1 && Statistics.binomialUpperTail(3, of: 2) == 0)
        // Order statistics l and n + 1 − l, with l the largest for which scipy.stats.binom.cdf(l − 1, n, 0.5) ≤ 0.025:
        // n = 10 → l = 2, n = 20 → l = 6, n = 250 → l = 110; n = 5 has none (2 · 0.5⁵ > 0.05).
        let ten = (1...10).map(Double.init)
        #expect(try #require(Statistics.medianInterval(sorted: ten, alpha: 0.05)) == (2, 9))
        #expect(try #require(Statistics.medianInterval(sorted: (1...20).map(Double.init), alpha: 0.05)) == (6, 15))
        #expect(try #require(Statistics.medianInterval(sorted: (1...250).map(Double.init), alpha: 0.05)) == (110, 141))
        #expect(Statistics.medianInterval(sorted: (1...5).map(Double.init), alpha: 0.05) == nil)
    }
}
