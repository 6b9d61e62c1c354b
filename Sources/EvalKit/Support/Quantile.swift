/// Quantiles of measured values.
public enum Quantile {
    /// The q-quantile by linear interpolation between closest ranks (numpy's default); `sorted` ascending,
    /// nil when empty.
    public static func linear(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let position = min(max(q, 0), 1) * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(sorted.count - 1, lower + 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}
