import Foundation

/// capacity.csv: one row per level the capacity probe measured, per candidate. Written and read here
/// only; the header is its layout (a reader refuses another).
public enum CapacityFile {
    public static let name = "capacity.csv"
    static let columns = ["candidate", "concurrency", "requests", "errors", "seconds", "requests_per_second", "p50_ms", "p95_ms"]

    /// A level as the file keeps it (seconds and throughput to 1e-6, latencies to the microsecond), so a
    /// figure computed before writing equals the one read back.
    public static func rounded(_ level: CapacityLevel) -> CapacityLevel {
        var copy = level
        copy.seconds = (level.seconds * 1e6).rounded() / 1e6
        copy.requestsPerSecond = (level.requestsPerSecond * 1e6).rounded() / 1e6
        copy.p50Ms = level.p50Ms.map(ExampleResult.roundLatency)
        copy.p95Ms = level.p95Ms.map(ExampleResult.roundLatency)
        return copy
    }

    public static func csv(_ levels: [CapacityLevel]) -> String {
        var text = CSV.row(columns)
        for l in levels {
            text += CSV.row([l.candidate, String(l.concurrency), String(l.requests), String(l.errors), JSON.formatNumber(l.seconds),
                             JSON.formatNumber(l.requestsPerSecond), l.p50Ms.map(JSON.formatNumber) ?? "", l.p95Ms.map(JSON.formatNumber) ?? ""])
        }
        return text
    }

    /// The levels in `directory`'s capacity.csv; none when there is no such file. Every problem names the line.
    public static func read(directory: String) throws(RunFolderError) -> [CapacityLevel] {
        let path = directory + "/" + name
        guard let bytes = SmallFile.bytes(at: path) else { return [] }
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw .corrupt(path: path, reason: "not UTF-8 text") }
        let records: [CSV.Record]
        do { records = try CSV.parse(text) } catch { throw .corrupt(path: path, reason: error.description) }
        guard records.first?.fields == columns else {
            throw .corrupt(path: path, reason: "the header is not " + columns.joined(separator: ","))
        }
        var levels: [CapacityLevel] = []
        for record in records.dropFirst() {
            let f = record.fields.map(CSV.unguarded)
            func number(_ i: Int) -> Double? { Double(f[i]).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } }
            guard f.count == columns.count, let concurrency = Int(f[1]), concurrency > 0, let requests = Int(f[2]), requests >= 0,
                  let errors = Int(f[3]), errors >= 0, errors <= requests, let seconds = number(4), let rate = number(5),
                  f[6].isEmpty || number(6) != nil, f[7].isEmpty || number(7) != nil else {
                throw .corrupt(path: path, reason: "line \(record.line): expected " + columns.joined(separator: ", ")
                               + " (counts whole and ≥ 0, figures ≥ 0, latencies empty when nothing answered)")
            }
            levels.append(CapacityLevel(candidate: f[0], concurrency: concurrency, requests: requests, errors: errors, seconds: seconds,
                                        requestsPerSecond: rate, p50Ms: number(6), p95Ms: number(7)))
        }
        return levels
    }
}
