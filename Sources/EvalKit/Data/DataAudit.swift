import Foundation

/// One thing the audit found in the data, with examples and what to do about it.
public struct AuditFinding: Sendable, Equatable {
    public enum Severity: String, Sendable, Comparable {
        case info, warning
        /// Makes the model comparison itself unreliable (e.g. test examples seen in training).
        case critical
        var rank: Int {
            switch self {
            case .info: return 0
            case .warning: return 1
            case .critical: return 2
            }
        }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }
    /// Stable identifier, e.g. `leakage-test`.
    public var id: String
    public var title: String
    public var severity: Severity
    public var count: Int
    /// Up to five examples, each naming where it is.
    public var examples: [String]
    public var remedy: String
    /// The fix evalkit can apply when it exports the training split, where there is one.
    public var fix: AuditFix? = nil
}

/// The audit fixes the fine-tuning export can apply.
public enum AuditFix: String, Sendable, CaseIterable {
    case dedupe
    case dropConflicts = "drop-conflicts"
    case dropLeaked = "drop-leaked"
}

/// The data audit of step 4: what makes the training data worse or the comparison unreliable.
public struct DataAudit: Sendable {
    public var findings: [AuditFinding]
    /// Label counts per split, in label order.
    /// Each split's size and, in a classification task, its examples of each label.
    public var balance: [(split: String, size: Int, counts: [Int])]
    public var labels: [String]
    /// Training tokens, estimated at about 4 characters a token.
    public var trainingTokens: Int

    public func finding(_ id: String) -> AuditFinding? { findings.first { $0.id == id } }
    /// Findings that make the comparison itself unreliable.
    public var critical: [AuditFinding] { findings.filter { $0.severity == .critical } }
}

/// What the audit may remove from the training split before fine-tuning.
public struct AuditFixes: Sendable, Equatable {
    public var dropDuplicates = false
    public var dropConflicts = false
    public var dropLeaked = false
    public init(dropDuplicates: Bool = false, dropConflicts: Bool = false, dropLeaked: Bool = false) {
        self.dropDuplicates = dropDuplicates; self.dropConflicts = dropConflicts; self.dropLeaked = dropLeaked
    }
}

