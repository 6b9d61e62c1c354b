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
