import Foundation

/// run.json: what a run was (experiment, config, times, command), how it went (status, counts, requests
/// sent, model failures, training times) and where (its environment). Written and read here only.
///
/// Schema 1 (`"schema": 1`; files without the key, written before it existed, read as 1). A reader
/// refuses a newer schema by name rather than guessing at it; `results_schema` does the same for the
/// lines of results.jsonl.
public struct RunManifest: Sendable {
    public static let schema = 1

    /// Where a run has got to.
    public enum Status: String, Sendable {
        /// Written when the run starts; a folder left so was interrupted before its reports.
        case running
        case finished
        /// Stopped before every request was made (a budget, Ctrl-C); it can be resumed.
        case incomplete
        /// Finished, but more requests failed than allowed, or none answered.
        case failed
    }

    /// The split sizes and request counts of a finished run.
    public struct Counts: Sendable, Equatable {
        public var train = 0, validation = 0, test = 0, testEvaluated = 0
        public var candidates = 0, requests = 0, answered = 0
        public init() {}
    }

    /// Requests sent over every process of the run (requests-sent.jsonl), and how many have no kept result.
    public struct RequestsSent: Sendable, Equatable {
        public var total: Int
        public var unrecorded: Int
        public var byCandidate: [String: Int]
    }

    public var evalkitVersion: String
    public var experiment: String
    public var runID: String
    /// The experiment file as given (relative or absolute).
    public var configPath: String
    /// The absolute folder the config was in; nil in a baseline, which travels between machines.
    public var configDirectory: String?
    public var configSHA256: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// Whole milliseconds, so a re-rendered report shows the same figure.
    public var durationSeconds: Double?
    /// The command that reproduces the run.
    public var command: String
    public var status: Status
    public var stopReason: String?
    public var failure: String?
    /// Test examples evaluated when fewer than all (`--limit`).
    public var limit: Int?
    public var plannedRequests: Int?
    public var counts: Counts?
    public var candidates: [String] = []
    public var modelFailures: [(model: String, reason: String)] = []
    /// Measured training times: the one-time cost of trained models is computed from them.
    public var training: [RunSummary.TrainingSummary] = []
    /// The models as run, described (never a secret: only the name of a key's variable).
    public var models: [JSON] = []
    /// The models `--only` kept.
    public var only: [String]?
    public var requestsSent: RequestsSent?
    /// Each model start over every process of the run, measured apart from the candidates' latencies.
    /// Nil in a run.json written before they were measured.
    public var coldStarts: [ColdStart]? = []
    public var environment: RunEnvironment?
    /// The part of the test examples a shard run evaluated (`compare --shard`).
    public var shard: ShardRecord?
    /// The shard runs a merged run was made from (`evalkit merge`).
    public var mergedFrom: [MergedShard] = []
    /// The layout of the run's results.jsonl lines (`ExampleResult.schema`).
    public var resultsSchema = ExampleResult.schema

    public init(evalkitVersion: String, experiment: String, runID: String, configPath: String, configDirectory: String?,
                configSHA256: String, startedAt: Date, command: String, status: Status) {
        self.evalkitVersion = evalkitVersion; self.experiment = experiment; self.runID = runID; self.configPath = configPath
        self.configDirectory = configDirectory; self.configSHA256 = configSHA256; self.startedAt = startedAt
        self.command = command; self.status = status
    }

    /// Why run.json cannot be read.
    public enum ReadError: Error, CustomStringConvertible, Sendable {
        case newerSchema(Int)
        case malformed(String)
        public var description: String {
            switch self {
            case .newerSchema(let v): return "schema \(v) is newer than this evalkit reads (\(RunManifest.schema)); use a newer evalkit"
            case .malformed(let why): return why
            }
        }
    }

    // MARK: writing

    public var json: JSON {
        var members: [(String, JSON)] = [
            ("schema", .number(Double(Self.schema))),
            ("results_schema", .number(Double(resultsSchema))),
            ("judgements_schema", .number(Double(Judgement.schema))),
            ("evalkit_version", .string(evalkitVersion)),
            ("experiment", .string(experiment)),
            ("run_id", .string(runID)),
            ("config_path", .string(configPath)),
        ]
        if let configDirectory { members.append(("config_directory", .string(configDirectory))) }
        members += [
            ("config_sha256", .string(configSHA256)),
            ("started_at", .string(startedAt.iso8601)),
            ("finished_at", finishedAt.map { .string($0.iso8601) } ?? .null),
            ("duration_seconds", durationSeconds.map(JSON.number) ?? .null),
            ("command", .string(command)),
            ("counts", counts.map(Self.json) ?? .null),
            ("candidates", .array(candidates.map(JSON.string))),
            ("status", .string(status.rawValue)),
            ("stopped", stopReason.map(JSON.string) ?? .null),
            ("failure", failure.map(JSON.string) ?? .null),
            ("limit", limit.map { .number(Double($0)) } ?? .null),
            ("planned_requests", plannedRequests.map { .number(Double($0)) } ?? .null),
            ("model_failures", .array(modelFailures.map { .object([("model", .string($0.model)), ("reason", .string($0.reason))]) })),
            ("training", .array(training.map(Self.json))),
            ("models", .array(models)),
            ("only", only.map { .array($0.map(JSON.string)) } ?? .null),
            ("requests_sent", requestsSent.map(Self.json) ?? .null),
            ("cold_starts", coldStarts.map { starts in .array(starts.map { c in
                .object([("model", .string(c.modelID)), ("start_ms", .number(ExampleResult.roundLatency(c.startMs))),
                         ("warmup_ms", c.warmupMs.map { .number(ExampleResult.roundLatency($0)) } ?? .null),
                         ("warmup_error", c.warmupError.map(JSON.string) ?? .null)])
            }) } ?? .null),
            ("environment", environment?.json ?? .null),
        ]
        if let shard {
            members.append(("shard", .object([("index", .number(Double(shard.shard.index))), ("count", .number(Double(shard.shard.count))),
                                              ("fingerprint", .string(shard.fingerprint)), ("whole_run_command", .string(shard.wholeRunCommand))])))
        }
        if !mergedFrom.isEmpty {
            members.append(("merged_from", .array(mergedFrom.map { part in
                .object([("index", .number(Double(part.shard.index))), ("count", .number(Double(part.shard.count))), ("run_id", .string(part.runID))])
            })))
        }
        return .object(members)
    }

