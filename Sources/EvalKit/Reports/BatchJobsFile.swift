import Foundation

/// batch-jobs.jsonl: each provider batch job a run submitted (one line when submitted, another when its
/// results were collected), so that a run killed or stopped while a job ran picks it up on `--resume`
/// instead of paying for it twice. Written and read here only.
public enum BatchJobsFile {
    public static let name = "batch-jobs.jsonl"

    /// Appends a job's line: submitted, or (with `collected`) its results taken.
    public static func append(_ job: PendingBatchJob, collected: Bool, directory: String) throws(ReportError) {
        let path = directory + "/" + name
        let line = JSON.object([("model", .string(job.modelID)), ("job_id", .string(job.jobID)), ("submitted_at", .string(job.submittedAt.iso8601)),
                                ("requests", .number(Double(job.requests))), ("collected", .bool(collected))]).encoded() + "\n"
        try ResultsJournal.appendLines(Array(line.utf8), to: path, sync: true)
    }

    /// The jobs submitted and not collected, by model id (the latest per model). A line that cannot be read
    /// is an error naming it: a job left behind unseen would be paid for twice.
    public static func pending(directory: String) throws(DataError) -> [String: PendingBatchJob] {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        var pending: [String: PendingBatchJob] = [:]
        var bad: Int?
        let formatter = ISO8601DateFormatter()
        do {
            _ = try ResultsJournal.forEachLine(path) { line, number, complete, _ in
                if line.isEmpty { return true }
                guard let json = try? JSON.parse(bytes: Array(line)), let model = json["model"]?.stringValue, let jobID = json["job_id"]?.stringValue,
                      let submitted = json["submitted_at"]?.stringValue.flatMap(formatter.date(from:)), let requests = json["requests"]?.countValue,
                      let collected = json["collected"]?.boolValue else {
                    // A torn last line (killed inside the write) is the submission not yet recorded.
                    if complete { bad = number }
                    return false
                }
                if collected { if pending[model]?.jobID == jobID { pending[model] = nil } } else {
                    pending[model] = PendingBatchJob(modelID: model, jobID: jobID, submittedAt: submitted, requests: requests)
                }
                return true
            }
        } catch { throw .unreadable(file: path, reason: error.localizedDescription) }
        if let bad { throw .badRecord(file: path, line: bad, reason: "not a batch job record") }
        return pending
    }
}
