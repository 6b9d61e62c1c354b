import Foundation

/// The statistics behind the decision: intervals, paired tests, multiplicity and power.
public enum Statistics {
    /// z for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// Wilson score interval for a proportion (Wilson 1927; Newcombe 1998, method 3).
    public static func wilson(successes: Int, trials: Int, z: Double = z95) -> (low: Double, high: Double)? {
        guard trials > 0 else { return nil }
        let n = Double(trials), p = Double(successes) / n
        let denominator = 1 + z * z / n
        let centre = p + z * z / (2 * n)
        let half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return (max(0, (centre - half) / denominator), min(1, (centre + half) / denominator))
    }

    /// Exact (binomial) two-sided McNemar test on the discordant pairs: `b` pairs where only the
    /// first is right, `c` where only the second is. p = min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½).
    public static func mcNemarExact(b: Int, c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        let k = min(b, c)
        var cumulative = 0.0
        for i in 0...k { cumulative += exp(logChoose(n, i) - Double(n) * log(2)) }
        return min(1, 2 * cumulative)
    }

    /// P(X ≥ k) for X ~ Binomial(n, ½): the one-sided p-value of an exact sign test in which k of n
    /// non-tied pairs went one way.
    public static func binomialUpperTail(_ k: Int, of n: Int) -> Double {
        guard n > 0 else { return 1 }
        guard k > 0 else { return 1 }
        guard k <= n else { return 0 }
        var total = 0.0
        for i in k...n { total += exp(logChoose(n, i) - Double(n) * log(2)) }
        return min(1, total)
    }

    /// Distribution-free interval for the median of `sorted` values with coverage at least 1 − α:
    /// order statistics x₍ₗ₎ and x₍ₙ₊₁₋ₗ₎ with the largest l for which P(X ≤ l − 1) ≤ α/2, X ~ Bin(n, ½).
    /// Nil when n is too small for any interval at that level (n ≤ 5 at α = 0.05).
    public static func medianInterval(sorted: [Double], alpha: Double) -> (low: Double, high: Double)? {
        let n = sorted.count
        guard n > 0, alpha > 0, alpha < 1 else { return nil }
        var cumulative = 0.0, l = 0
        // cumulative = P(X ≤ l) as l grows; keep the last l + 1 for which P(X ≤ l) ≤ α/2.
        for i in 0..<((n + 1) / 2) {
            cumulative += exp(logChoose(n, i) - Double(n) * log(2))
            if cumulative > alpha / 2 { break }
            l = i + 1
        }
        guard l >= 1 else { return nil }
        return (sorted[l - 1], sorted[n - l])
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }

    /// Tango's score statistic (Tango 1998) for H0: θ = θ0, where θ = p(first right only) − p(second
    /// right only) is the paired difference in accuracy; `b` pairs where only the first is right, `c`
    /// where only the second is, `n` pairs in all. Positive when the data favour a larger θ.
    public static func tangoScore(theta: Double, b: Int, c: Int, n: Int) -> Double {
        let N = Double(n), x12 = Double(b), x21 = Double(c)
        let numerator = x12 - x21 - N * theta
        if numerator == 0 { return 0 }
        // The restricted maximum-likelihood estimate of p21 under θ (a root of A·p² + B·p + C = 0).
        let A = 2 * N, B = -x12 - x21 + (2 * N - x12 + x21) * theta, C = -x21 * theta * (1 - theta)
        let p21 = (sqrt(max(0, B * B - 4 * A * C)) - B) / (2 * A)
        let variance = N * (2 * p21 + theta * (1 - theta))
        guard variance > 0 else { return numerator > 0 ? .infinity : -.infinity }
        return numerator / sqrt(variance)
    }

    /// Tango's asymptotic score interval for a paired difference in accuracy at level 1 − α: every θ the
    /// score test does not reject. Unlike a bootstrap it has a width at any n, also with no discordant
    /// pairs, and holds its coverage at small n (Fagerland, Lydersen & Laake 2014). Nil without pairs.
    public static func tangoInterval(b: Int, c: Int, n: Int, alpha: Double) -> (low: Double, high: Double)? {
        guard n > 0, b >= 0, c >= 0, b + c <= n, alpha > 0, alpha < 1 else { return nil }
        let z = normalQuantile(1 - alpha / 2)
        let estimate = Double(b - c) / Double(n)
        // The score falls as θ grows, so each bound is the one root of a monotone function.
        func root(_ target: Double) -> Double {
            var low = -1 + 1e-12, high = 1 - 1e-12
            for _ in 0..<200 {
                let mid = (low + high) / 2
                if tangoScore(theta: mid, b: b, c: c, n: n) > target { low = mid } else { high = mid }
            }
            return (low + high) / 2
        }
        return (estimate == -1 ? -1 : root(z), estimate == 1 ? 1 : root(-z))
    }

