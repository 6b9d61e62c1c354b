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

    /// Appends results as lines, in one write.
    public func append(contentsOf results: some Collection<ExampleResult>) throws(ReportError) {
        var lines: [UInt8] = []
        lines.reserveCapacity(512 * results.count)
        for result in results {
            result.json.encode(into: &lines)
            lines.append(UInt8(ascii: "\n"))
        }
        do { try handle.write(contentsOf: lines) } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    /// Appends lines already in results.jsonl's form (each ending in a newline), in one write.
    func appendLines(_ bytes: [UInt8]) throws(ReportError) {
        do { try handle.write(contentsOf: bytes) } catch { throw .cannotWrite(path: path, reason: error.localizedDescription) }
    }

    /// Appends lines (each ending in a newline) to the file at `path` in one write, creating it when missing:
    /// the run folder's small append-only files (judge grades, batch jobs); `sync` forces them onto the disk.
    static func appendLines(_ bytes: [UInt8], to path: String, sync: Bool = false) throws(ReportError) {
        if !FileManager.default.fileExists(atPath: path), !FileManager.default.createFile(atPath: path, contents: nil) {
            throw .cannotWrite(path: path, reason: "cannot create the file")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw .cannotWrite(path: path, reason: "cannot open for writing") }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: bytes)
            if sync { try handle.synchronize() }
        } catch { throw .cannotWrite(path: path, reason: error.localizedDescription) }
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
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var results: [ExampleResult] = []
        var keep = 0, badLine: Int? = nil
        let size: Int
        do {
            size = try forEachLine(path) { line, number, complete, end in
                guard complete else { return false } // torn: the last write did not finish
                if !line.isEmpty {
                    guard let result = ExampleResult(line: line) else {
                        badLine = number
                        return false
                    }
                    results.append(result)
                }
                keep = end
                return true
            }
        } catch { throw .cannotRead(path: path, reason: error.localizedDescription) }
        if let badLine {
            throw .cannotRead(path: path, reason: "line \(badLine) is not a results record: the journal is damaged, not just torn")
        }
        if keep < size {
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
        var results: [ExampleResult] = []
        try read(path: path) { results.append($0) }
        return results
    }

    /// Streams the results of a journal to `body`, a chunk of the file at a time, so memory does not
    /// grow with the file.
    public static func read(path: String, _ body: (ExampleResult) -> Void) throws(DataError) {
        try readLines(path: path) { result, _ in body(result) }
    }

    /// Streams each result with the line it was read from (without its newline), for copying it as it is.
    static func readLines(path: String, _ body: (ExampleResult, ArraySlice<UInt8>) -> Void) throws(DataError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .unreadable(file: path, reason: "no such file") }
        var bad: Int? = nil
        do {
            _ = try forEachLine(path) { line, number, _, _ in
                if line.isEmpty { return true }
                guard let result = ExampleResult(line: line) else {
                    bad = number
                    return false
                }
                body(result, line)
                return true
            }
        } catch { throw .unreadable(file: path, reason: error.localizedDescription) }
        if let bad { throw .badRecord(file: path, line: bad, reason: "not a results.jsonl record") }
    }

    /// Lines per candidate, from a quick scan of each line's start (evalkit writes "candidate" first);
    /// for sizing arrays before reading. Lines it cannot read this way are left out.
    public static func countByCandidate(path: String) -> [String: Int] {
        let prefix = Array(#"{"candidate":""#.utf8)
        var counts: [ArraySlice<UInt8>: Int] = [:]
        _ = try? forEachLine(path) { line, _, _, _ in
            guard line.starts(with: prefix) else { return true }
            let rest = line.dropFirst(prefix.count)
            guard let close = rest.firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
                  line[close] == UInt8(ascii: "\"") else { return true }
            counts[ArraySlice(Array(rest[..<close])), default: 0] += 1
            return true
        }
        return Dictionary(counts.map { (String(decoding: $0.key, as: UTF8.self), $0.value) }, uniquingKeysWith: +)
    }

    /// Calls `body` with each line (without its newline), its number, whether a newline ended it and
    /// the byte offset after it, reading 1 MiB at a time; `body` returns false to stop. Returns the file size.
    static func forEachLine(_ path: String, _ body: (ArraySlice<UInt8>, Int, Bool, Int) -> Bool) throws -> Int {
        if let problem = SmallFile.notARegularFile(path) { throw problem }
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var consumed = 0, number = 0
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            let atEnd = chunk.isEmpty
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                number += 1
                consumed += newline - start + 1
                guard body(pending[start..<newline], number, true, consumed) else { return consumed }
                start = newline + 1
            }
            pending.removeSubrange(..<start)
            if atEnd {
                if !pending.isEmpty {
                    number += 1
                    _ = body(pending[...], number, false, consumed + pending.count)
                }
                return consumed + pending.count
            }
        }
    }
}
