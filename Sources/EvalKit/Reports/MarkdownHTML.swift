import Foundation

/// Turns the Markdown evalkit writes (headings, paragraphs, lists, tables, emphasis, code, links and
/// images) into HTML for report.html, so the page says exactly what report.md says. Never passes markup
/// through: every character of the text is escaped, `<!-- -->` comments are dropped, links go only to
/// relative paths, and images are drawn only from `images` (file name → data URI).
enum MarkdownHTML {
    static func html(_ markdown: String, images: [String: String] = [:]) -> String {
        var out = ""
        var paragraph: [String] = []
        var list: [(depth: Int, text: String)] = []
        var table: [String] = []
        func flushParagraph() {
            guard !paragraph.isEmpty else { return }
            let text = paragraph.joined(separator: " ")
            paragraph = []
            // A paragraph that is one image is a figure.
            if let figure = soleImage(text, images: images) { out += figure + "\n"; return }
            out += "<p>" + inline(text, images: images) + "</p>\n"
        }
        func flushList() {
            guard !list.isEmpty else { return }
            var depth = -1
            for item in list {
                if item.depth > depth {
                    for _ in depth..<item.depth { out += "<ul>" }
                    depth = item.depth
                } else {
                    out += "</li>"
                    while depth > item.depth { out += "</ul></li>"; depth -= 1 }
                }
                out += "<li>" + inline(item.text, images: images)
            }
            out += "</li>"
            while depth > 0 { out += "</ul></li>"; depth -= 1 }
            out += "</ul>\n"
            list = []
        }
        func flushTable() {
            guard table.count >= 2 else {
                paragraph += table
                table = []
                return
            }
            let header = cells(table[0])
            let alignment = cells(table[1]).map { $0.hasSuffix(":") }
            out += "<table class=\"sortable\"><thead><tr>"
            for (i, cell) in header.enumerated() {
                out += "<th" + (alignment.indices.contains(i) && alignment[i] ? " class=\"num\"" : "") + ">" + inline(cell, images: images) + "</th>"
            }
            out += "</tr></thead><tbody>\n"
            for row in table.dropFirst(2) {
                out += "<tr>"
                for (i, cell) in cells(row).enumerated() {
                    out += "<td" + (alignment.indices.contains(i) && alignment[i] ? " class=\"num\"" : "") + ">" + inline(cell, images: images) + "</td>"
                }
                out += "</tr>\n"
            }
            out += "</tbody></table>\n"
            table = []
        }
        func flushAll() { flushParagraph(); flushList(); flushTable() }

        var inComment = false
        for rawLine in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            if inComment {
                guard let end = line.range(of: "-->") else { continue }
                line = String(line[end.upperBound...])
                inComment = false
            }
            while let start = line.range(of: "<!--") {
                if let end = line.range(of: "-->", range: start.upperBound..<line.endIndex) {
                    line.removeSubrange(start.lowerBound..<end.upperBound)
                } else {
                    line = String(line[..<start.lowerBound])
                    inComment = true
                }
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { flushAll(); continue }
            if line.hasPrefix("#") {
                let level = line.prefix { $0 == "#" }.count
                if level <= 6, line.dropFirst(level).first == " " {
                    flushAll()
                    let text = String(line.dropFirst(level + 1))
                    out += "<h\(level) id=\"\(anchor(text))\">" + inline(text, images: images) + "</h\(level)>\n"
                    continue
                }
            }
            if trimmed.hasPrefix("|") {
                flushParagraph(); flushList()
                table.append(trimmed)
                continue
            }
            flushTable()
            let indent = line.prefix { $0 == " " }.count
            if trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") {
                flushParagraph()
                list.append((min(indent / 2, (list.last?.depth ?? -1) + 1), String(trimmed.dropFirst(2))))
                continue
            }
            if !list.isEmpty, indent >= 2 {
                list[list.count - 1].text += " " + trimmed
                continue
            }
            flushList()
            paragraph.append(trimmed)
        }
        flushAll()
        return out
    }

    /// The cells of a table row, split at pipes that are not escaped.
    static func cells(_ row: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var escaped = false
        var body = Substring(row)
        if body.hasPrefix("|") { body = body.dropFirst() }
        for ch in body {
            if escaped { current.append("\\"); current.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == "|" { cells.append(current.trimmingCharacters(in: .whitespaces)); current = ""; continue }
            current.append(ch)
        }
        if escaped { current.append("\\") }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty { cells.append(last) }
        return cells
    }

    /// An id for a heading: lower case letters and digits joined by hyphens.
    static func anchor(_ text: String) -> String {
        var out = ""
        for scalar in text.lowercased().unicodeScalars {
            if (0x61...0x7A).contains(scalar.value) || (0x30...0x39).contains(scalar.value) { out.unicodeScalars.append(scalar) } else if !out.hasSuffix("-") && !out.isEmpty { out += "-" }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "section" : out
    }

    private static func soleImage(_ text: String, images: [String: String]) -> String? {
        guard text.hasPrefix("!["), text.hasSuffix(")"), let middle = text.range(of: "]("),
              !text[middle.upperBound...].contains("("), !text[text.index(text.startIndex, offsetBy: 2)..<middle.lowerBound].contains("]") else { return nil }
        let alt = String(text[text.index(text.startIndex, offsetBy: 2)..<middle.lowerBound])
        let source = String(text[middle.upperBound..<text.index(before: text.endIndex)])
        guard let uri = images[source] else { return nil }
        return "<figure><img src=\"\(escape(uri))\" alt=\"\(escape(plain(alt)))\"><figcaption>\(inline(alt, images: [:]))</figcaption></figure>"
    }

    /// Inline Markdown: backslash escapes, the entities Markdown.cell writes, **bold**, `code`, links and
    /// images. Everything else is text.
    static func inline(_ text: String, images: [String: String]) -> String {
        let chars = Array(text)
        var out = ""
        var bold = false
        var i = 0
        func closing(_ marker: Character, from start: Int) -> Int? {
            var j = start
            while j < chars.count {
                if chars[j] == "\\" { j += 2; continue }
                if chars[j] == marker { return j }
                j += 1
            }
            return nil
        }
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1].isPunctuation || chars[i + 1].isSymbol {
                out += escape(String(chars[i + 1])); i += 2; continue
            }
            if c == "&", let entity = entity(chars, at: i) {
                out += escape(entity.text); i += entity.length; continue
            }
            if c == "*", i + 1 < chars.count, chars[i + 1] == "*" {
                out += bold ? "</strong>" : "<strong>"
                bold.toggle(); i += 2; continue
            }
            if c == "`", let end = chars[(i + 1)...].firstIndex(of: "`") {
                out += "<code>" + escape(String(chars[(i + 1)..<end])) + "</code>"
                i = end + 1; continue
            }
            let isImage = c == "!" && i + 1 < chars.count && chars[i + 1] == "["
            if c == "[" || isImage, let close = closing("]", from: i + (isImage ? 2 : 1)),
               close + 1 < chars.count, chars[close + 1] == "(", let end = closing(")", from: close + 2) {
                let label = String(chars[(i + (isImage ? 2 : 1))..<close])
                let target = String(chars[(close + 2)..<end])
                if isImage {
                    if let uri = images[target] { out += "<img src=\"\(escape(uri))\" alt=\"\(escape(plain(label)))\">" } else { out += inline(label, images: [:]) }
                } else if isRelative(target) {
                    out += "<a href=\"\(escape(target))\">" + inline(label, images: [:]) + "</a>"
                } else {
                    out += inline(label, images: [:])
                }
                i = end + 1; continue
            }
            out += escape(String(c))
            i += 1
        }
        if bold { out += "</strong>" }
        return out
    }

    /// The text of inline Markdown without its markup (for alt text).
    static func plain(_ text: String) -> String {
        var out = ""
        var escaped = false
        for ch in text {
            if escaped { out.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == "*" || ch == "`" { continue }
            out.append(ch)
        }
        return out.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// A link target evalkit may point at: a file beside the report or below it, or an anchor; never a
    /// scheme (javascript:, data:, http:) or a path out of the folder.
    static func isRelative(_ target: String) -> Bool {
        guard !target.isEmpty, !target.contains(":"), !target.hasPrefix("/"), !target.hasPrefix("\\") else { return false }
        return !target.split(separator: "/").contains("..")
    }

    private static func entity(_ chars: [Character], at i: Int) -> (text: String, length: Int)? {
        for (name, text) in [("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"), ("&quot;", "\"")] {
            let pattern = Array(name)
            if i + pattern.count <= chars.count, Array(chars[i..<(i + pattern.count)]) == pattern { return (text, pattern.count) }
        }
        return nil
    }

    /// Text safe anywhere in HTML: in an element or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
