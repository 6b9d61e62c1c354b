/// How the environments of a baseline and a run differ: what, besides the experiment, could have
/// changed a candidate's answers or speed. A check gates only what the experiment could have caused.
public struct EnvironmentComparison: Sendable {
    public var baseline: RunEnvironment?
    public var current: RunEnvironment?

    public init(baseline: RunEnvironment?, current: RunEnvironment?) { self.baseline = baseline; self.current = current }

    /// Differences of machine (CPU, cores, instruction sets); one line when a side recorded none.
    public var machineDifferences: [String] {
        guard let baseline, let current else { return [missingRecord] }
        return current.machine.differences(from: baseline.machine)
    }

    var missingRecord: String {
        baseline == nil ? "the baseline records no environment (made by an older evalkit)" : "the run records no environment"
    }

    /// True when nothing that shapes speed or answers differs for any model both runs share.
    public var identical: Bool {
        guard let baseline, let current, machineDifferences.isEmpty else { return false }
        return current.models.allSatisfy { model in baseline.model(model.modelID).map { buildDifferences($0, model).isEmpty } ?? true }
    }

    /// Why `model`'s answers may differ for reasons outside the experiment; empty when nothing differs.
    public func answerDifferences(model id: String) -> [String] {
        guard let baseline, let current else {
            // The builtin classifier's answers depend on evalkit's code alone, which a check should judge.
            return placement(of: id) == .inProcess ? [] : [missingRecord]
        }
        guard let before = baseline.model(id), let now = current.model(id) else { return ["model \(id) has no fingerprint in the \(baseline.model(id) == nil ? "baseline" : "run")"] }
        if before.placement != now.placement { return ["model \(id) moved from \(before.placement.rawValue) to \(now.placement.rawValue)"] }
        switch now.placement {
        case .inProcess:
            return now.placement == before.placement && current.machine.architecture == baseline.machine.architecture ? []
                : ["architecture \(baseline.machine.architecture) → \(current.machine.architecture)"]
        case .local: return machineDifferences + buildDifferences(before, now)
        case .remote: return buildDifferences(before, now)
        }
    }

    /// Why `model`'s latency may differ for reasons outside the experiment; empty when nothing differs.
    public func speedDifferences(model id: String) -> [String] {
        guard let baseline, let current else { return [missingRecord] }
        guard let before = baseline.model(id), let now = current.model(id) else { return machineDifferences }
        return machineDifferences + buildDifferences(before, now)
    }

    /// Whether the experiment changed for this candidate (its model, files, prompt, task or data);
    /// nil when a side recorded no definition.
    public func definitionChanged(candidate: String) -> Bool? {
        guard let before = baseline?.definition(candidate), let now = current?.definition(candidate) else { return nil }
        return before != now
    }

    func placement(of id: String) -> ModelFingerprint.Placement? { (current ?? baseline)?.model(id)?.placement }

    func buildDifferences(_ before: ModelFingerprint, _ now: ModelFingerprint) -> [String] {
        var out: [String] = []
        // A side that records no build or fingerprint tells nothing; one that records another has changed.
        if let a = before.build, let b = now.build, a != b { out.append("server build of \(now.modelID) differs (its identify output)") }
        if !before.systemFingerprints.isEmpty, !now.systemFingerprints.isEmpty, before.systemFingerprints != now.systemFingerprints {
            out.append("\(now.modelID) reported system_fingerprint \(now.systemFingerprints.joined(separator: ", ")) (baseline: \(before.systemFingerprints.joined(separator: ", ")))")
        }
        return out
    }

    /// Lines describing both environments and what differs, for the check's output.
    public var lines: [String] {
        var out: [String] = []
        out.append("baseline: " + (baseline.map { $0.machine.summary } ?? "not recorded"))
        out.append("now: " + (current.map { $0.machine.summary } ?? "not recorded"))
        if let baseline, let current {
            for now in current.models {
                guard let before = baseline.model(now.modelID) else { continue }
                for line in buildDifferences(before, now) { out.append(line) }
                if before.files != now.files {
                    let changed = now.files.filter { file in !before.files.contains(file) }.map(\.path)
                    out.append("files of \(now.modelID) changed: " + (changed.isEmpty ? "fewer files" : changed.joined(separator: ", ")))
                }
            }
        }
        return out
    }
}