    /// One-sided p-value of Tango's score test of H0: θ ≤ θ0 against θ > θ0 (non-inferiority when θ0 is
    /// minus the margin).
    public static func tangoUpperP(theta: Double, b: Int, c: Int, n: Int) -> Double {
        guard n > 0 else { return 1 }
        return normalUpperTail(tangoScore(theta: theta, b: b, c: c, n: n))
    }

    /// P(Z > z) for a standard normal Z.
    public static func normalUpperTail(_ z: Double) -> Double {
        if z == .infinity { return 0 }
        if z == -.infinity { return 1 }
        return 0.5 * erfc(z / 2.0.squareRoot())
    }

    /// Holm's step-down adjustment of p-values (Holm 1979); controls the family-wise error rate.
    public static func holm(_ pValues: [Double]) -> [Double] {
        let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
        var adjusted = [Double](repeating: 1, count: pValues.count)
        var running = 0.0
        for (rank, index) in order.enumerated() {
            running = max(running, min(1, Double(pValues.count - rank) * pValues[index]))
            adjusted[index] = running
        }
        return adjusted
    }

    /// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
    public static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = sqrt(-2 * log(p))
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low { return -normalQuantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }

    /// Paired examples needed to show non-inferiority (θ > −margin) with the given power when the true
    /// difference is `delta` and the discordance ψ, by the normal approximation to the one-sided test at
    /// α/2: n = (z₁₋α/₂ + z_power)² · (ψ − δ²) / (δ + margin)². Nil when δ ≤ −margin (more examples would
    /// only confirm the shortfall). ψ is taken as at least one discordant pair in `observedPairs`, so a
    /// run with none (identical answers) still gets a finite figure.
    public static func nonInferioritySampleSize(delta: Double, discordance: Double, margin: Double, observedPairs: Int,
                                                alpha: Double = 0.05, power: Double = 0.8) -> Int? {
        let gap = delta + margin
        guard gap > 0, observedPairs > 0 else { return nil }
        let psi = max(discordance, 1 / Double(observedPairs))
        let variance = max(psi - delta * delta, 1e-12)
        let z = normalQuantile(1 - alpha / 2) + normalQuantile(power)
        let n = z * z * variance / (gap * gap)
        guard n.isFinite, n < 1e12 else { return nil }
        return max(1, Int(n.rounded(.up)))
    }

    /// Paired examples needed for a McNemar test to detect an accuracy difference `delta` with the
    /// given discordance rate ψ (share of pairs where exactly one is right), two-sided α and power
    /// (Connor 1987: n = (z_{α/2}·√ψ + z_β·√(ψ − δ²))² / δ²). Nil when δ is not below ψ.
    public static func pairedSampleSize(delta: Double, discordance: Double, alpha: Double = 0.05, power: Double = 0.8) -> Int? {
        let d = abs(delta)
        guard d > 0, discordance > d * d else { return nil }
        let za = normalQuantile(1 - alpha / 2), zb = normalQuantile(power)
        let root = za * sqrt(discordance) + zb * sqrt(discordance - d * d)
        // A difference near zero (a margin of 1e-200) needs more pairs than any count can say.
        let n = root * root / (d * d)
        guard n.isFinite, n < 1e12 else { return nil }
        return Int(n.rounded(.up))
    }

