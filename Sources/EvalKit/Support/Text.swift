/// Text helpers shared by every stage, and the one place where text is normalised for comparison.
public enum Text {
    /// Edit distance between two strings, used for "did you mean" suggestions.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The closest candidate to `word` when it is close enough to be a likely typo.
    public static func suggestion(for word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        let scored = candidates.map { ($0, editDistance(lowered, $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    /// True for letters, marks and digits of any script (Unicode categories L, M and N, as
    /// `CharacterSet.alphanumerics`), without building a CharacterSet for each scalar.
    @inline(__always)
    public static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// Collapses runs of whitespace to one space and trims the ends.
    public static func collapseWhitespace(_ s: String) -> String {
        s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// A one-line preview of at most `limit` characters.
    public static func preview(_ s: String, limit: Int = 80) -> String {
        let flat = collapseWhitespace(s)
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }

    /// A rough token count where no tokenizer is known: about 4 characters (UTF-8 bytes) a token.
    public static func estimatedTokens(_ text: String) -> Int {
        max(1, (text.utf8.count + 3) / 4)
    }

    /// `comparisonKey` held in 16 bytes (the first half of its SHA-256), for checks over every example of a
    /// dataset; nil when the key is empty. Two different keys share a digest with a probability near 2^-128.
    public static func comparisonDigest(_ text: String) -> TextDigest? {
        let key = comparisonKey(text)
        guard !key.isEmpty else { return nil }
        let digest = SHA256.digest(Array(key.utf8))
        func word(_ from: Int) -> UInt64 { digest[from..<from + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        return TextDigest(high: word(0), low: word(8))
    }

    /// The key under which two texts count as the same (duplicates, leaks, the input itself among similar
    /// examples): lower case, no URLs or @mentions or "RT", only letters, digits and #.
    public static func comparisonKey(_ text: String) -> String {
        // UTF-8 bytes throughout: this runs over every example of every split.
        var out: [UInt8] = [], word: [UInt8] = [], kept: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        func finish() {
            defer { word.removeAll(keepingCapacity: true); kept.removeAll(keepingCapacity: true) }
            guard !kept.isEmpty else { return }
            let skipped = word.starts(with: "http://".utf8) || word.starts(with: "https://".utf8) || word.starts(with: "www.".utf8)
                || word.first == UInt8(ascii: "@") || word.elementsEqual("rt".utf8)
            guard !skipped else { return }
            if !out.isEmpty { out.append(UInt8(ascii: " ")) }
            out.append(contentsOf: kept)
        }
        func add(_ byte: UInt8) {
            if byte == 0x20 || (0x09...0x0D).contains(byte) { finish(); return }
            word.append(byte)
            if (0x30...0x39).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "#") { kept.append(byte) }
        }
        // Most texts are ASCII: lower-cased byte by byte, without building a lower-cased copy.
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for byte in text.utf8 { add((0x41...0x5A).contains(byte) ? byte + 0x20 : byte) }
            finish()
            return String(decoding: out, as: UTF8.self)
        }
        for scalar in text.lowercased().unicodeScalars {
            let v = scalar.value
            if v < 0x80 {
                add(UInt8(v))
                continue
            }
            if scalar.properties.isWhitespace { finish(); continue }
            guard let bytes = UTF8.encode(scalar) else { continue }
            word.append(contentsOf: bytes)
            if isAlphanumeric(scalar) { kept.append(contentsOf: bytes) }
        }
        finish()
        return String(decoding: out, as: UTF8.self)
    }

    /// Lower-case word tokens (letters, digits, #, @ and ' kept together) as UTF-8 bytes: the builtin
    /// classifier's features.
    public static func words(_ text: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8] = []
        for scalar in text.lowercased().unicodeScalars {
            if isAlphanumeric(scalar) || scalar == "#" || scalar == "@" || scalar == "'" {
                current.append(contentsOf: String(scalar).utf8)
            } else if !current.isEmpty {
                out.append(current); current = []
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// Text escaped for XML content and attributes (SVG charts, JUnit): markup characters as entities,
    /// control characters (which XML 1.0 forbids) as spaces.
    public static func xmlEscaped(_ text: String) -> String {
        escaped(text) { scalar in
            switch scalar {
            case "&": return "&amp;"
            case "<": return "&lt;"
            case ">": return "&gt;"
            case "\"": return "&quot;"
            case "'": return "&#39;"
            case _ where scalar.value < 0x20 && scalar != "\t": return " "
            default: return nil
            }
        }
    }

    /// `text` with every scalar that `replacement` maps replaced by what it returns (nil keeps it).
    public static func escaped(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let replaced = replacement(scalar) { out += replaced } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}

/// A text's comparison key as 128 bits (`Text.comparisonDigest`).
public struct TextDigest: Hashable, Comparable, Sendable {
    public let high: UInt64
    public let low: UInt64

    public static func < (a: TextDigest, b: TextDigest) -> Bool { (a.high, a.low) < (b.high, b.low) }
}
