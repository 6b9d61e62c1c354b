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
        // A difference so small that no count of pairs could show it (the formula overflows to infinity): none, not a trap.
        #expect(Statistics.pairedSampleSize(delta: 1e-200, discordance: 0.3) == nil)
        let mde = try #require(Statistics.minimumDetectableDifference(pairs: 234, discordance: 0.3))
        #expect(abs(mde - 0.1) < 0.002)
        #expect((Statistics.pairedSampleSize(delta: mde, discordance: 0.3) ?? .max) <= 234)
    }

    @Test func tangoIntervalMatchesAnIndependentImplementation() throws {
        // Expected bounds from scipy.optimize.brentq on Tango's score statistic (the formulas of Fagerland,
        // Lydersen & Laake, "Statistical Analysis of Contingency Tables", ch. 8), in (b, c, n, α) order.
        let cases: [(Int, Int, Int, Double, Double, Double)] = [
            (40, 20, 160, 0.05, 0.0308645331, 0.2180642442),
            (0, 0, 1, 0.05, -0.7934506856, 0.7934506856),     // one example: never [0, 0]
            (1, 0, 1, 0.05, -0.5869013712, 1.0),               // one discordant pair: never [+100, +100]
            (0, 0, 250, 0.05, -0.0151332995, 0.0151332995),   // no discordant pair: a width all the same
            (7, 0, 100, 0.05, 0.0304169569, 0.1374951474),
            (3, 4, 100, 0.05, -0.0732796184, 0.0508348187),
            (30, 5, 250, 0.01, 0.0435332595, 0.1663678878),
            (1, 7, 21, 0.05, -0.5172322764, -0.0260030325),   // Bentur et al. (2009), the book's example
        ]
        for (b, c, n, alpha, low, high) in cases {
            let interval = try #require(Statistics.tangoInterval(b: b, c: c, n: n, alpha: alpha))
            #expect(abs(interval.low - low) < 1e-7 && abs(interval.high - high) < 1e-7, "(\(b), \(c), \(n), \(alpha)): \(interval)")
        }
        #expect(Statistics.tangoInterval(b: 0, c: 0, n: 0, alpha: 0.05) == nil)
        // At θ = 0 the score statistic is McNemar's: statsmodels mcnemar([[100, 40], [20, 0]], exact=False, correction=False).statistic = 6.6667.
        #expect(abs(pow(Statistics.tangoScore(theta: 0, b: 40, c: 20, n: 160), 2) - 20.0 / 3) < 1e-9)
        // One-sided p of "θ ≤ −0.03": scipy.stats.norm.sf of the same statistic.
        #expect(abs(Statistics.tangoUpperP(theta: -0.03, b: 14, c: 13, n: 400) - 0.01001163251) < 1e-9)
        #expect(abs(Statistics.tangoUpperP(theta: -0.03, b: 0, c: 20, n: 400) - 0.9904824159) < 1e-9)
    }

    @Test func sampleSizesStayInsideTheirDomain() throws {
        // Non-inferiority at δ = 0, ψ = 0.1, margin 0.03: (1.95996 + 0.84162)² · 0.1 / 0.03² = 872.1 → 873.
        #expect(Statistics.nonInferioritySampleSize(delta: 0, discordance: 0.1, margin: 0.03, observedPairs: 400) == 873)
        // Beyond the margin, more examples cannot show it; with no discordant pair, one is assumed.
        #expect(Statistics.nonInferioritySampleSize(delta: -0.05, discordance: 0.05, margin: 0.03, observedPairs: 400) == nil)
        #expect(Statistics.nonInferioritySampleSize(delta: 0, discordance: 0, margin: 0.03, observedPairs: 20) == 437)
        // A difference can never exceed the discordance: none is "detectable" above it.
        #expect(Statistics.minimumDetectableDifference(pairs: 2, discordance: 0.5) == nil)
        if let mde = Statistics.minimumDetectableDifference(pairs: 400, discordance: 0.04) { #expect(mde <= 0.04) }
    }
}

extension Experiment {
    func withSeed(_ seed: UInt64) -> Experiment { var copy = self; copy.run.seed = seed; return copy }
    func reversingCandidates() -> Experiment { var copy = self; copy.candidates.reverse(); return copy }
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

