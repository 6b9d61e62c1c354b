/// One candidate's results, held compactly: 96 bytes a result where an `ExampleResult` takes
/// 240, because names, labels and outputs that repeat are stored once and numbers in their own
/// width. A placed column (`init(placingIn:…)`, what a merge of shards makes, or `init(collectingIn:)`, what
/// reading a run folder's results makes) keeps its rows and long strings in working files instead, in
/// canonical order: its memory does not grow with the results. Reads back as `ExampleResult` values either way.
public struct ResultColumn: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    /// One result, plain bytes (written to and read from a file as they are). String fields are
    /// references (`StringRef`); in a placed column the example id comes from the position.
    struct Row: Sendable {
        var exampleID: Int64
        var target: Int64, output: Int64, label: Int64, error: Int64
        /// Index into `identities`: candidate, model and prompt.
        var identity: Int32
        var inputTokens: Int32, outputTokens: Int32, cachedInputTokens: Int32
        var repeatIndex: UInt16
        /// Attempts, up to 255 (a retry policy allows a handful).
        var attempts: UInt8
        var flags: UInt8
        var latencyMs: Double
        var costUSD: Double
        var score: Double
        var latencyTotalMs: Double

        static let estimated: UInt8 = 2, cached: UInt8 = 4, hasCost: UInt8 = 8, present: UInt8 = 16
        static let stride = MemoryLayout<Row>.stride
    }

    /// A string field: -1 for nil, an index into `strings` from 0, else a length-prefixed string at
    /// offset −(ref + 2) of the column's working file.
    private typealias StringRef = Int64

    private var rows: [Row] = []
    private var identities: [(candidate: String, model: String, prompt: String?)] = []
    private var strings: [String] = []
    private var stringIndex: [String: Int32] = [:]
    /// What some rows have, by row (by slot in a placed column): label probabilities (likelihood scoring),
    /// streaming figures and score parts (scorers other than the label scorer).
    private struct Extras: Sendable, Equatable {
        var probabilities: [String: Double]?
        var timeToFirstTokenMs: Double?
        var outputTokensPerSecond: Double?
        var scoreParts: [ScorePart] = []
        var replica: String?
    }
    private var extras: [Int: Extras] = [:]
    private var placed: Placed?

    /// Where a placed column's results are: slot `rank × repeats + repeat`, `rank` the example id's place
    /// among `exampleIDs` (sorted). Rows are written as they come to `arrivals` (each with its slot), then
    /// put in slot order into `rowsFile` a window at a time: writing each where it belongs as it came would
    /// cost a system call a result.
    private struct Placed: Sendable {
        var rowsFile: SpillFile
        var stringsFile: SpillFile
        var arrivals: SpillFile?
        var exampleIDs: [String]
        var repeats: Int
        var present: [UInt64]
        var count = 0
        /// Slot of each position, only when some slot holds no result.
        var slotOfPosition: [Int32]? = nil
        var pendingRows: [UInt8] = []
        var arrivedLength = 0
        var pendingStrings: [UInt8] = []
        var stringsLength = 0
        var finished = false
    }

    /// Bytes of rows put in slot order at a time while placing ends: what a placed column holds in memory.
    private static let windowBytes = 4 << 20

    /// Strings that repeat (labels, targets, short answers) are kept in memory once; a placed column
    /// writes any other to its file. At most this many, of at most `internedLength` bytes, are kept.
    private static let internedLimit = 4_096, internedLength = 64

    public init() {}

    public init<S: Sequence>(_ results: S) where S.Element == ExampleResult {
        for result in results { append(result) }
    }

    public init(arrayLiteral results: ExampleResult...) { self.init(results) }

    /// An empty column whose results are placed (`place`) by example and repeat into a working file in
    /// `folder`; `exampleIDs` are every id a result may name, sorted, each once.
    /// At most `Int32.max` slots (examples × repeats).
    public init(placingIn folder: String, exampleIDs: [String], repeats: Int) throws(SpillFileError) {
        let slots = exampleIDs.count * Swift.max(repeats, 1)
        placed = Placed(rowsFile: try SpillFile(in: folder), stringsFile: try SpillFile(in: folder), arrivals: try SpillFile(in: folder), exampleIDs: exampleIDs,
                        repeats: Swift.max(repeats, 1), present: Array(repeating: 0, count: (slots + 63) / 64))
    }

    /// An empty column whose results are collected (`collect`) into a working file in `folder` before
    /// their example ids are all known; `finishCollecting` then puts them in canonical order.
    public init(collectingIn folder: String) throws(SpillFileError) {
        placed = Placed(rowsFile: try SpillFile(in: folder), stringsFile: try SpillFile(in: folder), arrivals: try SpillFile(in: folder),
                        exampleIDs: [], repeats: 1, present: [])
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { placed?.count ?? rows.count }

    public subscript(position: Int) -> ExampleResult {
        let row: Row, slot: Int, exampleID: String
        if let placed {
            slot = placed.slotOfPosition.map { Int($0[position]) } ?? position
            row = Self.readRow(placed.rowsFile, slot: slot)
            exampleID = placed.exampleIDs[slot / placed.repeats]
        } else {
            row = rows[position]
            slot = position
            exampleID = string(row.exampleID) ?? ""
        }
        let identity = identities[Int(row.identity)]
        var result = ExampleResult(
            candidate: identity.candidate, model: identity.model, prompt: identity.prompt, exampleID: exampleID,
            repeatIndex: Int(row.repeatIndex), target: string(row.target) ?? "", output: string(row.output), label: string(row.label),
            correct: false, latencyMs: row.latencyMs,
            inputTokens: row.inputTokens < 0 ? nil : Int(row.inputTokens), outputTokens: row.outputTokens < 0 ? nil : Int(row.outputTokens),
            tokensEstimated: row.flags & Row.estimated != 0, costUSD: row.flags & Row.hasCost != 0 ? row.costUSD : nil, error: string(row.error))
        result.score = row.score
        result.latencyTotalMs = row.latencyTotalMs
        result.cachedInputTokens = row.cachedInputTokens < 0 ? nil : Int(row.cachedInputTokens)
        result.attempts = Int(row.attempts)
        result.cached = row.flags & Row.cached != 0
        if let extra = extras[slot] {
            result.labelProbabilities = extra.probabilities
            result.timeToFirstTokenMs = extra.timeToFirstTokenMs
            result.outputTokensPerSecond = extra.outputTokensPerSecond
            result.scoreParts = extra.scoreParts
            result.replica = extra.replica
        }
        return result
    }

    public mutating func reserveCapacity(_ count: Int) { if placed == nil { rows.reserveCapacity(count) } }

    public mutating func append(_ r: ExampleResult) {
        // A placed column takes results by `place`; appended to, it first becomes an ordinary one.
        if placed != nil { self = ResultColumn(Array(self)) }
        var none: Placed? = nil
        var row = makeRow(r, slot: rows.count, placing: &none)
        row.exampleID = internAlways(r.exampleID)
        rows.append(row)
    }

    /// Puts `r` at its canonical place in a placed column, `exampleRank` being its example id's index in
    /// the column's sorted ids; false (nothing written) when that place is taken already, the rank or
    /// repeat is out of range, or the column is not a placed one still being filled.
    public mutating func place(_ r: ExampleResult, exampleRank: Int) throws(SpillFileError) -> Bool {
        // Taken out while it changes, so its arrays are not copied on every write.
        var p = placed.take()
        defer { placed = p }
        // Scalars only: a copy of `p` held here would make every change below copy its arrays.
        guard let repeats = p?.repeats, let ids = p?.exampleIDs.count, p?.finished == false,
              exampleRank >= 0, exampleRank < ids, r.repeatIndex >= 0, r.repeatIndex < repeats else { return false }
        let slot = exampleRank * repeats + r.repeatIndex
        let word = slot / 64, bit = UInt64(1) << UInt64(slot % 64)
        guard let before = p?.present[word], before & bit == 0 else { return false }
        p?.present[word] = before | bit
        // Until placing ends, the row carries its slot where the example id would be.
        try arrive(r, extrasKey: slot, key: Int64(slot), &p)
        return true
    }

    /// Writes `r`'s row as it comes (with `key` where its example id goes) to a placed column's arrivals.
    private mutating func arrive(_ r: ExampleResult, extrasKey: Int, key: Int64, _ p: inout Placed?) throws(SpillFileError) {
        p?.count += 1
        var row = makeRow(r, slot: extrasKey, placing: &p)
        row.flags |= Row.present
        row.exampleID = key
        withUnsafeBytes(of: &row) { p?.pendingRows.append(contentsOf: $0) }
        if (p?.pendingRows.count ?? 0) >= 1 << 18 { try Self.flushRows(&p) }
        if (p?.pendingStrings.count ?? 0) >= 1 << 18 { try Self.flushStrings(&p) }
    }

    /// Adds `r` to a collecting column; `exampleOrdinal` numbers its example id among all the ids
    /// `finishCollecting` will be given (in any order). False when the column is not a collecting one.
    public mutating func collect(_ r: ExampleResult, exampleOrdinal: Int) throws(SpillFileError) -> Bool {
        var p = placed.take()
        defer { placed = p }
        guard let arrival = p?.count, p?.finished == false, p?.present.isEmpty == true, exampleOrdinal >= 0 else { return false }
        // Extras are keyed by arrival until the slots are known.
        try arrive(r, extrasKey: arrival, key: Int64(exampleOrdinal), &p)
        return true
    }

    /// Ends collecting: `exampleIDs` sorted, `rankOfOrdinal[k]` the place there of the id numbered k.
    /// False when two results are one request (same example and repeat): the column cannot hold both, and
    /// is left unusable.
    public mutating func finishCollecting(exampleIDs: [String], rankOfOrdinal: [Int32], repeats: Int) throws(SpillFileError) -> Bool {
        var p = placed.take()
        defer { placed = p }
        guard p?.finished == false, p?.present.isEmpty == true else { return false }
        let repeats = Swift.max(repeats, 1)
        // Places are written for every example and repeat: where most would stay empty (a few results of a
        // high repeat), or there are more than 32-bit positions, the results are better held as they are.
        let (slots, overflow) = exampleIDs.count.multipliedReportingOverflow(by: repeats)
        guard !overflow, slots <= Int(Int32.max), slots <= 4 * (p?.count ?? 0) + 65_536 else { return false }
        p?.exampleIDs = exampleIDs
        p?.repeats = repeats
        p?.present = Array(repeating: 0, count: (exampleIDs.count * repeats + 63) / 64)
        let byArrival = extras
        extras = [:]
        var moved: [Int: Extras] = [:]
        let complete = try Self.putInOrder(&p, marking: true) { key, repeatIndex, arrival in
            guard key >= 0, key < Int64(rankOfOrdinal.count), repeatIndex < repeats else { return nil }
            let slot = Int(rankOfOrdinal[Int(key)]) * repeats + repeatIndex
            if let extra = byArrival[arrival] { moved[slot] = extra }
            return slot
        }
        extras = moved
        return complete
    }

    /// Ends placing: writes what is pending, puts the rows in slot order and, when some slots stayed
    /// empty, numbers the filled ones.
    public mutating func finishPlacing() throws(SpillFileError) {
        var p = placed.take()
        defer { placed = p }
        guard p?.finished == false else { return }
        _ = try Self.putInOrder(&p, marking: false) { key, _, _ in Int(key) }
    }

    /// Moves the rows that came in `arrivals` into `rowsFile` in slot order, a window at a time; `slotOf`
    /// gives a row's slot from its key (kept where its example id goes), repeat and arrival. `marking`:
    /// the slots are marked filled here (false, leaving the column unusable, when one is filled twice).
    private static func putInOrder(_ p: inout Placed?, marking: Bool, slotOf: (Int64, Int, Int) -> Int?) throws(SpillFileError) -> Bool {
        try Self.flushStrings(&p)
        try Self.flushRows(&p)
        guard let arrivals = p?.arrivals, let rowsFile = p?.rowsFile, let repeats = p?.repeats, let ids = p?.exampleIDs.count,
              let arrivedLength = p?.arrivedLength, let count = p?.count else { return false }
        let slots = ids * repeats, stride = Row.stride
        let windowSlots = Swift.max(1, Self.windowBytes / stride)
        var window = [UInt8](repeating: 0, count: Swift.min(windowSlots, slots) * stride)
        var chunk = [UInt8](repeating: 0, count: (SpillFile.blockSize / stride) * stride)
        let keyOffset = MemoryLayout<Row>.offset(of: \Row.exampleID) ?? 0, repeatOffset = MemoryLayout<Row>.offset(of: \Row.repeatIndex) ?? 0
        var present = marking ? (p?.present ?? []) : []
        var placedRows = 0, start = 0
        while start < slots {
            let end = Swift.min(slots, start + windowSlots)
            window.withUnsafeMutableBytes { w in
                w.initializeMemory(as: UInt8.self, repeating: 0)
                var offset = 0
                while offset < arrivedLength {
                    let n = Swift.min(chunk.count, arrivedLength - offset)
                    chunk.withUnsafeMutableBytes { c in
                        arrivals.read(at: offset, count: n, into: c)
                        for at in Swift.stride(from: 0, to: n, by: stride) {
                            let key = c.load(fromByteOffset: at + keyOffset, as: Int64.self)
                            let repeatIndex = Int(c.load(fromByteOffset: at + repeatOffset, as: UInt16.self))
                            guard let slot = slotOf(key, repeatIndex, (offset + at) / stride), slot >= start, slot < end,
                                  let from = c.baseAddress, let to = w.baseAddress else { continue }
                            if marking {
                                let word = slot / 64, bit = UInt64(1) << UInt64(slot % 64)
                                if present[word] & bit != 0 { continue }
                                present[word] |= bit
                            }
                            placedRows += 1
                            (to + (slot - start) * stride).copyMemory(from: from + at, byteCount: stride)
                        }
                    }
                    offset += n
                }
            }
            var failure: SpillFileError?
            window.withUnsafeBytes { w in
                do throws(SpillFileError) {
                    try rowsFile.write(UnsafeRawBufferPointer(rebasing: w[0 ..< (end - start) * stride]), at: start * stride)
                } catch { failure = error }
            }
            if let failure { throw failure }
            start = end
        }
        if marking { p?.present = present }
        present = []
        if count < slots, let filled = p?.present {
            var order: [Int32] = []
            order.reserveCapacity(count)
            for (w, word) in filled.enumerated() where word != 0 {
                for b in 0..<64 where word & (UInt64(1) << UInt64(b)) != 0 { order.append(Int32(clamping: w * 64 + b)) }
            }
            p?.slotOfPosition = order
        }
        p?.arrivals = nil
        p?.present = []
        p?.finished = true
        // Every row found its own slot (a row without one, or sharing one, is a request the column cannot hold).
        return placedRows == count
    }

    private static func flushRows(_ p: inout Placed?) throws(SpillFileError) {
        guard let file = p?.arrivals, let pending = p?.pendingRows.count, let end = p?.arrivedLength, pending > 0 else { return }
        var failure: SpillFileError?
        p?.pendingRows.withUnsafeBytes { bytes in
            do throws(SpillFileError) { try file.write(bytes, at: end) } catch { failure = error }
        }
        if let failure { throw failure }
        p?.arrivedLength += pending
        p?.pendingRows.removeAll(keepingCapacity: true)
    }

    private static func flushStrings(_ p: inout Placed?) throws(SpillFileError) {
        guard let file = p?.stringsFile, let pending = p?.pendingStrings.count, let end = p?.stringsLength, pending > 0 else { return }
        var failure: SpillFileError?
        p?.pendingStrings.withUnsafeBytes { bytes in
            do throws(SpillFileError) { try file.write(bytes, at: end - pending) } catch { failure = error }
        }
        if let failure { throw failure }
        p?.pendingStrings.removeAll(keepingCapacity: true)
    }

    private mutating func makeRow(_ r: ExampleResult, slot: Int, placing p: inout Placed?) -> Row {
        var flags: UInt8 = 0
        if r.tokensEstimated { flags |= Row.estimated }
        if r.cached { flags |= Row.cached }
        if r.costUSD != nil { flags |= Row.hasCost }
        if r.labelProbabilities != nil || r.timeToFirstTokenMs != nil || r.outputTokensPerSecond != nil || !r.scoreParts.isEmpty || r.replica != nil {
            extras[slot] = Extras(probabilities: r.labelProbabilities, timeToFirstTokenMs: r.timeToFirstTokenMs,
                                  outputTokensPerSecond: r.outputTokensPerSecond, scoreParts: r.scoreParts, replica: r.replica)
        }
        var identity = identities.lastIndex { $0.candidate == r.candidate && $0.model == r.model && $0.prompt == r.prompt }
        if identity == nil {
            identities.append((r.candidate, r.model, r.prompt))
            identity = identities.count - 1
        }
        return Row(exampleID: -1, target: intern(r.target, &p), output: intern(r.output, &p), label: intern(r.label, &p), error: intern(r.error, &p),
                   identity: Int32(clamping: identity ?? 0),
                   inputTokens: r.inputTokens.map(Self.clamped) ?? -1, outputTokens: r.outputTokens.map(Self.clamped) ?? -1,
                   cachedInputTokens: r.cachedInputTokens.map(Self.clamped) ?? -1,
                   repeatIndex: UInt16(clamping: r.repeatIndex), attempts: UInt8(clamping: r.attempts), flags: flags,
                   latencyMs: r.latencyMs, costUSD: r.costUSD ?? 0, score: r.score, latencyTotalMs: r.latencyTotalMs)
    }

    /// Sorts in place into the canonical order (example id, then repeat); a placed column is in it already.
    public mutating func sortCanonically() {
        guard placed == nil else { return }
        let strings = self.strings
        // An ordinary column's example ids are always in `strings`.
        func id(_ row: Row) -> String { row.exampleID >= 0 && row.exampleID < strings.count ? strings[Int(row.exampleID)] : "" }
        func before(_ a: Row, _ b: Row) -> Bool {
            let x = id(a), y = id(b)
            return x != y ? x < y : a.repeatIndex < b.repeatIndex
        }
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

    private func string(_ ref: StringRef) -> String? {
        if ref == -1 { return nil }
        if ref >= 0 { return ref < strings.count ? strings[Int(ref)] : nil }
        guard let file = placed?.stringsFile else { return nil }
        let offset = Int(-(ref + 2))
        var length: UInt32 = 0
        withUnsafeMutableBytes(of: &length) { file.read(at: offset, count: 4, into: $0) }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBytes { file.read(at: offset + 4, count: Int(length), into: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func readRow(_ file: SpillFile, slot: Int) -> Row {
        var row = Row(exampleID: -1, target: -1, output: -1, label: -1, error: -1, identity: 0, inputTokens: -1, outputTokens: -1,
                      cachedInputTokens: -1, repeatIndex: 0, attempts: 0, flags: 0, latencyMs: 0, costUSD: 0, score: 0, latencyTotalMs: 0)
        withUnsafeMutableBytes(of: &row) { file.read(at: slot * Row.stride, count: Row.stride, into: $0) }
        return row
    }

    /// A string kept once in memory; in a placed column only a short one while there are few, the others written to its file.
    private mutating func intern(_ value: String?, _ p: inout Placed?) -> StringRef {
        guard let value else { return -1 }
        if let index = stringIndex[value] { return StringRef(index) }
        guard var placing = p, strings.count >= Self.internedLimit || value.utf8.count > Self.internedLength else {
            // Free text that never repeats (long outputs, error messages) still costs one entry each in memory.
            let index = Int32(clamping: strings.count)
            strings.append(value)
            stringIndex[value] = index
            return StringRef(index)
        }
        let offset = placing.stringsLength
        let bytes = Array(value.utf8)
        withUnsafeBytes(of: UInt32(clamping: bytes.count)) { placing.pendingStrings.append(contentsOf: $0) }
        placing.pendingStrings.append(contentsOf: bytes)
        placing.stringsLength += 4 + bytes.count
        p = placing
        return -StringRef(offset) - 2
    }

    /// Kept without looking for an equal one: example ids of an ordinary column rarely repeat within it.
    private mutating func internAlways(_ value: String) -> StringRef {
        strings.append(value)
        return StringRef(strings.count - 1)
    }

    private static func clamped(_ value: Int) -> Int32 { Int32(clamping: value) }
}
