import Foundation

/// One of `count` parts of a run's test examples (`compare --shard K/N`), numbered from 0 as Kubernetes'
/// `JOB_COMPLETION_INDEX` is. An example belongs to the part its id hashes to: the first 8 bytes of the
/// SHA-256 of the id's UTF-8, read as a big-endian integer, modulo `count` (in Python:
/// `int(hashlib.sha256(id.encode()).hexdigest()[:16], 16) % count`). A fixed hash, so every process on
/// every machine splits the same examples the same way, whatever their order in the file.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// A shard, or nil unless 0 ≤ index < count.
    public init?(index: Int, count: Int) {
        guard count >= 1, index >= 0, index < count else { return nil }
        self.index = index
        self.count = count
    }

    /// Why a `--shard` value cannot be used.
    public enum ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        case malformed(String)
        case noIndexInEnvironment(variable: String)

        public var description: String {
            switch self {
            case .malformed(let text):
                return "--shard \(text): expected K/N with 0 ≤ K < N (e.g. 0/4 for the first of four shards), or auto/N"
            case .noIndexInEnvironment(let variable):
                return "--shard auto/N reads the shard index from \(variable) (set by a Kubernetes Indexed Job); it is not set to a whole number"
            }
        }
    }

    /// The variable a Kubernetes Indexed Job sets to each pod's index.
    public static let indexVariable = "JOB_COMPLETION_INDEX"

    /// Reads "K/N", or "auto/N" with K from `JOB_COMPLETION_INDEX` in `environment`.
    public static func parse(_ text: String, environment: [String: String]) throws(ParseError) -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let count = Int(parts[1]) else { throw .malformed(text) }
        let index: Int
        if parts[0] == "auto" {
            guard let value = environment[indexVariable].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                throw .noIndexInEnvironment(variable: indexVariable)
            }
            index = value
        } else {
            guard let value = Int(parts[0]) else { throw .malformed(text) }
            index = value
        }
        guard let shard = Shard(index: index, count: count) else { throw .malformed(text.replacingOccurrences(of: "auto", with: String(index))) }
        return shard
    }

    /// The part `id` belongs to among `count`.
    public static func part(of id: String, count: Int) -> Int {
        Int(SHA256.prefix64(id) % UInt64(max(1, count)))
    }

    public func contains(_ exampleID: String) -> Bool { Self.part(of: exampleID, count: count) == index }

    /// The examples of this shard, in their order.
    public func select(_ examples: [Example]) -> [Example] { examples.filter { contains($0.id) } }

    /// "K/N", as given on the command line.
    public var description: String { "\(index)/\(count)" }
}
