import Foundation

/// Markdown building blocks with escaping for untrusted text (dataset inputs, model outputs).
public enum Markdown {
    /// Text safe inside a table cell or a sentence: one line; pipes, HTML, code spans, links and images
    /// neutralised; invisible and direction-changing characters shown as their code (U+202E) so text
    /// cannot hide or reorder what a reviewer reads.
    public static func cell(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "|": out += "\\|"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "`": out += "\\`"
            case "[": out += "\\["
            case "]": out += "\\]"
            case "!": out += "\\!"
            case "\n", "\r", "\t": out += " "
            default:
                if isHidden(scalar) { out += "⟨U+" + String(scalar.value, radix: 16, uppercase: true) + "⟩" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
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
