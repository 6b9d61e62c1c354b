import Foundation

/// results.jsonl: one JSON line per finished request, appended and flushed as results arrive.
public final class ResultsJournal: Sendable {
    public let path: String
    private let handle: FileHandle

    /// Opens (creating if needed) the journal at `path` for appending.
    public init(path: String) throws(ReportError) {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw .cannotWrite(path: path, reason: "cannot create the file")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw .cannotWrite(path: path, reason: "cannot open for writing") }
        do { try handle.seekToEnd() } catch { throw .cannotWrite(path: path, reason: error.localizedDescription) }
        self.path = path
        self.handle = handle
    }

    /// Appends one result as a line; written through to the file at once.
    public func append(_ result: ExampleResult) throws(ReportError) {
        do { try handle.write(contentsOf: Data((result.json.encoded() + "\n").utf8)) } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    public func close() {
        try? handle.synchronize()
        try? handle.close()
    }

    /// Reads every result of a journal; a torn or unreadable line is reported with its number.
    public static func read(path: String) throws(DataError) -> [ExampleResult] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(file: path, reason: "no such file") }
        var results: [ExampleResult] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let json = try? JSON.parse(bytes: Array(line)), let result = ExampleResult(json: json) else {
                throw .badRecord(file: path, line: lineNumber, reason: "not a results.jsonl record")
            }
            results.append(result)
        }
        return results
    }
}