    func analyze(_ e: Experiment, big: (Int) -> Bool, tuned: (Int) -> Bool, n: Int = 400, tunedFails: (Int) -> Bool = { _ in false }) -> DecisionAnalysis {
        var tunedResults = results("tuned:p", model: "tuned", n: n, tokens: (100, 10), price: (1, 2), latency: 100, right: tuned)
        for i in tunedResults.indices where tunedFails(i) {
            tunedResults[i].output = nil; tunedResults[i].label = nil; tunedResults[i].correct = false
            tunedResults[i].costUSD = nil; tunedResults[i].error = "HTTP 500 from the test"
        }
        var all = [results("big:p", model: "big", n: n, tokens: (1000, 10), price: (10, 30), latency: 800, right: big), tunedResults]
        if e.candidates.first?.modelID == "tuned" { all.reverse() }
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

    /// One pair of candidates where the tuned one is right on 14 examples the big one gets wrong, and wrong on 13 it gets right.
    func marginCase(_ e: Experiment) -> DecisionAnalysis {
        analyze(e, big: { ($0 >= 14 && $0 < 27) || ($0 >= 27 && $0 % 5 != 0) }, tuned: { $0 < 14 || ($0 >= 27 && $0 % 5 != 0) })
    }

    @Test func oneOrTwoExamplesNeverMoveTheDecision() throws {
        let e = try experiment("{\"margin\": 0.03}")
        // n = 1, the tuned model right and the big one wrong: Tango (b 1, c 0, n 1) is −58.7 to +100 points.
        let one = analyze(e, big: { _ in false }, tuned: { _ in true }, n: 1)
        #expect(one.verdict == .notEnoughEvidence(candidates: ["tuned:p"], fallback: "big:p"))
        let c = try #require(one.assessment("tuned:p")?.comparison)
        #expect(abs(c.low + 0.5869013712) < 1e-7 && c.high == 1)
        #expect(one.assessment("tuned:p")?.nonInferiority?.status == .inconclusive)
        #expect(one.assessment("tuned:p")?.recommended == false && one.assessment("big:p")?.recommended == false)
        // n = 2, one discordant pair: −48.6 to +90.5 points; still not enough.
        let two = analyze(e, big: { _ in false }, tuned: { $0 == 0 }, n: 2)
        #expect(two.verdict == .notEnoughEvidence(candidates: ["tuned:p"], fallback: "big:p"))
        let c2 = try #require(two.assessment("tuned:p")?.comparison)
        #expect(abs(c2.low + 0.4864296587) < 1e-7 && abs(c2.high - 0.9054687943) < 1e-7)
    }

    @Test func everyAnswerRightOnTwentyIsNotEnoughButOnFourHundredIs() throws {
        let e = try experiment("{\"margin\": 0.03}")
        let few = analyze(e, big: { _ in true }, tuned: { _ in true }, n: 20)
        #expect(few.verdict == .notEnoughEvidence(candidates: ["tuned:p"], fallback: "big:p"))
        let c = try #require(few.assessment("tuned:p")?.comparison)
        #expect(abs(c.low + 0.1611251581) < 1e-7 && abs(c.high - 0.1611251581) < 1e-7)
        // No discordant pair: one is assumed, so the figure is finite (scipy: ceil((z.975 + z.8)² · (1/20) / 0.03²) = 437).
        #expect(few.assessment("tuned:p")?.nonInferiority?.examplesNeeded == 437)
        #expect(c.minimumDetectable == nil)
        // Identical candidates on 400 examples: ±0.95 points, inside the margin.
        let many = analyze(e, big: { $0 % 5 != 0 }, tuned: { $0 % 5 != 0 }, n: 400)
        #expect(many.verdict == .moveTo(candidate: "tuned:p"))
        #expect(abs((many.assessment("tuned:p")?.comparison?.high ?? 0) - 0.0095122943) < 1e-7)
    }

    @Test func failedRequestsCountAsWrong() throws {
        let e = try experiment("{\"margin\": 0.03}")
        // The tuned model's calls fail on exactly the 20 of 400 examples it would get wrong.
        let a = analyze(e, big: { _ in true }, tuned: { $0 >= 20 }, tunedFails: { $0 < 20 })
        let tuned = try #require(a.assessment("tuned:p"))
        #expect(tuned.metrics.accuracy == 0.95 && tuned.metrics.answeredAccuracy == 1)
        // statsmodels proportion_confint(380, 400, method="wilson") = (0.92403636, 0.96740257).
        #expect(abs((tuned.accuracyLow ?? 0) - 0.9240363649) < 1e-9 && abs((tuned.accuracyHigh ?? 0) - 0.9674025702) < 1e-9)
        let c = try #require(tuned.comparison)
        #expect(abs(c.difference + 0.05) < 1e-12 && c.pValue < 0.0001)
        // Tango (b 0, c 20, n 400): −7.60 to −3.26 points, wholly below −3: inferior.
        #expect(abs(c.low + 0.0759636351) < 1e-7 && abs(c.high + 0.0325974298) < 1e-7)
        #expect(tuned.nonInferiority?.status == .inferior)
        #expect(a.verdict == .keepFoundation(candidate: "big:p"))
    }

    @Test func alphaDrivesEveryIntervalAndTheVerdict() throws {
        // 14 examples only the tuned model gets right, 13 only the big one: NI p = 0.0100 (scipy norm.sf of Tango's statistic at −0.03).
        let loose = marginCase(try experiment("{\"margin\": 0.03, \"alpha\": 0.05}"))
        let c = try #require(loose.assessment("tuned:p")?.comparison)
        #expect(c.candidateBetter == 14 && c.referenceBetter == 13)
        #expect(abs(c.low + 0.0243305524) < 1e-7 && abs(c.high - 0.0295706539) < 1e-7)
        #expect(loose.verdict == .moveTo(candidate: "tuned:p"))
        let strict = marginCase(try experiment("{\"margin\": 0.03, \"alpha\": 0.01}"))
        let s = try #require(strict.assessment("tuned:p")?.comparison)
        #expect(abs(s.low + 0.0340484239) < 1e-7 && abs(s.high - 0.0394193074) < 1e-7)
        #expect(strict.verdict == .notEnoughEvidence(candidates: ["tuned:p"], fallback: "big:p"))
        // The Wilson interval follows α too: statsmodels proportion_confint(k, 400, alpha=0.01, method="wilson").
        let big = try #require(strict.assessment("big:p"))
        let k = big.metrics.correct
        let expected = try #require(Statistics.wilson(successes: k, trials: 400, z: Statistics.normalQuantile(0.995)))
        #expect(big.accuracyLow == expected.low)
        #expect((big.accuracyHigh ?? 0) - (big.accuracyLow ?? 0) > (loose.assessment("big:p")?.accuracyHigh ?? 1) - (loose.assessment("big:p")?.accuracyLow ?? 0))
    }

    @Test func theVerdictDependsOnNoSeedAndNoCandidateOrder() throws {
        var verdicts: Set<String> = []
        for seed in 0..<50 {
            let a = marginCase(try experiment("{\"margin\": 0.03}").withSeed(UInt64(seed)))
            verdicts.insert("\(a.verdict) \(a.assessment("tuned:p")?.comparison.map { "\($0.low) \($0.high)" } ?? "")")
        }
        #expect(verdicts.count == 1)
        let forward = marginCase(try experiment("{\"margin\": 0.03}"))
        let backward = marginCase(try experiment("{\"margin\": 0.03}").reversingCandidates())
        #expect(forward.verdict == backward.verdict)
        for id in ["big:p", "tuned:p"] {
            let x = try #require(forward.assessment(id)), y = try #require(backward.assessment(id))
            #expect(AnalysisFile.candidate(x) == AnalysisFile.candidate(y), "\(id)")
        }
    }

    @Test func theAccuracyRequirementCanAskForConfidence() throws {
        let e = try experiment("{\"requirements\": {\"min_accuracy\": 0.93, \"min_accuracy_by\": \"lower_bound\"}}")
        // 95% on 400: Wilson lower bound 92.4% < 93%.
        let a = analyze(e, big: { _ in true }, tuned: { $0 >= 20 })
        #expect(a.assessment("tuned:p")?.requirementFailures.first?.contains("lower bound of its accuracy interval, 92.4%") == true)
        let estimate = analyze(try experiment("{\"requirements\": {\"min_accuracy\": 0.93}}"), big: { _ in true }, tuned: { $0 >= 20 })
        #expect(estimate.assessment("tuned:p")?.requirementFailures.isEmpty == true)
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

    @Test func chartsOfExtremeFiguresFinishAndStayReadable() {
        // Figures a damaged or hostile results file can produce: the largest double (whose decade is infinite),
        // zero, subnormal, negative, infinite and NaN values, and a range below the values' precision. Each chart
        // must come back (the latency chart looped for ever on the largest double) as well-formed SVG.
        let extremes = [Double.greatestFiniteMagnitude, 1e300, 0, 1e-320, -5, .infinity, -.infinity, .nan, 1e16, 1e16 + 2]
        for a in extremes {
            for b in extremes {
                let latency = Charts.latency([.init(label: "a", p50: a, p95: b), .init(label: "b", p50: 1, p95: b)], title: "lat")
                #expect(XMLParser(data: Data(latency.utf8)).parse(), "latency chart for \(a), \(b)")
                let cost = Charts.accuracyVersusCost([.init(label: "a", costPer1k: a, accuracy: 0.5, low: 0.4, high: 0.6),
                                                      .init(label: "b", costPer1k: b, accuracy: 0.7, low: 0.6, high: 0.8)], title: "cost")
                #expect(XMLParser(data: Data(cost.utf8)).parse(), "cost chart for \(a), \(b)")
                let lines = Charts.lines([.init(name: "loss", color: "#000", dashed: false, points: [(x: a, y: b), (x: 1, y: 2), (x: b, y: a)])],
                                         title: "curve", xLabel: "step", yLabel: "loss")
                #expect(XMLParser(data: Data(lines.utf8)).parse(), "training chart for \(a), \(b)")
                let curve = Charts.dataEfficiency([.init(name: "builtin", points: [(examples: 32, accuracy: a, low: b, high: a), (examples: Int.max, accuracy: 0.5, low: 0.4, high: 0.6)])],
                                                  reference: (label: "ref", accuracy: b), margin: a, title: "curve")
                #expect(XMLParser(data: Data(curve.utf8)).parse(), "data-efficiency chart for \(a), \(b)")
            }
        }
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

    @Test func resamplingMethodsForScoresMatchScipy() throws {
        // scipy.stats.permutation_test((d, zeros), mean of differences, permutation_type="samples", n_resamples=np.inf).pvalue.
        #expect(Statistics.signFlipP([0.5, -0.25, 1, 0, 0.75, -0.5, 0.25, 1, 0.125, 0.5]) == 0.08203125)
        #expect(Statistics.signFlipP([0.25, -0.25, 0.5, -0.5, 0.125, 0, 0, 0.25]) == 0.78125)
        #expect(Statistics.signFlipP([0, 0, 0]) == 1)
        // More than 2¹⁶ sign patterns: random ones, still a valid p-value, and the same on every call.
        let many = (0..<40).map { Double($0 % 7) / 10 - 0.2 }
        let p = Statistics.signFlipP(many)
        #expect(p > 0 && p <= 1 && p == Statistics.signFlipP(many))
        // scipy.stats.bootstrap((v,), np.mean, method="percentile", n_resamples=200000, random_state=1): (0.40375, 0.58125);
        // 2,000 resamples put each bound within about 0.01 of it.
        let v = Array(repeating: [0.1, 0.9, 0.4, 0.4, 1.0, 0.0, 0.7, 0.3, 0.55, 0.8, 0.2, 0.65, 0.45, 0.35, 0.9, 0.05, 0.6, 0.5, 0.75, 0.25], count: 2).flatMap { $0 }
        let interval = try #require(Statistics.bootstrapMean(v, alpha: 0.05, threshold: 0.4))
        #expect(abs(interval.low - 0.40375) < 0.015 && abs(interval.high - 0.58125) < 0.015)
        // The mean 0.4925 sits above 0.4 with the lower bound: few resampled means fall at or below it.
        #expect(interval.shareAtOrBelow < 0.05)
        #expect(Statistics.bootstrapMean([], alpha: 0.05) == nil)
        // ceil((norm.ppf(0.975) + norm.ppf(0.8))² · 0.09 / 0.05²) = 283; (z sum) · 0.3 / √400 = 0.042023778271694526.
        #expect(Statistics.meanDifferenceSampleSize(delta: 0.05, variance: 0.09) == 283)
        #expect(abs((Statistics.minimumDetectableMeanDifference(pairs: 400, variance: 0.09) ?? 0) - 0.042023778271694526) < 1e-8)
        #expect(Statistics.meanDifferenceSampleSize(delta: 0.05, variance: 0) == nil)
    }

    @Test func resultLinesOfEitherLayoutRead() throws {
        // Layout 1 had no score: a right answer scores 1, a wrong one 0.
        let old = try JSON.parse(#"{"candidate": "c", "model": "m", "example_id": "e", "target": "a", "correct": true, "latency_ms": 1}"#)
        #expect(ExampleResult(json: old)?.score == 1)
        let wrong = try JSON.parse(#"{"candidate": "c", "model": "m", "example_id": "e", "target": "a", "correct": false, "latency_ms": 1}"#)
        #expect(ExampleResult(json: wrong)?.score == 0)
        var partial = ExampleResult(candidate: "c", model: "m", prompt: nil, exampleID: "e", target: "a", output: "b", label: "b", correct: false, latencyMs: 2)
        partial.score = 0.1234567
        let back = try #require(ExampleResult(json: try JSON.parse(partial.json.encoded())))
        #expect(back.score == 0.123457 && !back.correct && back == partial.rounded())
        for bad in ["1.5", "-0.1", "\"1\""] {
            let line = #"{"candidate": "c", "model": "m", "example_id": "e", "target": "a", "correct": true, "latency_ms": 1, "score": "# + bad + "}"
            #expect(ExampleResult(json: try JSON.parse(line)) == nil, "score \(bad)")
        }
    }
}