    static func json(_ c: Counts) -> JSON {
        .object([("train", .number(Double(c.train))), ("validation", .number(Double(c.validation))), ("test", .number(Double(c.test))),
                 ("test_evaluated", .number(Double(c.testEvaluated))), ("candidates", .number(Double(c.candidates))),
                 ("requests", .number(Double(c.requests))), ("answered", .number(Double(c.answered))),
                 ("errors", .number(Double(c.requests - c.answered)))])
    }

    static func json(_ t: RunSummary.TrainingSummary) -> JSON {
        var entry: [(String, JSON)] = [("model", .string(t.modelID)), ("source", .string(t.source)), ("seconds", .number(t.seconds)),
                                       ("examples", t.examples.map { .number(Double($0)) } ?? .null),
                                       ("best_epoch", t.bestEpoch.map { .number(Double($0)) } ?? .null), ("stopped_early", .bool(t.stoppedEarly))]
        if let last = t.last {
            entry.append(("last_epoch", .object([
                ("epoch", .number(Double(last.epoch))), ("train_loss", .number(last.trainLoss)), ("train_accuracy", .number(last.trainAccuracy)),
                ("validation_loss", last.validationLoss.map(JSON.number) ?? .null),
                ("validation_accuracy", last.validationAccuracy.map(JSON.number) ?? .null),
            ])))
        }
        return .object(entry)
    }

    static func json(_ sent: RequestsSent) -> JSON {
        .object([("total", .number(Double(sent.total))), ("unrecorded", .number(Double(sent.unrecorded))),
                 ("by_candidate", .object(sent.byCandidate.sorted { $0.key < $1.key }.map { ($0.key, .number(Double($0.value))) }))])
    }

    /// Writes run.json into `directory`.
    public func write(to directory: String) throws(ReportError) {
        try ReportWriter.save(json.encoded() + "\n", to: directory + "/run.json")
    }

    // MARK: reading