    /// The smallest accuracy difference a McNemar test on `n` pairs with discordance ψ detects with
    /// the given α and power (inverse of `pairedSampleSize`, found by bisection). Nil when none is
    /// detectable: a difference can never exceed the discordance (|b − c| ≤ b + c), so an answer at or
    /// above ψ is outside what these pairs can show.
    public static func minimumDetectableDifference(pairs n: Int, discordance: Double, alpha: Double = 0.05, power: Double = 0.8) -> Double? {
        guard n > 0, discordance > 0 else { return nil }
        var low = 1e-6, high = min(sqrt(discordance) * 0.999_999, discordance)
        guard let atHigh = pairedSampleSize(delta: high, discordance: discordance, alpha: alpha, power: power), atHigh <= n else { return nil }
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if let needed = pairedSampleSize(delta: mid, discordance: discordance, alpha: alpha, power: power), needed <= n {
                high = mid
            } else {
                low = mid
            }
        }
        return high
    }

    // MARK: scores that are not right-or-wrong

    /// Two-sided p-value of the paired sign-flip permutation test of "the mean difference is 0", as
    /// scipy.stats.permutation_test defines it for paired samples (twice the smaller tail, at most 1):
    /// every sign pattern of the non-zero differences when there are at most 2¹⁶ of them (exact), else
    /// `resamples` random patterns from `seed`, counting the observed one ((k + 1) ÷ (resamples + 1)).
    public static func signFlipP(_ differences: [Double], resamples: Int = 9_999, seed: UInt64 = bootstrapSeed) -> Double {
        let d = differences.filter { $0 != 0 }
        guard !d.isEmpty else { return 1 }
        let observed = d.reduce(0, +)
        // Sums that equal the observed one up to rounding count as equal (scipy's relative tolerance).
        let tolerance = abs(observed) * 1e-12 + 1e-12
        var atLeast = 0, atMost = 0, total = 0
        func tally(_ sum: Double) {
            if sum >= observed - tolerance { atLeast += 1 }
            if sum <= observed + tolerance { atMost += 1 }
            total += 1
        }
        if d.count <= 16 {
            for pattern in 0..<(1 << d.count) {
                var sum = 0.0
                for (j, x) in d.enumerated() { sum += pattern & (1 << j) == 0 ? x : -x }
                tally(sum)
            }
            return min(1, 2 * Double(min(atLeast, atMost)) / Double(total))
        }
        var random = SeededRandom(seed: seed)
        for _ in 0..<resamples {
            var sum = 0.0, bits: UInt64 = 0
            for (j, x) in d.enumerated() {
                if j % 64 == 0 { bits = random.next() }
                sum += bits & 1 == 0 ? x : -x
                bits >>= 1
            }
            tally(sum)
        }
        return min(1, 2 * Double(min(atLeast, atMost) + 1) / Double(total + 1))
    }

    /// The seed of every resampling method here: figures do not change from run to run.
    public static let bootstrapSeed: UInt64 = 0x6576_616c_6b69_74

    /// Percentile bootstrap of a mean: the 1 − α interval from `resamples` resamples drawn from `seed`
    /// (quantiles interpolated as numpy's default), and the share of resampled means at or below
    /// `threshold` counting the observed one ((k + 1) ÷ (resamples + 1)): a one-sided p-value of "the
    /// mean is at most `threshold`". Nil for no values.
    public static func bootstrapMean(_ values: [Double], alpha: Double, threshold: Double = 0, resamples: Int = 2_000,
                                     seed: UInt64 = bootstrapSeed) -> (low: Double, high: Double, shareAtOrBelow: Double)? {
        guard !values.isEmpty else { return nil }
        var random = SeededRandom(seed: seed)
        let n = values.count
        var means = [Double](repeating: 0, count: resamples)
        for b in 0..<resamples {
            var sum = 0.0
            for _ in 0..<n { sum += values[Int(random.next() % UInt64(n))] }
            means[b] = sum / Double(n)
        }
        means.sort()
        let atOrBelow = means.count { $0 <= threshold }
        return (MetricsCalculator.percentile(means, alpha / 2) ?? 0, MetricsCalculator.percentile(means, 1 - alpha / 2) ?? 0,
                Double(atOrBelow + 1) / Double(resamples + 1))
    }

    /// Pairs a two-sided test of a mean difference needs to detect `delta` with the given power when the
    /// differences have variance `variance` (normal approximation: n = (z₁₋α/₂ + z_power)² · σ² / δ²).
    public static func meanDifferenceSampleSize(delta: Double, variance: Double, alpha: Double = 0.05, power: Double = 0.8) -> Int? {
        let d = abs(delta)
        guard d > 0, variance > 0 else { return nil }
        let z = normalQuantile(1 - alpha / 2) + normalQuantile(power)
        let n = z * z * variance / (d * d)
        guard n.isFinite, n < 1e12 else { return nil }
        return max(1, Int(n.rounded(.up)))
    }

    /// The smallest mean difference `n` pairs with variance `variance` detect (the inverse of
    /// `meanDifferenceSampleSize`): (z₁₋α/₂ + z_power) · σ / √n.
    public static func minimumDetectableMeanDifference(pairs n: Int, variance: Double, alpha: Double = 0.05, power: Double = 0.8) -> Double? {
        guard n > 0, variance > 0 else { return nil }
        return (normalQuantile(1 - alpha / 2) + normalQuantile(power)) * variance.squareRoot() / Double(n).squareRoot()
    }
}
