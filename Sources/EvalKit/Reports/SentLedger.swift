import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// requests-sent.jsonl: one line per request sent to a model, written just before it goes out. results.jsonl
/// holds only the requests that finished; a run killed with requests in flight, then resumed, has sent
/// more than its results say, and this file keeps the count true across every process of the run.
///
/// Schema 1: a first line `{"schema":"evalkit.requests-sent","version":1}`, then `{"candidate","example","repeat"}`
/// per request sent (a retry is another line).
public final class SentLedger: Sendable {
    public static let fileName = "requests-sent.jsonl"
    static let header = JSON.object([("schema", .string("evalkit.requests-sent")), ("version", .number(1))])

    public let path: String
    private let fd: Int32

    /// Opens the ledger in `directory` for appending, creating it with its header line when it is new.
    public init(directory: String) throws(ReportError) {
        path = directory + "/" + Self.fileName
        let isNew = !FileManager.default.fileExists(atPath: path)
        // O_APPEND: each line is one write at the end of the file, whichever task writes it.
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        if isNew { try write(Self.header) }
    }

    deinit { close(fd) }

    /// Notes one request about to be sent.
    public func record(candidate: String, example: String, repeatIndex: Int) throws(ReportError) {
        try write(.object([("candidate", .string(candidate)), ("example", .string(example)), ("repeat", .number(Double(repeatIndex)))]))
    }

    private func write(_ line: JSON) throws(ReportError) {
        var bytes: [UInt8] = []
        line.encode(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw .cannotWrite(path: path, reason: written < 0 ? String(cString: strerror(errno)) : "short write")
        }
    }

    /// Requests sent per candidate id, from the ledger in `directory`; nil when there is none. A torn last
    /// line (a process killed inside the write) is left out: its request had not gone out yet.
    public static func counts(directory: String) throws(DataError) -> [String: Int]? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var counts: [String: Int] = [:]
        var problem: (line: Int, reason: String)? = nil
        do {
            _ = try ResultsJournal.forEachLine(path) { line, number, complete, _ in
                guard !line.isEmpty else { return true }
                guard let json = try? JSON.parse(bytes: Array(line)) else {
                    if complete { problem = (number, "not a JSON object") }
                    return complete
                }
                if number == 1 {
                    guard json["schema"]?.stringValue == "evalkit.requests-sent" else { problem = (1, "no evalkit.requests-sent header"); return false }
                    guard json["version"]?.intValue == 1 else { problem = (1, "schema version \(json["version"]?.encoded() ?? "none"), expected 1"); return false }
                    return true
                }
                guard let candidate = json["candidate"]?.stringValue else { problem = (number, "no \"candidate\" string"); return false }
                counts[candidate, default: 0] += 1
                return true
            }
        } catch { throw .unreadable(file: path, reason: error.localizedDescription) }
        if let problem { throw .badRecord(file: path, line: problem.line, reason: problem.reason) }
        return counts
    }
}
