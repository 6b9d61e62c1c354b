import Foundation

/// judgements.jsonl: the LLM judge's grades, one JSON line each (`Judgement`), appended as they arrive
/// beside results.jsonl, which they complete: written and read here and nowhere else.
public enum JudgementsFile {
    public static let name = "judgements.jsonl"

    /// Appends judgements as lines (creating the file), in one write.
    public static func append(_ judgements: [Judgement], directory: String) throws(ReportError) {
        var lines: [UInt8] = []
        for judgement in judgements {
            judgement.json.encode(into: &lines)
            lines.append(UInt8(ascii: "\n"))
        }
        try ResultsJournal.appendLines(lines, to: directory + "/" + name)
    }

    /// The judgements of a run folder (none when it has no file). A torn last line (a run killed inside a
    /// write) is left out; a bad line anywhere else is an error naming it.
    public static func read(directory: String) throws(DataError) -> [Judgement] {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var judgements: [Judgement] = []
        var bad: Int? = nil
        do {
            _ = try ResultsJournal.forEachLine(path) { line, number, complete, _ in
                if line.isEmpty { return true }
                guard let json = try? JSON.parse(bytes: Array(line)), let judgement = Judgement(json: json) else {
                    if complete { bad = number }
                    return false
                }
                judgements.append(judgement)
                return true
            }
        } catch { throw .unreadable(file: path, reason: error.localizedDescription) }
        if let bad { throw .badRecord(file: path, line: bad, reason: "not a judgement evalkit wrote (candidate, example_id, repeat, latency_ms, attempts)") }
        return judgements
    }
}
