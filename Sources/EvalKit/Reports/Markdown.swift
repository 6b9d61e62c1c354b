import Foundation

/// Markdown building blocks with escaping for untrusted text (dataset inputs, model outputs).
public enum Markdown {
    /// Text safe inside a table cell or a sentence: one line; pipes, HTML, code spans, links and images
    /// neutralised; invisible and direction-changing characters shown as their code (U+202E) so text
    /// cannot hide or reorder what a reviewer reads.
    public static func cell(_ text: String) -> String {
        Text.escaped(text) { scalar in
            switch scalar {
            case "|": return "\\|"
            case "<": return "&lt;"
            case ">": return "&gt;"
            case "&": return "&amp;"
            case "`": return "\\`"
            case "[": return "\\["
            case "]": return "\\]"
            case "!": return "\\!"
            case "\n", "\r", "\t": return " "
            default: return isHidden(scalar) ? "⟨U+" + String(scalar.value, radix: 16, uppercase: true) + "⟩" : nil
            }
        }
    }

    /// Controls, bidirectional overrides and isolates, zero-width and other format characters.
    static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// A table with a header row; cells are escaped here.
    public static func table(_ header: [String], _ rows: [[String]], alignRight: Set<Int> = []) -> String {
        var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
        out += "|" + header.indices.map { alignRight.contains($0) ? " ---: |" : " --- |" }.joined() + "\n"
        for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
        return out
    }
}