/// Finds duplicates, conflicting labels, leakage, imbalance, broken text and doubtful labels.
public enum DataAuditor {
    /// True for text that shows a broken encoding: U+FFFD, C1 control characters, the classic
    /// UTF-8-read-as-Latin-1 pairs (Ã…, â€…), or Armenian letters inside Latin text, as this corpus's
    /// double-encoded emoji show (e.g. "Ս", "բ_").
    public static func looksGarbled(_ text: String) -> Bool {
        var latin = 0, foreign = 0
        var previous: UInt32 = 0
        for scalar in text.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0xFFFD, 0xC2, 0xC3, 0x80...0x9F: return true // U+FFFD, Â, Ã, C1 controls
            case 0x20AC where previous == 0xE2: return true // â€
            case 0x41...0x5A, 0x61...0x7A: latin += 1
            case 0x0530...0x058F: foreign += 1
            default: break
            }
            previous = v
        }
        return foreign > 0 && latin > 4 * foreign
    }

    /// The audit of `dataset`; thresholds default to the config's (`AuditSettings`).
    public static func audit(_ dataset: Dataset, labels: [String], minConfidence: Double = AuditSettings().minConfidence,
                             maxCharacters: Int = AuditSettings().maxCharacters) -> DataAudit {
        var findings: [AuditFinding] = []
        func show(_ e: Example) -> String { "\(e.location) [\(e.target)] \"\(Text.preview(e.input, limit: 70))\"" }
        // Lazy: a dataset may hold millions of examples, and the checks below keep only what they find.
        let all = dataset.splits.lazy.flatMap { split in split.examples.lazy.map { (split.name, $0) } }
        // Each input's comparison key, computed once and held as 16 bytes (nil for an empty key): in `all`'s
        // order, which begins with the training split.
        let keys = Array(all.map { Text.comparisonDigest($0.1.input) })
        let trainKeys = keys.prefix(dataset.train.count)

        // Duplicates inside the training split.
        var exact: [String: [Example]] = [:], near: [TextDigest: [Example]] = [:]
        for (e, key) in zip(dataset.train, trainKeys) {
            exact[e.input, default: []].append(e)
            if let key { near[key, default: []].append(e) }
        }
        let exactGroups = exact.values.filter { $0.count > 1 }.sorted { $0[0].location < $1[0].location }
        let exactExtra = exactGroups.reduce(0) { $0 + $1.count - 1 }
        if exactExtra > 0 {
            findings.append(AuditFinding(id: "duplicates-exact", title: "exact duplicates in the training split", severity: .warning, count: exactExtra,
                                         examples: exactGroups.prefix(5).map { g in "\(g.count)× " + show(g[0]) },
                                         remedy: "keep one copy of each: duplicates weigh those examples more and inflate training cost", fix: .dedupe))
        }
        let nearGroups = near.filter { Set($0.value.map(\.input)).count > 1 }.values.sorted { $0[0].location < $1[0].location }
        let nearExtra = nearGroups.reduce(0) { $0 + Set($1.map(\.input)).count - 1 }
        if nearExtra > 0 {
            findings.append(AuditFinding(id: "duplicates-near", title: "near duplicates in the training split (same text after removing case, URLs, @mentions and punctuation)",
                                         severity: .warning, count: nearExtra,
                                         examples: nearGroups.prefix(5).map { g in g.prefix(2).map(show).joined(separator: " ≈ ") },
                                         remedy: "keep one of each, or check that they are really different examples", fix: .dedupe))
        }

        // The same text with different labels, anywhere in the data.
        // Targets compared as texts are (an extraction target copies its input's punctuation, which the key drops).
        // A text's targets differ when one differs from the first; only those texts' examples are gathered.
        // Targets are compared by their keys' digests too (nil for a target whose key is empty).
        // Texts are grouped by a sort of their positions (4 bytes each), not a dictionary of every text.
        let trainCount = dataset.train.count, validationCount = dataset.validation.count
        func example(_ i: Int) -> Example {
            i < trainCount ? dataset.train[i] : i < trainCount + validationCount ? dataset.validation[i - trainCount] : dataset.test[i - trainCount - validationCount]
        }
        var byKey = keys.indices.compactMap { keys[$0] == nil ? nil : Int32(clamping: $0) }
        let none = TextDigest(high: 0, low: 0)
        byKey.sort { (keys[Int($0)] ?? none, $0) < (keys[Int($1)] ?? none, $1) }
        var conflicting = Set<TextDigest>()
        var groupStart = 0
        while groupStart < byKey.count {
            let key = keys[Int(byKey[groupStart])] ?? none
            var groupEnd = groupStart + 1
            while groupEnd < byKey.count, keys[Int(byKey[groupEnd])] == key { groupEnd += 1 }
            if groupEnd - groupStart > 1 {
                let first = Text.comparisonDigest(example(Int(byKey[groupStart])).target)
                if byKey[(groupStart + 1)..<groupEnd].contains(where: { Text.comparisonDigest(example(Int($0)).target) != first }) { conflicting.insert(key) }
            }
            groupStart = groupEnd
        }
        byKey = []
        var conflictGroups: [TextDigest: [(String, Example)]] = [:]
        if !conflicting.isEmpty {
            for (member, key) in zip(all, keys) { if let key, conflicting.contains(key) { conflictGroups[key, default: []].append(member) } }
        }
        let conflicts = conflictGroups.values.sorted { $0[0].1.location < $1[0].1.location }
        if !conflicts.isEmpty {
            findings.append(AuditFinding(id: "conflicting-labels", title: "the same text with conflicting labels", severity: .warning,
                                         count: conflicts.reduce(0) { $0 + $1.count },
                                         examples: conflicts.prefix(5).map { g in g.prefix(3).map { show($0.1) }.joined(separator: " vs ") },
                                         remedy: "relabel them, or drop them from training; conflicting labels cap the accuracy any model can reach", fix: .dropConflicts))
        }

        // Leakage: evaluation examples whose text is in the training split.
        let trainTexts = Set(trainKeys.compactMap { $0 })
        let validationKeys = keys.dropFirst(dataset.train.count).prefix(dataset.validation.count), testKeys = keys.suffix(dataset.test.count)
        for (split, examples, splitKeys, severity) in [("test", dataset.test, testKeys, AuditFinding.Severity.critical),
                                                       ("validation", dataset.validation, validationKeys, .warning)] {
            let leaked = zip(examples, splitKeys).filter { $0.1.map(trainTexts.contains) ?? false }.map(\.0)
            if !leaked.isEmpty {
                findings.append(AuditFinding(
                    id: "leakage-\(split)", title: split == "test" ? "evaluated test examples whose text is also in the training split" : "\(split) examples whose text is also in the training split", severity: severity, count: leaked.count,
                    examples: leaked.prefix(5).map(show),
                    remedy: split == "test"
                        ? "remove them from the training split or from the test split: models trained on them look better than they are, so the comparison favours trained models"
                        : "remove them from training: validation metrics and early stopping otherwise measure memory, not generalisation",
                    fix: split == "test" ? .dropLeaked : nil))
            }
        }

        // Label balance.
        let balance = dataset.splits.map { split in (split.name, split.examples.count, Dataset.labelCounts(split.examples, labels: labels).map(\.count)) }
        if !labels.isEmpty, let trainCounts = balance.first?.2, let total = Optional(trainCounts.reduce(0, +)), total > 0 {
            let uniform = Double(total) / Double(labels.count)
            let rare = labels.indices.filter { Double(trainCounts[$0]) < uniform / 2 }
            if !rare.isEmpty {
                findings.append(AuditFinding(id: "imbalance", title: "label imbalance in the training split", severity: .info, count: rare.count,
                                             examples: rare.map { "\(labels[$0]): \(trainCounts[$0]) of \(total) (\(Format.percent(Double(trainCounts[$0]) / Double(total))))" },
                                             remedy: "report macro-F1 beside accuracy (evalkit does), and collect or up-weight examples of the rare labels"))
            }
        }

        // Text problems: each counted by split, with its first five examples kept (a dataset may hold millions of them).
        func matching(_ isProblem: (Example) -> Bool) -> (count: Int, bySplit: [String: Int], first: [Example]) {
            var found = (count: 0, bySplit: [String: Int](), first: [Example]())
            for (split, e) in all where isProblem(e) {
                found.count += 1
                found.bySplit[split, default: 0] += 1
                if found.first.count < 5 { found.first.append(e) }
            }
            return found
        }
        let empty = matching { $0.input.unicodeScalars.allSatisfy(\.properties.isWhitespace) }
        if empty.count > 0 {
            findings.append(AuditFinding(id: "empty", title: "empty inputs", severity: .warning, count: empty.count, examples: empty.first.map(show),
                                         remedy: "drop them: they teach nothing and test nothing"))
        }
        let long = matching { $0.input.count > maxCharacters }
        if long.count > 0 {
            findings.append(AuditFinding(id: "overly-long", title: "inputs longer than \(maxCharacters) characters", severity: .info, count: long.count,
                                         examples: long.first.map { "\($0.location): \($0.input.count) characters" },
                                         remedy: "check they are real examples; long inputs dominate token cost and may be truncated by small models"))
        }
        let garbled = matching { looksGarbled($0.input) }
        if garbled.count > 0 {
            findings.append(AuditFinding(id: "mojibake", title: "text with a broken encoding (mojibake or undecodable bytes)", severity: .warning, count: garbled.count,
                                         examples: garbled.first.map(show),
                                         remedy: "repair the encoding at the source (decode as UTF-8 once), or strip the garbled runs before training"))
        }
        let doubtful = matching { ($0.confidence ?? 1) < minConfidence }
        if doubtful.count > 0 {
            let bySplit = doubtful.bySplit.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")
            findings.append(AuditFinding(id: "low-confidence", title: "labels with annotator confidence below \(JSON.formatNumber(minConfidence)) (\(bySplit))",
                                         severity: .warning, count: doubtful.count,
                                         examples: doubtful.first.map { "\(show($0)) confidence \(JSON.formatNumber($0.confidence ?? 0))" },
                                         remedy: "relabel them or drop them from training; in the test split they blur the accuracy of every candidate alike"))
        }
        let trainingTokens = dataset.train.reduce(0) { $0 + Text.estimatedTokens($1.input) + Text.estimatedTokens($1.target) }
        findings.sort { ($0.severity, $1.count) > ($1.severity, $0.count) }
        return DataAudit(findings: findings, balance: balance, labels: labels, trainingTokens: trainingTokens)
    }

    /// The training split after the fixes the user switched on.
    public static func fixedTraining(_ dataset: Dataset, fixes: AuditFixes) -> [Example] {
        var train = dataset.train
        if fixes.dropLeaked {
            let evaluation = Set((dataset.test + dataset.validation).map { Text.comparisonKey($0.input) })
            train = train.filter { !evaluation.contains(Text.comparisonKey($0.input)) }
        }
        if fixes.dropConflicts {
            var labelsByText: [String: Set<String>] = [:]
            for e in dataset.train + dataset.validation + dataset.test { labelsByText[Text.comparisonKey(e.input), default: []].insert(Text.comparisonKey(e.target)) }
            train = train.filter { (labelsByText[Text.comparisonKey($0.input)]?.count ?? 1) <= 1 }
        }
        if fixes.dropDuplicates {
            var seen = Set<String>()
            train = train.filter { seen.insert(Text.comparisonKey($0.input)).inserted }
        }
        return train
    }
}
