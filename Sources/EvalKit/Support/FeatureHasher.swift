import Foundation

/// Hashed word and character n-gram features of a text, L2-normalised.
public struct FeatureHasher: Sendable {
    public let bits: Int
    public let wordNgrams: Int
    public let charNgrams: ClosedRange<Int>
    var mask: Int { (1 << bits) - 1 }

    public init(bits: Int, wordNgrams: Int, charNgrams: ClosedRange<Int>) {
        self.bits = bits; self.wordNgrams = wordNgrams; self.charNgrams = charNgrams
    }

    /// Sparse features: bucket indices and their weights (sum of squares 1).
    public func features(_ text: String) -> (indices: [Int32], values: [Float]) {
        let sorted = counts(text).sorted { $0.key < $1.key }
        let indices = sorted.map(\.key)
        var values = sorted.map { 1 + log($0.value) }
        let norm = sqrt(values.reduce(0) { $0 + $1 * $1 })
        if norm > 0 { values = values.map { $0 / norm } }
        return (indices, values)
    }

    /// How often each hashed word n-gram and character n-gram occurs in `text`.
    public func counts(_ text: String) -> [Int32: Float] {
        var counts: [Int32: Float] = [:]
        let words = Text.words(text)
        if wordNgrams > 0 {
            for n in 1...wordNgrams where words.count >= n {
                for start in 0...(words.count - n) {
                    var h = FNV1a(seed: UInt64(n) &* 0x9E37_79B9)
                    for w in words[start..<start + n] { h.add(w); h.add(0x20) }
                    counts[Int32(truncatingIfNeeded: Int(h.value & UInt64(mask))), default: 0] += 1
                }
            }
        }
        for word in words {
            let chars = [UInt8(ascii: "<")] + word + [UInt8(ascii: ">")]
            for n in charNgrams where chars.count >= n {
                for start in 0...(chars.count - n) {
                    var h = FNV1a(seed: 0xC0FFEE &+ UInt64(n))
                    for c in chars[start..<start + n] { h.add(c) }
                    counts[Int32(truncatingIfNeeded: Int(h.value & UInt64(mask))), default: 0] += 1
                }
            }
        }
        return counts
    }
}

/// FNV-1a, a fast non-cryptographic hash for feature buckets.
struct FNV1a {
    var value: UInt64
    init(seed: UInt64) { value = 0xcbf2_9ce4_8422_2325 ^ seed }
    mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    mutating func add(_ bytes: [UInt8]) { for b in bytes { add(b) } }
}
