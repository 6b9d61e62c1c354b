import Foundation

/// RFC 4180 CSV, read and written in one place.
public enum CSV {
    /// One parsed record and the line it starts on (1-based).
    public struct Record: Sendable {
        public var fields: [String]
        public var line: Int
    }

    /// Why CSV text could not be read.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses CSV text into records; quoted fields may hold commas, quotes ("") and newlines.
    public static func parse(_ text: String) throws(ParseError) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1, recordLine = 1
        var inQuotes = false, fieldWasQuoted = false, afterQuote = false
        // A line holding only "" is a record with one empty field, unlike a blank line.
        var recordHadQuote = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            if fieldWasQuoted { recordHadQuote = true }
            fieldWasQuoted = false
            afterQuote = false
        }
        while let c = pending ?? scalars.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = scalars.next() {
                        if next == "\"" { field.append("\"") } else { inQuotes = false; afterQuote = true; pending = next }
                    } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case ",":
                endField()
            case "\r", "\n":
                // CRLF, LF and a lone CR (old Mac files) all end a record.
                if c == "\r" {
                    if let next = scalars.next(), next != "\n" { pending = next }
                }
                endField()
                if !(fields.count == 1 && fields[0].isEmpty) || recordHadQuote { records.append(Record(fields: fields, line: recordLine)) }
                fields = []
                recordHadQuote = false
                line += 1
                recordLine = line
            case "\"":
                if field.isEmpty && !fieldWasQuoted && !afterQuote {
                    inQuotes = true; fieldWasQuoted = true
                } else {
                    throw ParseError(line: line, message: "a quote inside an unquoted field (quote the whole field and double the quote)")
                }
            default:
                if afterQuote { throw ParseError(line: line, message: "text after a closing quote (expected ',' or a line end)") }
                field.append(c)
            }
        }
        if inQuotes { throw ParseError(line: recordLine, message: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted {
            endField()
            records.append(Record(fields: fields, line: recordLine))
        }
        return records
    }

    /// Characters that make a spreadsheet read a cell as a formula, and the guard's own quote mark
    /// (guarded too, so `unguarded` can undo the guard exactly).
    static let guardedStarts = "=+-@\t\r'".unicodeScalars

    /// One CSV cell, quoted when needed. Cells starting with = + - @ are prefixed with a quote
    /// mark so spreadsheets do not run them as formulas (unless they are plain numbers).
    public static func cell(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, guardedStarts.contains(first), Double(text) == nil {
            text = "'" + text
        }
        // By scalar: "\r\n" is one Character, equal to neither "\r" nor "\n".
        if text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return text
    }

    /// A cell's value as it was before `cell` guarded it against formulas.
    public static func unguarded(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.first == "'", scalars.count > 1, guardedStarts.contains(scalars[scalars.index(after: scalars.startIndex)]) else { return text }
        return String(scalars.dropFirst())
    }

    /// One CSV line (with CRLF-free "\n" ending) from cells. A single empty cell is written `""`: an
    /// empty line would read back as no record at all.
    public static func row(_ cells: [String]) -> String {
        if cells.count == 1 && cells[0].isEmpty { return "\"\"\n" }
        return cells.map(cell).joined(separator: ",") + "\n"
    }
}
