/// One candidate's results, held compactly: 88 bytes a result where an `ExampleResult` takes
/// 240, because names, labels and outputs that repeat are stored once and numbers in their own
/// width. Runs of 100,000 results stay small in memory. Reads back as `ExampleResult` values.
public struct ResultColumn: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    /// One result; string fields are indices into `strings` (-1 for nil).
    struct Row: Sendable {
        var exampleID: String
        /// Index into `identities`: candidate, model and prompt.
        var identity: Int32
        var target: Int32, output: Int32, label: Int32, error: Int32
        var inputTokens: Int32, outputTokens: Int32, cachedInputTokens: Int32
        var repeatIndex: UInt16
        /// Attempts, up to 255 (a retry policy allows a handful).
        var attempts: UInt8
        var flags: UInt8
        var latencyMs: Double
        var costUSD: Double
        var score: Double
        var latencyTotalMs: Double

        static let estimated: UInt8 = 2, cached: UInt8 = 4, hasCost: UInt8 = 8
    }

    private var rows: [Row] = []
    private var identities: [(candidate: String, model: String, prompt: String?)] = []
    private var strings: [String] = []
    private var stringIndex: [String: Int32] = [:]
    /// What some rows have, by row: label probabilities (likelihood scoring), streaming figures and
    /// score parts (scorers other than the label scorer).
    private struct Extras: Sendable, Equatable {
        var probabilities: [String: Double]?
        var timeToFirstTokenMs: Double?
        var outputTokensPerSecond: Double?
        var scoreParts: [ScorePart] = []
        var replica: String?
    }
    private var extras: [Int: Extras] = [:]

    public init() {}

    public init<S: Sequence>(_ results: S) where S.Element == ExampleResult {
        for result in results { append(result) }
    }

    public init(arrayLiteral results: ExampleResult...) { self.init(results) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { rows.count }

    public subscript(position: Int) -> ExampleResult {
        let row = rows[position]
        let identity = identities[Int(row.identity)]
        var result = ExampleResult(
            candidate: identity.candidate, model: identity.model, prompt: identity.prompt, exampleID: row.exampleID,
            repeatIndex: Int(row.repeatIndex), target: string(row.target) ?? "", output: string(row.output), label: string(row.label),
            correct: false, latencyMs: row.latencyMs,
            inputTokens: row.inputTokens < 0 ? nil : Int(row.inputTokens), outputTokens: row.outputTokens < 0 ? nil : Int(row.outputTokens),
            tokensEstimated: row.flags & Row.estimated != 0, costUSD: row.flags & Row.hasCost != 0 ? row.costUSD : nil, error: string(row.error))
        result.score = row.score
        result.latencyTotalMs = row.latencyTotalMs
        result.cachedInputTokens = row.cachedInputTokens < 0 ? nil : Int(row.cachedInputTokens)
        result.attempts = Int(row.attempts)
        result.cached = row.flags & Row.cached != 0
        if let extra = extras[position] {
            result.labelProbabilities = extra.probabilities
            result.timeToFirstTokenMs = extra.timeToFirstTokenMs
            result.outputTokensPerSecond = extra.outputTokensPerSecond
            result.scoreParts = extra.scoreParts
            result.replica = extra.replica
        }
        return result
    }

    public mutating func reserveCapacity(_ count: Int) { rows.reserveCapacity(count) }

    public mutating func append(_ r: ExampleResult) {
        var flags: UInt8 = 0
        if r.tokensEstimated { flags |= Row.estimated }
        if r.cached { flags |= Row.cached }
        if r.costUSD != nil { flags |= Row.hasCost }
        if r.labelProbabilities != nil || r.timeToFirstTokenMs != nil || r.outputTokensPerSecond != nil || !r.scoreParts.isEmpty || r.replica != nil {
            extras[rows.count] = Extras(probabilities: r.labelProbabilities, timeToFirstTokenMs: r.timeToFirstTokenMs,
                                        outputTokensPerSecond: r.outputTokensPerSecond, scoreParts: r.scoreParts, replica: r.replica)
        }
        var identity = identities.lastIndex { $0.candidate == r.candidate && $0.model == r.model && $0.prompt == r.prompt }
        if identity == nil {
            identities.append((r.candidate, r.model, r.prompt))
            identity = identities.count - 1
        }
        rows.append(Row(exampleID: r.exampleID, identity: Int32(clamping: identity ?? 0),
                        target: intern(r.target), output: intern(r.output), label: intern(r.label), error: intern(r.error),
                        inputTokens: r.inputTokens.map(Self.clamped) ?? -1, outputTokens: r.outputTokens.map(Self.clamped) ?? -1,
                        cachedInputTokens: r.cachedInputTokens.map(Self.clamped) ?? -1,
                        repeatIndex: UInt16(clamping: r.repeatIndex), attempts: UInt8(clamping: r.attempts), flags: flags,
                        latencyMs: r.latencyMs, costUSD: r.costUSD ?? 0, score: r.score, latencyTotalMs: r.latencyTotalMs))
    }

    /// Sorts in place into the canonical order (example id, then repeat).
    public mutating func sortCanonically() {
        func before(_ a: Row, _ b: Row) -> Bool { (a.exampleID, a.repeatIndex) < (b.exampleID, b.repeatIndex) }
        guard !extras.isEmpty else { rows.sort(by: before); return }
        // Extras are keyed by row, so they move with their rows.
        var order = Array(rows.indices)
        order.sort { before(rows[$0], rows[$1]) }
        rows = order.map { rows[$0] }
        var moved: [Int: Extras] = [:]
        for (newIndex, oldIndex) in order.enumerated() { if let e = extras[oldIndex] { moved[newIndex] = e } }
        extras = moved
    }

    public static func == (a: ResultColumn, b: ResultColumn) -> Bool { a.elementsEqual(b) }

    private func string(_ index: Int32) -> String? { index < 0 ? nil : strings[Int(index)] }

    private mutating func intern(_ value: String?) -> Int32 {
        guard let value else { return -1 }
        if let index = stringIndex[value] { return index }
        // Free text that never repeats (long outputs, error messages) still costs one entry each.
        let index = Int32(strings.count)
        strings.append(value)
        stringIndex[value] = index
        return index
    }

    private static func clamped(_ value: Int) -> Int32 { Int32(clamping: value) }
}