    /// Reads run.json back; fields a run of an older evalkit did not write are left empty.
    public init(json: JSON) throws(ReadError) {
        guard case .object = json else { throw .malformed("not a JSON object") }
        if let value = json["schema"], !value.isNull {
            guard let schema = value.intValue else { throw .malformed("\"schema\" is not an integer") }
            guard schema <= Self.schema else { throw .newerSchema(schema) }
        }
        if let value = json["results_schema"], !value.isNull {
            guard let schema = value.intValue else { throw .malformed("\"results_schema\" is not an integer") }
            guard schema <= ExampleResult.schema else {
                throw .malformed("its results.jsonl has schema \(schema), newer than this evalkit reads (\(ExampleResult.schema)); use a newer evalkit")
            }
        }
        if let value = json["judgements_schema"], !value.isNull {
            guard let schema = value.intValue else { throw .malformed("\"judgements_schema\" is not an integer") }
            guard schema <= Judgement.schema else {
                throw .malformed("its judgements.jsonl has schema \(schema), newer than this evalkit reads (\(Judgement.schema)); use a newer evalkit")
            }
        }
        guard let runID = json["run_id"]?.stringValue else { throw .malformed("no \"run_id\" string") }
        let formatter = ISO8601DateFormatter()
        func date(_ key: String) -> Date? { json[key]?.stringValue.flatMap(formatter.date(from:)) }
        self.init(evalkitVersion: json["evalkit_version"]?.stringValue ?? "", experiment: json["experiment"]?.stringValue ?? "",
                  runID: runID, configPath: json["config_path"]?.stringValue ?? "config.json",
                  configDirectory: json["config_directory"]?.stringValue, configSHA256: json["config_sha256"]?.stringValue ?? "",
                  startedAt: date("started_at") ?? Date(timeIntervalSince1970: 0), command: json["command"]?.stringValue ?? "evalkit compare",
                  status: json["status"]?.stringValue.flatMap(Status.init(rawValue:)) ?? .finished)
        finishedAt = date("finished_at")
        durationSeconds = json["duration_seconds"]?.numberValue
        stopReason = json["stopped"]?.stringValue
        failure = json["failure"]?.stringValue
        limit = json["limit"]?.countValue
        plannedRequests = json["planned_requests"]?.countValue
        if let c = json["counts"], case .object = c {
            var counts = Counts()
            counts.train = c["train"]?.countValue ?? 0
            counts.validation = c["validation"]?.countValue ?? 0
            counts.test = c["test"]?.countValue ?? 0
            counts.testEvaluated = c["test_evaluated"]?.countValue ?? 0
            counts.candidates = c["candidates"]?.countValue ?? 0
            counts.requests = c["requests"]?.countValue ?? 0
            counts.answered = c["answered"]?.countValue ?? 0
            self.counts = counts
        }
        candidates = (json["candidates"]?.arrayValue ?? []).compactMap(\.stringValue)
        modelFailures = (json["model_failures"]?.arrayValue ?? []).compactMap { f in
            guard let model = f["model"]?.stringValue, let reason = f["reason"]?.stringValue else { return nil }
            return (model, reason)
        }
        training = (json["training"]?.arrayValue ?? []).compactMap(Self.training)
        models = json["models"]?.arrayValue ?? []
        only = json["only"]?.arrayValue?.compactMap(\.stringValue)
        if let sent = json["requests_sent"], case .object(let members)? = sent["by_candidate"] {
            let byCandidate = Dictionary(members.compactMap { name, value in value.countValue.map { (name, $0) } }, uniquingKeysWith: max)
            requestsSent = RequestsSent(total: sent["total"]?.countValue ?? byCandidate.values.reduce(0, +),
                                        unrecorded: sent["unrecorded"]?.countValue ?? 0, byCandidate: byCandidate)
        }
        coldStarts = json["cold_starts"]?.arrayValue?.compactMap { c in
            guard let model = c["model"]?.stringValue, let start = c["start_ms"]?.numberValue, start.isFinite else { return nil }
            return ColdStart(modelID: model, startMs: start, warmupMs: c["warmup_ms"]?.numberValue.flatMap { $0.isFinite ? $0 : nil },
                             warmupError: c["warmup_error"]?.stringValue)
        }
        if let record = json["shard"], !record.isNull {
            guard let shard = Self.shard(record), let fingerprint = record["fingerprint"]?.stringValue else {
                throw .malformed("\"shard\" is not {\"index\", \"count\", \"fingerprint\"} with 0 ≤ index < count")
            }
            self.shard = ShardRecord(shard: shard, fingerprint: fingerprint,
                                     wholeRunCommand: record["whole_run_command"]?.stringValue ?? "evalkit compare")
        }
        if let parts = json["merged_from"], !parts.isNull {
            guard let list = parts.arrayValue else { throw .malformed("\"merged_from\" is not an array") }
            mergedFrom = try list.map { part throws(ReadError) in
                guard let shard = Self.shard(part), let runID = part["run_id"]?.stringValue else {
                    throw .malformed("an entry of \"merged_from\" is not {\"index\", \"count\", \"run_id\"}")
                }
                return MergedShard(shard: shard, runID: runID)
            }
        }
        if let record = json["environment"], !record.isNull {
            do { environment = try RunEnvironment(json: record) } catch { throw .malformed(error.description) }
        }
    }

    static func shard(_ record: JSON) -> Shard? {
        guard let index = record["index"]?.countValue, let count = record["count"]?.countValue else { return nil }
        return Shard(index: index, count: count)
    }

    static func training(_ t: JSON) -> RunSummary.TrainingSummary? {
        guard let model = t["model"]?.stringValue, let seconds = t["seconds"]?.numberValue else { return nil }
        let last = t["last_epoch"].flatMap { l -> EpochStats? in
            guard let epoch = l["epoch"]?.intValue, let loss = l["train_loss"]?.numberValue, let acc = l["train_accuracy"]?.numberValue else { return nil }
            return EpochStats(epoch: epoch, trainLoss: loss, trainAccuracy: acc, validationLoss: l["validation_loss"]?.numberValue,
                              validationAccuracy: l["validation_accuracy"]?.numberValue)
        }
        return RunSummary.TrainingSummary(modelID: model, seconds: seconds, examples: t["examples"]?.countValue,
                                          source: t["source"]?.stringValue ?? RunSummary.TrainingSummary.builtinSource, last: last,
                                          bestEpoch: t["best_epoch"]?.intValue, stoppedEarly: t["stopped_early"]?.boolValue ?? false)
    }

    /// Reads `directory/run.json`; every problem names the file.
    public static func read(directory: String) throws(RunFolderError) -> RunManifest {
        let path = directory + "/run.json"
        guard let bytes = SmallFile.bytes(at: path) else { throw .missing(path: path) }
        let json: JSON
        do { json = try JSON.parse(bytes: bytes) } catch { throw .corrupt(path: path, reason: "not JSON (\(error))") }
        do { return try RunManifest(json: json) } catch { throw .corrupt(path: path, reason: error.description) }
    }
}
