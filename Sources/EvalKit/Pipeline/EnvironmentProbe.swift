import Foundation

/// Fingerprints what a run depends on besides its requests: the machine, each model's files and
/// build, and each candidate's definition (see `RunEnvironment`).
public enum EnvironmentProbe {
    /// Keys of a model's config object that change its answers; the rest (description, pricing,
    /// concurrency, retries, rate limits, training log, role) change cost or pacing, not answers.
    static let answerShapingModelKeys: Set<String> = ["provider", "options", "server"]
    /// Options that do not change an answer: how long to wait for it and where the key is.
    static let ignoredOptionKeys: Set<String> = ["timeout_seconds", "api_key_env"]

    /// The environment of a run of `prepared`, whose config as run is `configJSON`. Model files are
    /// hashed once and remembered under `memoDirectory`; `identify` commands run here, once each.
    public static func probe(_ prepared: PreparedExperiment, models: [ModelSpec], configJSON: JSON?, memoDirectory: String?) -> RunEnvironment {
        let experiment = prepared.experiment
        // Models served by one build (several ids on one server program) share its identify output.
        var builds: [[String]: String] = [:]
        let fingerprints = models.map { model in
            fingerprint(model, experiment: experiment, memoDirectory: memoDirectory) { command in
                if let known = builds[command] { return known }
                let build = identifyBuild(command, directory: experiment.baseDirectory)
                builds[command] = build
                return build
            }
        }
        let datasetFiles = datasetPaths(experiment.dataset.source).compactMap {
            FileDigest.of(experiment.resolve($0), recordedAs: $0, memoDirectory: memoDirectory)
        }
        let definitions = experiment.candidates.map { candidate in
            CandidateDefinition(candidateID: candidate.id,
                                sha256: definition(candidate, experiment: experiment, configJSON: configJSON, datasetFiles: datasetFiles,
                                                   modelFiles: fingerprints.first { $0.modelID == candidate.modelID }?.files ?? []))
        }
        return RunEnvironment(evalkitVersion: EvalKitInfo.version, machine: .current(), models: fingerprints, candidates: definitions)
    }

    /// Where `model` runs, the files it is started with and, for a managed server with `identify`, its build.
    public static func fingerprint(_ model: ModelSpec, experiment: Experiment, memoDirectory: String?,
                                   identify: (([String]) -> String)? = nil) -> ModelFingerprint {
        let arguments = model.provider.fileArguments
        var placement: ModelFingerprint.Placement
        if let url = model.provider.serverURL {
            placement = isLoopbackURL(url) ? .local : .remote
        } else {
            placement = model.provider.usesPrompts ? .local : .inProcess
        }
        var build: String?
        if let server = model.server {
            placement = .local
            if let command = server.identify { build = identify?(command) ?? identifyBuild(command, directory: experiment.baseDirectory) }
        }
        // By default, the arguments that name existing files: a log file the server writes would
        // change with every run, which is what `files` in the config is for.
        let named = model.files ?? (arguments + (model.server?.command.dropFirst() ?? []))
        let files = named.compactMap { FileDigest.of(experiment.resolve($0), recordedAs: $0, memoDirectory: memoDirectory) }
        return ModelFingerprint(modelID: model.id, placement: placement, files: files, build: build)
    }

    /// The trimmed output of an `identify` command, or what went wrong running it.
    static func identifyBuild(_ command: [String], directory: String) -> String {
        do {
            let outcome = try Subprocess.run(command, in: directory, timeoutSeconds: 60, limit: 8192)
            let text = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard outcome.succeeded else {
                let why = outcome.status.map { "exit status \($0)" } ?? "killed after 60 s"
                let said = outcome.errorOutput.split(separator: "\n").last.map { ": " + $0 } ?? ""
                return "identify failed (\(why))\(said)"
            }
            return text
        } catch {
            return "identify failed: \(error)"
        }
    }

    static func datasetPaths(_ source: DatasetSpec.Source) -> [String] {
        switch source {
        case let .files(train, validation, test): return [train] + (validation.map { [$0] } ?? []) + [test]
        case let .splitField(path, _, _): return [path]
        case let .ratio(path, _, _, _, _): return [path]
        }
    }

    /// SHA-256 over what decides the candidate's answers, in a canonical form (object keys sorted):
    /// the task, the dataset section and files, the model's provider options, server command and
    /// files, and the prompt's settings and template texts.
    static func definition(_ candidate: CandidateSpec, experiment: Experiment, configJSON: JSON?, datasetFiles: [FileDigest],
                           modelFiles: [FileDigest]) -> String {
        let config = configJSON ?? .object([])
        var parts: [(String, JSON)] = [
            ("task", config["task"] ?? .null),
            ("dataset", config["dataset"].map { without($0, ["citation"]) } ?? .null),
            ("dataset_files", .array(datasetFiles.map { .string($0.sha256) })),
        ]
        let modelObject = config["models"]?.arrayValue?.first { $0["id"]?.stringValue == candidate.modelID }
        if case .object(let members)? = modelObject {
            parts.append(("model", .object(members.compactMap { key, value in
                guard answerShapingModelKeys.contains(key) else { return nil }
                switch key {
                case "options": return (key, without(value, ignoredOptionKeys))
                case "server": return (key, value["command"] ?? .null)
                default: return (key, value)
                }
            })))
        }
        parts.append(("model_files", .array(modelFiles.map { .string($0.sha256) })))
        if let promptID = candidate.promptID, let spec = experiment.prompt(promptID) {
            let promptObject = config["prompts"]?.arrayValue?.first { $0["id"]?.stringValue == promptID }
            parts.append(("prompt", promptObject.map { without($0, ["description"]) } ?? .null))
            let templates = [spec.systemPath, spec.userPath].compactMap { $0 }.map { path -> JSON in
                SmallFile.bytes(at: experiment.resolve(path)).map { .string(SHA256.hex(bytes: $0)) } ?? .null
            }
            parts.append(("templates", .array(templates)))
        }
        return SHA256.hex(canonical(.object(parts)).encoded())
    }

    static func without(_ json: JSON, _ keys: Set<String>) -> JSON {
        guard case .object(let members) = json else { return json }
        return .object(members.filter { !keys.contains($0.0) })
    }

    /// The same JSON with every object's keys sorted, so reordering a config file changes nothing.
    static func canonical(_ json: JSON) -> JSON {
        switch json {
        case .object(let members): return .object(members.map { ($0.0, canonical($0.1)) }.sorted { $0.0 < $1.0 })
        case .array(let items): return .array(items.map(canonical))
        default: return json
        }
    }
}
