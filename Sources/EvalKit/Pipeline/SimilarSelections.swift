import Foundation

/// Chooses, before a run, the similar training examples each test input's prompt will show.
public enum SimilarSelections {
    /// Prompt id → test example id → chosen examples, for every prompt whose examples are `similar`.
    public typealias Table = [String: [String: [Example]]]

    /// Without `network` (a dry run), prompts that use embeddings are estimated with the TF-IDF index instead.
    public static func compute(_ prepared: PreparedExperiment, test: [Example], cacheDirectory: String,
                               network: Bool = true) async throws(ProviderError) -> Table {
        var table: Table = [:]
        var tfidf: SimilarityIndex? = nil
        let e = prepared.experiment
        for prompt in e.prompts {
            guard case .similar(let spec) = prompt.examples else { continue }
            let index: SimilarityIndex
            var queryVectors: [[Float]]? = nil
            switch network ? spec.source : .tfidf {
            case .tfidf:
                // One TF-IDF index per run, shared by every prompt that uses it.
                if tfidf == nil { tfidf = SimilarityIndex.tfidf(prepared.dataset.train) }
                guard let built = tfidf else { continue }
                index = built
            case .embeddings(let settings):
                let store = EmbeddingStore(client: EmbeddingsClient(settings: settings), directory: cacheDirectory + "/embeddings")
                index = SimilarityIndex.dense(prepared.dataset.train, vectors: try await store.vectors(prepared.dataset.train.map(\.input)))
                queryVectors = try await store.vectors(test.map(\.input))
            }
            var chosen: [String: [Example]] = [:]
            for (i, example) in test.enumerated() {
                chosen[example.id] = index.select(for: example.input, k: spec.k, balanced: spec.balanced, labels: e.task.labels,
                                                  vector: queryVectors?[i])
            }
            table[prompt.id] = chosen
        }
        return table
    }
}

/// Embedding vectors cached on disk by the SHA-256 of endpoint, model and text.
struct EmbeddingStore {
    let client: EmbeddingsClient
    let directory: String

    func key(_ text: String) -> String { SHA256.hex(client.settings.baseURL + "|" + client.settings.model + "|" + text) }

    func vectors(_ texts: [String]) async throws(ProviderError) -> [[Float]] {
        var out = [[Float]?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        for (i, text) in texts.enumerated() {
            if let data = FileManager.default.contents(atPath: directory + "/" + key(text) + ".json"),
               let json = try? JSON.parse(bytes: [UInt8](data)), let values = json.arrayValue?.compactMap({ $0.numberValue.map(Float.init) }), !values.isEmpty {
                out[i] = values
            } else {
                missing.append(i)
            }
        }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for start in stride(from: 0, to: missing.count, by: 64) {
            let batch = Array(missing[start..<min(missing.count, start + 64)])
            let vectors = try await client.embed(batch.map { texts[$0] })
            for (i, vector) in zip(batch, vectors) {
                out[i] = vector
                let json = JSON.array(vector.map { .number(Double($0)) })
                try? Data(json.encoded().utf8).write(to: URL(fileURLWithPath: directory + "/" + key(texts[i]) + ".json"), options: .atomic)
            }
        }
        return out.map { $0 ?? [] }
    }
}
