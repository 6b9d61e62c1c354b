import Foundation

/// Where a provider batch job stands when polled.
public enum BatchJobState: Sendable {
    /// Still running; `progress` says how far in the provider's words (status, counts).
    case running(progress: String)
    /// Ended: each custom id's answer or failure. Ids the job never answered (expired, cancelled) are
    /// absent; `note` says why it ended so, when it did.
    case ended(results: [String: Result<ModelResponse, ProviderError>], note: String?)
}

/// A provider with a batch service (OpenAI's Batch API, Anthropic's Message Batches): a whole set of
/// requests sent as one job at the provider's batch price, polled until it ends.
public protocol BatchProvider: ModelProvider {
    /// Submits `requests`, each under its custom id, as one job; returns the job's id.
    func submitBatch(_ requests: [(customID: String, request: ModelRequest)]) async throws(ProviderError) -> String
    /// Where job `jobID` stands; once it has ended, every result it holds.
    func pollBatch(_ jobID: String) async throws(ProviderError) -> BatchJobState
}

/// Custom ids for batch requests: both services take 1–64 characters of [A-Za-z0-9_-]; a digest of the
/// candidate, example and repeat is one, the same in every process, so a resumed run maps results back.
public enum BatchCustomID {
    public static func make(_ requestID: String) -> String { "r" + String(SHA256.hex(requestID).prefix(40)) }
}

/// Reads a results file of JSON lines (a batch job's output), skipping blank lines; a line that is not
/// JSON is reported by number.
func batchLines(_ bytes: [UInt8], url: String) throws(ProviderError) -> [JSON] {
    var lines: [JSON] = []
    for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
        guard let json = try? JSON.parse(bytes: Array(line)) else { throw .badResponse(url: url, reason: "line \(number + 1) of the results is not JSON") }
        lines.append(json)
    }
    return lines
}
