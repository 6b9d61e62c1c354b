import Foundation

/// Vectors from an OpenAI-compatible `/embeddings` endpoint. llama.cpp's server answers per token
/// (a list of vectors per input); those are mean-pooled into one.
public struct EmbeddingsClient: Sendable {
    public let settings: EmbeddingsSettings
    let access: APIAccess

    public init(settings: EmbeddingsSettings) {
        self.settings = settings
        access = APIAccess(keyVariable: settings.apiKeyEnv, timeoutSeconds: settings.timeoutSeconds, concurrency: 1)
    }

    /// One vector per text, in order.
    public func embed(_ texts: [String]) async throws(ProviderError) -> [[Float]] {
        if let keyError = access.keyError { throw keyError }
        let url = HTTPClient.url(settings.baseURL, "/embeddings")
        let body = JSON.object([("model", .string(settings.model)), ("input", .array(texts.map(JSON.string)))])
        let headers = access.bearerHeaders
        let answer = try await access.post(url, body: body, headers: headers, keyVariable: settings.apiKeyEnv)
        guard let data = answer["data"]?.arrayValue, data.count == texts.count else {
            throw .badResponse(url: url, reason: "expected \"data\" with \(texts.count) embeddings")
        }
        // Answers may come in any order; each carries its index.
        var vectors = [[Float]](repeating: [], count: texts.count)
        for (position, item) in data.enumerated() {
            let index = item["index"]?.countValue ?? position
            guard index >= 0, index < texts.count, let vector = Self.pooled(item["embedding"]) else {
                throw .badResponse(url: url, reason: "embedding \(position) is not a list of numbers")
            }
            vectors[index] = vector
        }
        return vectors
    }

    /// A vector, or the mean of per-token vectors.
    static func pooled(_ value: JSON?) -> [Float]? {
        guard let items = value?.arrayValue, !items.isEmpty else { return nil }
        if let flat = Optional(items.compactMap { $0.numberValue.map(Float.init) }), flat.count == items.count { return flat }
        let rows = items.compactMap { $0.arrayValue?.compactMap { $0.numberValue.map(Float.init) } }
        guard let width = rows.first?.count, width > 0, rows.allSatisfy({ $0.count == width }) else { return nil }
        var sum = [Float](repeating: 0, count: width)
        for row in rows { for j in 0..<width { sum[j] += row[j] } }
        return sum.map { $0 / Float(rows.count) }
    }
}
