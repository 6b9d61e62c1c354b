import Foundation

/// Answers stored by content address under `.evalkit/cache/`: the key is the SHA-256 of everything
/// that determines the answer (provider, URL, model, parameters, the full request, the repeat).
/// Entries keep the latency measured when the answer was first obtained. Several processes may share
/// one cache folder: entries are written whole (renamed into place), so none reads a torn one.
public struct ResponseCache: Sendable {
    /// Whether a run reads and writes the cache.
    public enum Mode: Sendable, Equatable {
        case use
        /// `--no-cache`: neither read nor write.
        case off
        /// `--refresh`: ask again and overwrite.
        case refresh
    }

    /// A stored answer.
    public struct Entry: Sendable, Equatable {
        public var response: ModelResponse
        public var latencyMs: Double
    }

    public let directory: String
    public let mode: Mode

    public init(directory: String, mode: Mode) {
        self.directory = directory
        self.mode = mode
    }

    /// The content address of an answer.
    public static func key(identity: String, repeatIndex: Int) -> String {
        SHA256.hex(identity + "|repeat=\(repeatIndex)")
    }

    func path(_ key: String) -> String { directory + "/" + key.prefix(2) + "/" + key + ".json" }

    /// The stored answer for `key`, unless the mode skips reading.
    public func lookup(_ key: String) -> Entry? {
        guard mode == .use, let bytes = SmallFile.bytes(at: path(key)),
              let json = try? JSON.parse(bytes: bytes), let text = json["text"]?.stringValue,
              let latency = json["latency_ms"]?.numberValue else { return nil }
        let probabilities = ModelResponse.probabilities(from: json["label_probabilities"])
        return Entry(response: ModelResponse(text: text, inputTokens: json["input_tokens"]?.countValue,
                                             outputTokens: json["output_tokens"]?.countValue, labelProbabilities: probabilities,
                                             systemFingerprint: json["system_fingerprint"]?.stringValue),
                     latencyMs: latency)
    }

    /// Stores an answer; failures to write only cost a future cache miss.
    public func store(_ key: String, response: ModelResponse, latencyMs: Double) {
        guard mode != .off else { return }
        let file = path(key)
        let json = JSON.object([
            ("text", .string(response.text)),
            ("input_tokens", response.inputTokens.map { .number(Double($0)) } ?? .null),
            ("output_tokens", response.outputTokens.map { .number(Double($0)) } ?? .null),
            ("latency_ms", .number(latencyMs)),
            ("label_probabilities", ModelResponse.probabilitiesJSON(response.labelProbabilities)),
            ("system_fingerprint", response.systemFingerprint.map(JSON.string) ?? .null),
        ])
        var bytes: [UInt8] = []
        json.encode(into: &bytes)
        // Whole or not at all: several processes (shards on a shared volume) may write and read one entry.
        SmallFile.replace(bytes, at: file)
    }
}
