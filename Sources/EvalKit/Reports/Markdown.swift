import Foundation

/// Markdown building blocks with escaping for untrusted text (dataset inputs, model outputs).
public enum Markdown {
    /// Text safe inside a table cell: one line, pipes and HTML neutralised.
    public static func cell(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "|": out += "\\|"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "`": out += "\\`"
            case "\n", "\r", "\r\n", "\t": out += " "
            default: out.append(c)
            }
        }
        return out
    }

    /// A table with a header row; cells are escaped here.
    public static func table(_ header: [String], _ rows: [[String]], alignRight: Set<Int> = []) -> String {
        var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
        out += "|" + header.indices.map { alignRight.contains($0) ? " ---: |" : " --- |" }.joined() + "\n"
        for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
        return out
    }

    /// Inline code for a value that may contain backticks.
    public static func code(_ text: String) -> String {
        let fence = text.contains("`") ? "``" : "`"
        return fence + (text.contains("`") ? " \(text) " : text) + fence
    }
}

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
}
