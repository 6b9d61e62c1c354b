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

    /// Forces what was written onto the disk.
    public func sync() { try? handle.synchronize() }

    public func close() {
        try? handle.synchronize()
        try? handle.close()
    }

    /// Reads an interrupted run's journal for resuming. A torn last line (the process was killed
    /// while writing it) is dropped and cut from the file; a bad line elsewhere is an error.
    public static func recover(path: String) throws(ReportError) -> [ExampleResult] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let bytes = [UInt8](data)
        var results: [ExampleResult] = []
        var start = 0, keep = 0, lineNumber = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            lineNumber += 1
            let line = Array(bytes[start..<end])
            let complete = end < bytes.count
            let parsed = line.isEmpty ? nil : (try? JSON.parse(bytes: line)).flatMap(ExampleResult.init(json:))
            if !complete { break } // torn: the last write did not finish
            if !line.isEmpty {
                guard let parsed else {
                    throw .cannotWrite(path: path, reason: "line \(lineNumber) is not a results record: the journal is damaged, not just torn")
                }
                results.append(parsed)
            }
            start = end + 1
            keep = start
        }
        if keep < bytes.count {
            do {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.truncate(atOffset: UInt64(keep))
                try handle.close()
            } catch { throw .cannotWrite(path: path, reason: "cannot cut the torn last line: \(error.localizedDescription)") }
        }
        return results
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
