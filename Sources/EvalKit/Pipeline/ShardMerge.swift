import Foundation
import Synchronization

/// Why shard runs cannot be merged at all (mismatched or unreadable folders); missing and duplicated
/// examples are findings of the merge (`ShardMerge.Findings`), not errors.
public enum ShardMergeError: Error, CustomStringConvertible, Sendable {
    case noShards
    case notAShard(path: String)
    case mismatch(path: String, what: String)
    case folder(RunFolderError)
    case dataset(String)
    case foreignResult(path: String, line: String)
    /// A shard's results.jsonl or judgements.jsonl that cannot be read (the reason names file and line).
    case unreadable(String)
    case output(String)
    case outIsAShard(path: String)

    public var description: String {
        switch self {
        case .outIsAShard(let path): return "--out \(path) is one of the shard folders being merged; write the merge to another folder"
        case .noShards: return "name at least one shard run folder to merge"
        case .notAShard(let path): return "\(path)/run.json records no shard: it is not a run of 'evalkit compare --shard K/N'"
        case let .mismatch(path, what): return "\(path) cannot be merged with the first shard: \(what)"
        case .folder(let error): return error.description
        case .dataset(let why): return "the merge needs the experiment's test split to know which examples to expect: \(why)"
        case let .foreignResult(path, line): return "\(path)/results.jsonl: \(line)"
        case .unreadable(let why): return why
        case .output(let why): return why
        }
    }
}

/// `evalkit merge`: joins the run folders of `compare --shard K/N` into one run folder whose every
/// figure is computed again from the per-example results, as if one process had run them all.
public enum ShardMerge {
    /// What the merge found besides the results themselves.
    public struct Findings: Sendable, Equatable {
        /// Shard numbers of the count that no folder holds.
        public var missingShards: [Int] = []
        /// Shard numbers held by more than one folder (their repeated results are kept once, from the first folder).
        public var repeatedShards: [Int] = []
        /// Requests (candidate × example × repeat) expected and not found in any shard.
        public var missingRequests = 0
        /// Results found more than once (kept once).
        public var duplicateResults = 0
        /// Results kept.
        public var keptResults = 0
        /// Requests expected over the whole test subset.
        public var expectedRequests = 0

        /// True when the merged run is the whole evaluation: nothing missing, nothing twice.
        public var isComplete: Bool { missingShards.isEmpty && repeatedShards.isEmpty && missingRequests == 0 && duplicateResults == 0 }

        /// One line per finding, for the terminal and the merged report.
        public var lines: [String] {
            var lines: [String] = []
            if !missingShards.isEmpty { lines.append("shard(s) \(missingShards.map(String.init).joined(separator: ", ")) missing") }
            if !repeatedShards.isEmpty {
                lines.append("shard(s) \(repeatedShards.map(String.init).joined(separator: ", ")) given more than once (the first folder's results kept)")
            }
            if missingRequests > 0 { lines.append("\(missingRequests) of \(expectedRequests) requests have no result in any shard") }
            if duplicateResults > 0 { lines.append("\(duplicateResults) results found more than once (kept once)") }
            return lines
        }
    }

