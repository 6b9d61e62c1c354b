import Foundation

/// Number formats shared by every report, so the same value always prints the same way.
public enum Format {
    public static func percent(_ value: Double?, digits: Int = 1) -> String {
        guard let value else { return "–" }
        return fixed(value * 100, digits: digits) + "%"
    }

    public static func fixed(_ value: Double?, digits: Int) -> String {
        guard let value, value.isFinite else { return "–" }
        let text = String(format: "%.\(digits)f", value)
        // "-0.0" reads as a sign where there is none.
        return text.hasPrefix("-") && text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(text.dropFirst()) : text
    }

    /// USD with enough digits to show small per-request amounts.
    public static func usd(_ value: Double?) -> String {
        guard let value else { return "–" }
        if value == 0 { return "$0" }
        if abs(value) >= 100 { return "$" + fixed(value, digits: 0) }
        if abs(value) >= 1 { return "$" + fixed(value, digits: 2) }
        // Three significant digits for small amounts.
        var digits = 2
        var scaled = abs(value)
        while scaled < 0.1 && digits < 12 { scaled *= 10; digits += 1 }
        return "$" + fixed(value, digits: digits + 1)
    }

    /// A size in bytes, in decimal units: 950 B, 244 kB, 5.2 MB, 1.3 GB.
    public static func bytes(_ value: Int) -> String {
        let v = Double(value)
        if v < 1000 { return "\(value) B" }
        if v < 1e6 { return fixed(v / 1e3, digits: v < 1e4 ? 1 : 0) + " kB" }
        if v < 1e9 { return fixed(v / 1e6, digits: v < 1e7 ? 1 : 0) + " MB" }
        return fixed(v / 1e9, digits: 1) + " GB"
    }

    /// A whole number with thousands separators, e.g. 100,000.
    public static func count(_ value: Double) -> String {
        let digits = fixed(value.rounded(), digits: 0)
        let negative = digits.hasPrefix("-")
        var body = Array(negative ? String(digits.dropFirst()) : digits)
        var out = ""
        while body.count > 3 {
            out = "," + String(body.suffix(3)) + out
            body.removeLast(3)
        }
        return (negative ? "-" : "") + String(body) + out
    }
}
