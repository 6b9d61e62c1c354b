import Foundation

/// Vectors of the training split that inputs are compared with by cosine similarity (step 2:
/// dynamic prompts). Vectors are sparse (TF-IDF) or dense (embeddings) and L2-normalised.
public struct SimilarityIndex: Sendable {
    let train: [Example]
    /// Feature → (training example, weight), for sparse vectors.
    let postings: [Int32: [(Int, Float)]]
    /// Dense vectors, for embeddings.
    let dense: [[Float]]
    let hasher: FeatureHasher?
    let idf: [Int32: Float]

    /// A TF-IDF index over word (1–2) and character (3–5) n-grams of the training split.
    public static func tfidf(_ train: [Example]) -> SimilarityIndex {
        let hasher = FeatureHasher(bits: 20, wordNgrams: 2, charNgrams: 3...5)
        let counts = train.map { hasher.counts($0.input) }
        var df: [Int32: Int] = [:]
        for c in counts { for f in c.keys { df[f, default: 0] += 1 } }
        let n = Float(train.count)
        let idf = df.mapValues { log((1 + n) / (1 + Float($0))) + 1 }
        var postings: [Int32: [(Int, Float)]] = [:]
        for (i, c) in counts.enumerated() {
            for (f, w) in normalise(c, idf: idf) { postings[f, default: []].append((i, w)) }
        }
        return SimilarityIndex(train: train, postings: postings, dense: [], hasher: hasher, idf: idf)
    }

    /// An index over given dense vectors (one per training example, e.g. embeddings).
    public static func dense(_ train: [Example], vectors: [[Float]]) -> SimilarityIndex {
        SimilarityIndex(train: train, postings: [:], dense: vectors.map(unit), hasher: nil, idf: [:])
    }

    /// TF-IDF weights in feature order. Sums run in that fixed order: a Dictionary's order changes
    /// from process to process (Swift seeds its hashing per process), and float sums in another order
    /// break near-ties differently, so the same input would get other examples in another run.
    static func normalise(_ counts: [Int32: Float], idf: [Int32: Float]) -> [(feature: Int32, weight: Float)] {
        var weights: [(feature: Int32, weight: Float)] = []
        weights.reserveCapacity(counts.count)
        for (f, tf) in counts { if let w = idf[f] { weights.append((f, (1 + log(tf)) * w)) } }
        weights.sort { $0.feature < $1.feature }
        let norm = sqrt(weights.reduce(0) { $0 + $1.weight * $1.weight })
        return norm > 0 ? weights.map { ($0.feature, $0.weight / norm) } : weights
    }

    static func unit(_ v: [Float]) -> [Float] {
        let norm = sqrt(v.reduce(0) { $0 + $1 * $1 })
        return norm > 0 ? v.map { $0 / norm } : v
    }

    /// Cosine similarity of `text` (or of `vector`, for a dense index) to every training example.
    public func similarities(to text: String, vector: [Float]? = nil) -> [Float] {
        var scores = [Float](repeating: 0, count: train.count)
        if let hasher {
            for (f, w) in Self.normalise(hasher.counts(text), idf: idf) {
                // Postings list training examples in index order, so each score adds up in feature order.
                for (i, v) in postings[f] ?? [] { scores[i] += w * v }
            }
        } else if let vector {
            let q = Self.unit(vector)
            for (i, d) in dense.enumerated() where d.count == q.count {
                var dot: Float = 0
                for j in d.indices { dot += d[j] * q[j] }
                scores[i] = dot
            }
        }
        return scores
    }

    /// The k most similar training examples: never the input itself or a duplicate of it (same
    /// text after normalising case, URLs and mentions); with `balanced`, labels take turns.
    public func select(for input: String, k: Int, balanced: Bool, labels: [String], vector: [Float]? = nil) -> [Example] {
        let scores = similarities(to: input, vector: vector)
        let own = Text.comparisonKey(input)
        let ranked = train.indices.filter { Text.comparisonKey(train[$0].input) != own }
            .sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        // Only labels can take turns: without a label set (other task types), the k most similar.
        guard balanced, !labels.isEmpty else { return ranked.prefix(k).map { train[$0] } }
        var queues = labels.map { label in ranked.filter { train[$0].target == label }[...] }
        var chosen: [Int] = []
        while chosen.count < k && queues.contains(where: { !$0.isEmpty }) {
            for q in queues.indices where chosen.count < k {
                if let next = queues[q].popFirst() { chosen.append(next) }
            }
        }
        // Most similar first, whatever the label; ties in training order.
        return chosen.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.map { train[$0] }
    }
}
