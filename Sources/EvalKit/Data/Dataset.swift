import Foundation

/// One labelled example.
public struct Example: Sendable, Equatable {
    public var id: String
    public var input: String
    /// The target: a label spelled as in the task's label set, an extraction target's JSON, or the first
    /// accepted answer or reference text.
    public var target: String
    /// Further accepted answers or references (short-answer and generation tasks); usually none.
    public var alternatives: [String]
    /// Annotator confidence, where the dataset has such a field.
    public var confidence: Double?
    /// Where the example was read from, e.g. `test.jsonl:12`.
    public var location: String { line.map { "\(file):\($0)" } ?? file }
    /// The file (or other source) the example was read from, and its line there. Kept apart rather than as
    /// one `location` string so the examples of a file share one string (a dataset may hold millions).
    public var file: String
    public var line: Int?
    /// A human's answer to this input and their grade of it on the judge's scale, where the data has them:
    /// the judge grades the same answer, and the two grades are compared.
    public var humanAnswer: String? = nil
    public var humanGrade: String? = nil

    public init(id: String, input: String, target: String, alternatives: [String] = [], confidence: Double? = nil, location: String = "") {
        self.init(id: id, input: input, target: target, alternatives: alternatives, confidence: confidence, file: location, line: nil)
    }

    /// An example read from line `line` of `file`.
    public init(id: String, input: String, target: String, alternatives: [String] = [], confidence: Double? = nil, file: String, line: Int?) {
        self.id = id; self.input = input; self.target = target; self.alternatives = alternatives; self.confidence = confidence
        self.file = file; self.line = line
    }

    /// Every accepted answer: the target, then the alternatives.
    public var references: [String] { [target] + alternatives }
}

/// The train, validation and test splits of a dataset.
public struct Dataset: Sendable {
    public var train: [Example]
    public var validation: [Example]
    public var test: [Example]

    public init(train: [Example], validation: [Example], test: [Example]) {
        self.train = train; self.validation = validation; self.test = test
    }

    /// The test examples a run evaluates: the first `limit`, or all of them.
    public func test(limit: Int?) -> [Example] { limit.map { Array(test.prefix($0)) } ?? test }

    /// The same data with the test split cut to the examples a run evaluated (`--limit`).
    public func evaluating(_ test: [Example]) -> Dataset { Dataset(train: train, validation: validation, test: test) }

    /// The splits by name, in report order.
    public var splits: [(name: String, examples: [Example])] {
        [("train", train), ("validation", validation), ("test", test)]
    }

    /// `count` examples of `examples` chosen at random with `seed`, each target keeping its share (largest
    /// remainders, ties to the target first in order), in their original order; all of them when there are
    /// no more than `count`.
    public static func stratifiedSubset(_ examples: [Example], count: Int, seed: UInt64) -> [Example] {
        guard count < examples.count else { return examples }
        guard count > 0 else { return [] }
        var groups: [String: [Int]] = [:]
        for (i, e) in examples.enumerated() { groups[e.target, default: []].append(i) }
        let targets = groups.keys.sorted()
        let exact = targets.map { Double(count) * Double(groups[$0]?.count ?? 0) / Double(examples.count) }
        var quotas = exact.map { Int($0.rounded(.down)) }
        let byRemainder = targets.indices.sorted { (exact[$0] - Double(quotas[$0]), $1) > (exact[$1] - Double(quotas[$1]), $0) }
        for k in byRemainder.prefix(count - quotas.reduce(0, +)) { quotas[k] += 1 }
        var rng = SeededRandom(seed: seed)
        var chosen: [Int] = []
        for (k, target) in targets.enumerated() {
            var indices = groups[target] ?? []
            indices.shuffle(using: &rng)
            chosen += indices.prefix(quotas[k])
        }
        return chosen.sorted().map { examples[$0] }
    }

    /// How many examples of each label a split holds, in label-set order.
    public static func labelCounts(_ examples: [Example], labels: [String]) -> [(label: String, count: Int)] {
        var counts: [String: Int] = [:]
        for e in examples { counts[e.target, default: 0] += 1 }
        return labels.map { ($0, counts[$0] ?? 0) }
    }
}

/// Why a dataset could not be loaded; each names the file and, where there is one, the line.
public enum DataError: Error, CustomStringConvertible, Sendable {
    case unreadable(file: String, reason: String)
    case badRecord(file: String, line: Int, reason: String)
    case emptySplit(split: String, source: String)
    /// Two examples of one split share an id: results are keyed by it, so one would never be evaluated.
    case duplicateID(id: String, first: String, again: String)
    /// Every problem found in the files, so that one run of `validate` lists them all.
    case several([DataError])

    /// Shown of a long list of problems; the rest are counted.
    static let shownProblems = 20

    /// One error for a list of problems (nil when there are none; the problem itself when there is one).
    static func combining(_ problems: [DataError]) -> DataError? {
        let flat = problems.flatMap { problem -> [DataError] in
            if case .several(let inner) = problem { return inner }
            return [problem]
        }
        return flat.count <= 1 ? flat.first : .several(flat)
    }

    /// Each problem on its own line of a list: the first `shownProblems`, then a count of the rest.
    public var listed: [String] {
        guard case .several(let problems) = self else { return [description] }
        var lines = problems.prefix(Self.shownProblems).map(\.description)
        if problems.count > Self.shownProblems { lines.append("… and \(problems.count - Self.shownProblems) more data problems") }
        return lines
    }

    public var description: String {
        switch self {
        case .several(let problems):
            var lines = problems.prefix(Self.shownProblems).map { "\n  - \($0)" }
            if problems.count > Self.shownProblems { lines.append("\n  - … and \(problems.count - Self.shownProblems) more") }
            return "\(problems.count) problems in the data:" + lines.joined()
        case let .duplicateID(id, first, again):
            return "\(again): example id \"\(id)\" again (first at \(first)); ids must be unique within a split, as results are keyed by them"
        case let .unreadable(file, reason): return "\(file): \(reason)"
        case let .badRecord(file, line, reason): return "\(file):\(line): \(reason)"
        case let .emptySplit(split, source): return "the \(split) split is empty (from \(source)); every experiment needs training and test examples"
        }
    }
}