    /// Checks that `directories` are shards of one evaluation and reports what is missing or repeated;
    /// unless the findings are clean or `allowPartial`, nothing is written. Otherwise writes the merged run
    /// folder `out` (results, judgements, config, run.json, and every report computed again) and returns
    /// the findings. The merged reports are those a single process would write for the same answers.
    public static func merge(_ directories: [String], into out: String, allowPartial: Bool,
                             catalog: Catalog = .standard) throws(ShardMergeError) -> Findings {
        guard let firstDirectory = directories.first else { throw .noShards }
        // Compared as absolute paths with links resolved: "./s1/" and "s1" are one folder.
        func folder(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        let target = folder(out)
        if let clash = directories.first(where: { folder($0) == target }) { throw .outIsAShard(path: clash) }
        var manifests: [RunManifest] = []
        for directory in directories {
            let manifest: RunManifest
            do { manifest = try RunManifest.read(directory: directory) } catch { throw .folder(error) }
            guard let shard = manifest.shard else { throw .notAShard(path: directory) }
            if let first = manifests.first?.shard {
                guard shard.shard.count == first.shard.count else {
                    throw .mismatch(path: directory, what: "it is a shard of \(shard.shard.count), the first of \(first.shard.count)")
                }
                guard shard.fingerprint == first.fingerprint else {
                    throw .mismatch(path: directory, what: "its experiment fingerprint differs (config, data files, prompts, model files, "
                                    + "--limit, --only or evalkit version changed between the shards)")
                }
            }
            manifests.append(manifest)
        }
        let count = manifests[0].shard?.shard.count ?? 1
        let indexes = manifests.compactMap { $0.shard?.shard.index }
        var findings = Findings()
        findings.missingShards = (0..<count).filter { !indexes.contains($0) }
        findings.repeatedShards = Set(indexes.filter { index in indexes.filter { $0 == index }.count > 1 }).sorted()

        let folder: RunFolder
        do { folder = try RunFolder.load(firstDirectory, requireSummary: false, withResults: false, catalog: catalog) } catch { throw .folder(error) }
        let experiment = folder.experiment
        let dataset: Dataset
        do { dataset = try DatasetLoader.load(experiment) } catch { throw .dataset(error.description) }
        let expected = dataset.test(limit: manifests[0].limit)
        // The data audit needs only the dataset: it runs on another core while the shards' results are read.
        let audited = Mutex<DataAudit?>(nil), auditing = DispatchGroup()
        DispatchQueue.global().async(group: auditing) {
            let audit = RunFolderCommands.audit(dataset, evaluating: expected, experiment)
            audited.withLock { $0 = audit }
        }
        // Each example's shard, hashed once (not once per candidate and repeat).
        let partOf = expected.map { Shard.part(of: $0.id, count: count) }
        let candidateIndex = Dictionary(experiment.candidates.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let exampleIndex = Dictionary(expected.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let repeats = experiment.run.repeats
        let (perCandidate, overflow) = expected.count.multipliedReportingOverflow(by: repeats)
        guard !overflow, perCandidate <= Int(Int32.max) else {
            throw .dataset("\(expected.count) examples × \(repeats) repeats is more requests a candidate than a merge can index (2,147,483,647)")
        }
        findings.expectedRequests = experiment.candidates.count * perCandidate
        // Each example's place in the canonical order (by id): results are put straight where they belong,
        // in a working file, so the merge holds no result in memory and sorts none.
        let byID = expected.indices.sorted { expected[$0].id < expected[$1].id }
        var rank = [Int](repeating: 0, count: expected.count)
        for (place, e) in byID.enumerated() { rank[e] = place }
        let sortedIDs = byID.map { expected[$0].id }

        let outExisted = FileManager.default.fileExists(atPath: out)
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw .output("cannot create \(out): \(error.localizedDescription)")
        }
        let resultsPath = out + "/results.jsonl"
        let staging = resultsPath + ".merging"
        try? FileManager.default.removeItem(atPath: staging)
        let journal: ResultsJournal
        do { journal = try ResultsJournal(path: staging) } catch { throw .output(error.description) }
        // A merge that fails leaves nothing behind: not the staged results, nor the folder made for them.
        func abandon() {
            journal.close()
            try? FileManager.default.removeItem(atPath: staging)
            if !outExisted { try? FileManager.default.removeItem(atPath: out) }
        }
        // Lines are copied as they are; the results are kept, by candidate, for the analysis (read once).
        var batch: [UInt8] = []
        var groups: [Int: ResultColumn] = [:]
        var foreign: (String, String)?
        for (directory, manifest) in zip(directories, manifests) {
            // A shard killed before its first result has no results.jsonl: its examples are missing, not an error.
            guard let shard = manifest.shard?.shard, FileManager.default.fileExists(atPath: directory + "/results.jsonl") else { continue }
            let path = directory + "/results.jsonl"
            do throws(DataError) {
                try ResultsJournal.readLines(path: path) { result, line in
                    guard foreign == nil else { return }
                    guard let c = candidateIndex[result.candidate], let e = exampleIndex[result.exampleID], result.repeatIndex < repeats,
                          partOf[e] == shard.index else {
                        foreign = (directory, "a result for candidate \"\(result.candidate)\", example \"\(result.exampleID)\", repeat \(result.repeatIndex) "
                                   + "is not one this shard (\(shard)) of the experiment asks for")
                        return
                    }
                    do throws(SpillFileError) {
                        if groups[c] == nil { groups[c] = try ResultColumn(placingIn: out, exampleIDs: sortedIDs, repeats: repeats) }
                        guard try groups[c]?.place(result, exampleRank: rank[e]) == true else { findings.duplicateResults += 1; return }
                    } catch {
                        foreign = (out, error.description)
                        return
                    }
                    findings.keptResults += 1
                    batch.append(contentsOf: line)
                    batch.append(UInt8(ascii: "\n"))
                    if batch.count >= 1 << 20 {
                        do throws(ReportError) { try journal.appendLines(batch) } catch { foreign = (out, error.description) }
                        batch.removeAll(keepingCapacity: true)
                    }
                }
            } catch {
                abandon()
                throw .unreadable(error.description)
            }
            if let foreign {
                abandon()
                throw .foreignResult(path: foreign.0, line: foreign.1)
            }
        }
        do { try journal.appendLines(batch) } catch { abandon(); throw .output(error.description) }
        journal.close()
        findings.missingRequests = findings.expectedRequests - findings.keptResults
        guard findings.isComplete || allowPartial else {
            abandon()
            return findings
        }
        var kept: [String: ResultColumn]? = [:]
        for (c, var column) in groups {
            do { try column.finishPlacing() } catch { abandon(); throw .output(error.description) }
            kept?[experiment.candidates[c].id] = column
        }
        groups = [:]
        auditing.wait()
        try write(findings, manifests: manifests, directories: directories, staging: staging, into: out, experimentName: experiment.name,
                  expectedExamples: expected.count, results: &kept, dataset: dataset, audit: audited.withLock { $0 })
        return findings
    }

    /// Writes everything but the results (already staged) and renders the reports from them.
    private static func write(_ findings: Findings, manifests: [RunManifest], directories: [String], staging: String, into out: String,
                              experimentName: String, expectedExamples: Int, results: inout [String: ResultColumn]?,
                              dataset: Dataset, audit: DataAudit?) throws(ShardMergeError) {
        let fm = FileManager.default
        // What only one process measures or decides (training, the capacity probe, the environment) comes
        // from shard 0: every shard trains the same model on the same data, and only shard 0 probes.
        let leadIndex = manifests.firstIndex { $0.shard?.shard.index == 0 } ?? 0
        let lead = manifests[leadIndex], leadDirectory = directories[leadIndex]
        let copied = ["config.json", CapacityFile.name]
            + (((try? fm.contentsOfDirectory(atPath: leadDirectory)) ?? []).filter { $0.hasPrefix("training-") && $0.hasSuffix(".csv") }.sorted())
        for file in copied {
            let source = leadDirectory + "/" + file, target = out + "/" + file
            try? fm.removeItem(atPath: target)
            guard fm.fileExists(atPath: source) else { continue }
            do { try fm.copyItem(atPath: source, toPath: target) } catch { throw .output("cannot copy \(source) to \(target): \(error.localizedDescription)") }
        }
        try? fm.removeItem(atPath: out + "/results.jsonl")
        do { try fm.moveItem(atPath: staging, toPath: out + "/results.jsonl") } catch {
            throw .output("cannot move \(staging) into place: \(error.localizedDescription)")
        }
        try? fm.removeItem(atPath: out + "/" + JudgementsFile.name)
        var judged = Set<String>()
        for directory in directories {
            let judgements: [Judgement]
            do { judgements = try JudgementsFile.read(directory: directory) } catch { throw .unreadable(error.description) }
            let fresh = judgements.filter { judged.insert("\($0.candidate)\u{1}\($0.exampleID)\u{1}\($0.repeatIndex)").inserted }
            if !fresh.isEmpty { do { try JudgementsFile.append(fresh, directory: out) } catch { throw .output(error.description) } }
        }

        let start = manifests.map(\.startedAt).min() ?? lead.startedAt
        let end = manifests.map { $0.finishedAt ?? $0.startedAt.addingTimeInterval($0.durationSeconds ?? 0) }.max() ?? start
        var merged = RunManifest(evalkitVersion: lead.evalkitVersion, experiment: experimentName,
                                 runID: manifests.min { $0.startedAt < $1.startedAt }?.runID ?? lead.runID,
                                 configPath: lead.configPath, configDirectory: lead.configDirectory, configSHA256: lead.configSHA256,
                                 startedAt: start, command: lead.shard?.wholeRunCommand ?? lead.command, status: .running)
        merged.finishedAt = end
        merged.durationSeconds = (end.timeIntervalSince(start) * 1000).rounded() / 1000
        merged.limit = lead.limit
        merged.only = lead.only
        merged.training = lead.training
        merged.environment = lead.environment
        merged.models = lead.models
        merged.plannedRequests = findings.expectedRequests
        var counts = RunManifest.Counts()
        counts.testEvaluated = expectedExamples
        merged.counts = counts
        merged.coldStarts = manifests.flatMap { $0.coldStarts ?? [] }
        var failures: [(model: String, reason: String)] = []
        for failure in manifests.flatMap(\.modelFailures) where !failures.contains(where: { $0 == failure }) { failures.append(failure) }
        merged.modelFailures = failures
        let sent = manifests.compactMap(\.requestsSent)
        if sent.count == manifests.count {
            let byCandidate = sent.reduce(into: [String: Int]()) { all, part in all.merge(part.byCandidate, uniquingKeysWith: +) }
            merged.requestsSent = RunManifest.RequestsSent(total: sent.reduce(0) { $0 + $1.total }, unrecorded: sent.reduce(0) { $0 + $1.unrecorded },
                                                          byCandidate: byCandidate)
        }
        let stops = (findings.isComplete ? [] : ["partial merge: " + findings.lines.joined(separator: "; ")])
            + zip(manifests, directories).compactMap { manifest, directory in manifest.stopReason.map { "shard \(manifest.shard?.shard.description ?? "?") (\(directory)): \($0)" } }
        merged.stopReason = stops.isEmpty ? nil : stops.joined(separator: "; ")
        merged.mergedFrom = manifests.compactMap { m in m.shard.map { MergedShard(shard: $0.shard, runID: m.runID) } }
        do { try merged.write(to: out) } catch { throw .output(error.description) }

        // Every figure from the merged results, the way `evalkit report` renders any run folder.
        var summary: RunSummary
        do { summary = try RunFolderCommands.summary(of: out, results: &results, dataset: dataset, audit: audit) } catch { throw .folder(error) }
        let made = summary.metrics.reduce(0) { $0 + $1.requests }
        summary.runFailure = CompareRun.runFailure(made: made, failed: summary.metrics.reduce(0) { $0 + $1.errors }, limit: summary.experiment.run.maxErrorRate)
        var final = ReportWriter.manifest(summary)
        final.configDirectory = lead.configDirectory
        do {
            try final.write(to: out)
            try ReportWriter.write(summary, to: out, manifest: false)
        } catch { throw .output(error.description) }
    }
}
