import Foundation

/// Labels for the training split read from a candidate's answers in an earlier run (a larger model as
/// teacher, `export-finetune --labels-from RUN_DIR:CANDIDATE`), with how far each can be trusted: the
/// share of repeats that agree, and the answer's probability where the run scored label likelihoods.
public struct TeacherLabels: Sendable {
    /// Where the labels come from and which ones are kept.
    public struct Source: Sendable, Equatable {
        public var runDirectory: String
        public var candidate: String
        /// Keep an example only when at least this share of its answered repeats gave the majority answer.
        public var minAgreement: Double? = nil
        /// Keep an example only when the run's probability of the answer is at least this (likelihood scoring).
        public var minProbability: Double? = nil

        /// Reads "RUN_DIR:CANDIDATE"; the candidate is what follows the last ":" that leaves a candidate with a
        /// model and prompt ("m:p"), so a folder name may itself hold colons.
        public init(_ text: String, minAgreement: Double? = nil, minProbability: Double? = nil) throws(TeacherLabelsError) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2 else { throw .badSource(text) }
            // Candidate ids are "model" or "model:prompt": try the longer reading first when the folder exists without it.
            let twoPart = parts.count >= 3 ? (parts.dropLast(2).joined(separator: ":"), parts.suffix(2).joined(separator: ":")) : nil
            let onePart = (parts.dropLast().joined(separator: ":"), parts[parts.count - 1])
            let chosen = twoPart.flatMap { FileManager.default.fileExists(atPath: $0.0 + "/run.json") ? $0 : nil } ?? onePart
            guard !chosen.0.isEmpty, !chosen.1.isEmpty else { throw .badSource(text) }
            runDirectory = chosen.0; candidate = chosen.1
            self.minAgreement = minAgreement; self.minProbability = minProbability
        }
    }

    /// One training example's teacher label.
    public struct Label: Sendable, Equatable {
        public var answer: String
        /// Answered repeats that gave `answer`, of the answered repeats.
        public var agreeing: Int
        public var answered: Int
        public var probability: Double?
        public var agreement: Double { answered > 0 ? Double(agreeing) / Double(answered) : 0 }
    }

    public var source: Source
    /// Example id → the teacher's label, for every example the candidate answered with a readable answer.
    public var labels: [String: Label]

    /// The candidate's answers in `source.runDirectory`.
    public static func read(_ source: Source) throws(TeacherLabelsError) -> TeacherLabels {
        let run: RunFolder
        do { run = try RunFolder.load(source.runDirectory, requireSummary: false) } catch { throw .run(error.description) }
        guard let results = run.resultsByCandidateID?[source.candidate] else {
            throw .unknownCandidate(source.candidate, run: source.runDirectory, known: run.experiment.candidates.map(\.id))
        }
        var answers: [String: [String: Int]] = [:], answered: [String: Int] = [:], probability: [String: Double] = [:]
        for r in results where r.answered {
            answered[r.exampleID, default: 0] += 1
            guard let label = r.label else { continue }
            answers[r.exampleID, default: [:]][label, default: 0] += 1
            if r.repeatIndex == 0, let p = r.labelProbabilities?[label] { probability[r.exampleID] = p }
        }
        var labels: [String: Label] = [:]
        for (id, counts) in answers {
            // The majority answer; a tie goes to the answer first in alphabetical order, so no hashing decides.
            guard let top = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) else { continue }
            labels[id] = Label(answer: top.key, agreeing: top.value, answered: answered[id] ?? top.value, probability: probability[id])
        }
        return TeacherLabels(source: source, labels: labels)
    }

    /// What relabelling `examples` did: the examples with the teacher's answer as their target (those it
    /// answered confidently enough), and the counts behind them.
    public struct Relabelled: Sendable {
        public var examples: [Example]
        /// Examples the teacher gave no readable answer for (not evaluated in its run, failed, unreadable).
        public var unanswered: Int
        /// Examples left out by `minAgreement` or `minProbability`.
        public var notConfident: Int
        /// Of the kept examples: how many the teacher labelled as their gold target says.
        public var agreeingWithGold: Int
    }

    /// The examples with their targets replaced by the teacher's confident answers; the rest left out.
    public func relabel(_ examples: [Example]) -> Relabelled {
        var kept: [Example] = []
        var unanswered = 0, notConfident = 0, agreeing = 0
        for example in examples {
            guard let label = labels[example.id] else { unanswered += 1; continue }
            if let min = source.minAgreement, label.agreement < min { notConfident += 1; continue }
            if let min = source.minProbability, (label.probability ?? 0) < min { notConfident += 1; continue }
            if label.answer == example.target { agreeing += 1 }
            var relabelled = example
            relabelled.target = label.answer
            relabelled.alternatives = []
            kept.append(relabelled)
        }
        return Relabelled(examples: kept, unanswered: unanswered, notConfident: notConfident, agreeingWithGold: agreeing)
    }
}

/// Why teacher labels could not be read.
public enum TeacherLabelsError: Error, CustomStringConvertible, Sendable {
    case badSource(String)
    case run(String)
    case unknownCandidate(String, run: String, known: [String])
    case noneAnswered(run: String, candidate: String)

    public var description: String {
        switch self {
        case .badSource(let text): return "--labels-from expects RUN_DIR:CANDIDATE (e.g. reports/x/20261205-101500:gemma:fewshot), got \"\(text)\""
        case .run(let why): return "--labels-from: \(why)"
        case let .unknownCandidate(id, run, known):
            var text = "--labels-from: \(run) has no candidate \"\(id)\"; its candidates are " + known.joined(separator: ", ")
            if let guess = Text.suggestion(for: id, among: known) { text += " (did you mean \"\(guess)\"?)" }
            return text
        case let .noneAnswered(run, candidate):
            return "--labels-from: \(candidate) in \(run) answered none of the training examples (matched by id): run the teacher over the "
                + "training split first, with a config whose test split is the training file"
        }
    }
}
