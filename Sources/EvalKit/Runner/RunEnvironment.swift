import Foundation

/// What shaped a run's answers and speed besides the experiment itself: the machine, each model's
/// files and server build, and a digest of each candidate's definition. Recorded in run.json
/// (`environment`), so `evalkit check` can tell a change in the experiment from a change of machine.
public struct RunEnvironment: Sendable, Equatable {
    /// Version of this record's layout in run.json; readers reject newer ones.
    public static let schema = 1

    public var evalkitVersion: String
    public var machine: MachineFingerprint
    public var models: [ModelFingerprint]
    public var candidates: [CandidateDefinition]

    public init(evalkitVersion: String, machine: MachineFingerprint, models: [ModelFingerprint], candidates: [CandidateDefinition]) {
        self.evalkitVersion = evalkitVersion; self.machine = machine; self.models = models; self.candidates = candidates
    }

    public func model(_ id: String) -> ModelFingerprint? { models.first { $0.modelID == id } }
    public func definition(_ candidate: String) -> String? { candidates.first { $0.candidateID == candidate }?.sha256 }

    public var json: JSON {
        .object([
            ("schema", .number(Double(Self.schema))),
            ("evalkit_version", .string(evalkitVersion)),
            ("machine", machine.json),
            ("models", .array(models.map(\.json))),
            ("candidates", .array(candidates.map { .object([("candidate", .string($0.candidateID)), ("definition_sha256", .string($0.sha256))]) })),
        ])
    }

    /// Why run.json's `environment` cannot be read.
    public enum ReadError: Error, CustomStringConvertible, Sendable, Equatable {
        case newerSchema(Int)
        case malformed(String)
        public var description: String {
            switch self {
            case .newerSchema(let v):
                return "its environment record has schema \(v), newer than this evalkit reads (\(RunEnvironment.schema)); use a newer evalkit"
            case .malformed(let why): return "its environment record is malformed: \(why)"
            }
        }
    }

    /// Reads run.json's `environment` back.
    public init(json: JSON) throws(ReadError) {
        guard let schema = json["schema"]?.numberValue, let version = Int(exactly: schema) else { throw .malformed("no integer \"schema\"") }
        guard version <= Self.schema else { throw .newerSchema(version) }
        guard let machine = json["machine"].flatMap(MachineFingerprint.init(json:)) else { throw .malformed("\"machine\" is missing or incomplete") }
        var models: [ModelFingerprint] = []
        for (index, entry) in (json["models"]?.arrayValue ?? []).enumerated() {
            guard let model = ModelFingerprint(json: entry) else { throw .malformed("models[\(index)] is incomplete") }
            models.append(model)
        }
        var candidates: [CandidateDefinition] = []
        for (index, entry) in (json["candidates"]?.arrayValue ?? []).enumerated() {
            guard let id = entry["candidate"]?.stringValue, let sha = entry["definition_sha256"]?.stringValue else {
                throw .malformed("candidates[\(index)] needs \"candidate\" and \"definition_sha256\"")
            }
            candidates.append(CandidateDefinition(candidateID: id, sha256: sha))
        }
        self.init(evalkitVersion: json["evalkit_version"]?.stringValue ?? "", machine: machine, models: models, candidates: candidates)
    }
}

/// A digest of everything in the experiment that decides a candidate's answers: its model's provider
/// options and files, its prompt's templates, the task and the dataset files. Equal digests mean the
/// experiment did not change for this candidate.
public struct CandidateDefinition: Sendable, Equatable {
    public var candidateID: String
    public var sha256: String
    public init(candidateID: String, sha256: String) { self.candidateID = candidateID; self.sha256 = sha256 }
}

/// The machine a run ran on, as far as it shapes speed and (for local models) answers.
public struct MachineFingerprint: Sendable, Equatable {
    /// Shown, never compared: a kernel update does not change a model's answers.
    public var os: String
    public var architecture: String
    public var cpuModel: String
    public var logicalCores: Int
    /// The vector instruction sets inference kernels choose between (AVX2, AVX-512, NEON, …), sorted.
    public var instructionSets: [String]

    public init(os: String, architecture: String, cpuModel: String, logicalCores: Int, instructionSets: [String]) {
        self.os = os; self.architecture = architecture; self.cpuModel = cpuModel; self.logicalCores = logicalCores
        self.instructionSets = instructionSets.sorted()
    }

    /// CPU flags that change which kernels llama.cpp, PyTorch and BLAS libraries run (x86 and Arm).
    static let relevantFlags: Set<String> = [
        "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512cd", "avx512dq",
        "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx512vbmi", "amx_tile", "amx_int8", "amx_bf16",
        "asimd", "asimddp", "asimdhp", "sve", "sve2", "i8mm", "bf16", "sme",
    ]

    /// The machine this process runs on (Linux reads /proc/cpuinfo; elsewhere the CPU fields stay generic).
    public static func current() -> MachineFingerprint {
        var system = utsname()
        uname(&system)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let (model, flags) = parseCPUInfo(String(decoding: SmallFile.bytes(at: "/proc/cpuinfo") ?? [], as: UTF8.self))
        return MachineFingerprint(os: field(system.sysname) + " " + field(system.release), architecture: field(system.machine),
                                  cpuModel: model ?? "unknown", logicalCores: ProcessInfo.processInfo.activeProcessorCount,
                                  instructionSets: flags)
    }

    /// The first processor's model name and its relevant flags, from /proc/cpuinfo's text.
    public static func parseCPUInfo(_ text: String) -> (model: String?, flags: [String]) {
        var model: String?, flags: Set<String> = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if model == nil, key == "model name" || key == "Model" || key == "cpu model" { model = value }
            if flags.isEmpty, key == "flags" || key == "Features" {
                flags = Set(value.split(separator: " ").map(String.init)).intersection(relevantFlags)
            }
        }
        return (model, flags.sorted())
    }

    /// What differs from `other` that can change speed or a local model's answers; empty when nothing does.
    public func differences(from other: MachineFingerprint) -> [String] {
        var out: [String] = []
        if architecture != other.architecture { out.append("architecture \(other.architecture) → \(architecture)") }
        if cpuModel != other.cpuModel { out.append("CPU \(other.cpuModel) → \(cpuModel)") }
        if logicalCores != other.logicalCores { out.append("\(other.logicalCores) → \(logicalCores) cores") }
        if instructionSets != other.instructionSets {
            let gained = Set(instructionSets).subtracting(other.instructionSets).sorted()
            let lost = Set(other.instructionSets).subtracting(instructionSets).sorted()
            out.append("instruction sets " + (gained.map { "+" + $0 } + lost.map { "−" + $0 }).joined(separator: " "))
        }
        return out
    }

    public var summary: String {
        "\(cpuModel), \(logicalCores) cores, \(architecture)" + (instructionSets.isEmpty ? "" : " (" + instructionSets.joined(separator: " ") + ")")
    }

    public var json: JSON {
        .object([("os", .string(os)), ("architecture", .string(architecture)), ("cpu_model", .string(cpuModel)),
                 ("logical_cores", .number(Double(logicalCores))), ("instruction_sets", .array(instructionSets.map(JSON.string)))])
    }

    public init?(json: JSON) {
        guard let architecture = json["architecture"]?.stringValue, let cpu = json["cpu_model"]?.stringValue,
              let cores = json["logical_cores"]?.numberValue.flatMap({ Int(exactly: $0) }) else { return nil }
        self.init(os: json["os"]?.stringValue ?? "", architecture: architecture, cpuModel: cpu, logicalCores: cores,
                  instructionSets: (json["instruction_sets"]?.arrayValue ?? []).compactMap(\.stringValue))
    }
}

/// Where a model runs and what identifies its build, for one run.
public struct ModelFingerprint: Sendable, Equatable {
    public enum Placement: String, Sendable {
        /// Inside evalkit (the builtin classifier): answers depend on evalkit's code alone.
        case inProcess = "in-process"
        /// On this machine (a managed server, a worker, or a server on a loopback address): answers and
        /// speed depend on the machine and the server's build.
        case local
        /// Elsewhere (an API): answers depend on the provider's build, which it may report.
        case remote
    }

    public var modelID: String
    public var placement: Placement
    /// Files the model's server or worker is started with (weights, adapters, the worker's script).
    public var files: [FileDigest]
    /// What the server's `identify` command printed (its build, its CPU features), when configured.
    public var build: String?
    /// The `system_fingerprint` values the server reported with its answers, sorted.
    public var systemFingerprints: [String]

    public init(modelID: String, placement: Placement, files: [FileDigest] = [], build: String? = nil, systemFingerprints: [String] = []) {
        self.modelID = modelID; self.placement = placement; self.files = files; self.build = build
        self.systemFingerprints = systemFingerprints.sorted()
    }

    public var json: JSON {
        .object([("model", .string(modelID)), ("placement", .string(placement.rawValue)), ("files", .array(files.map(\.json))),
                 ("build", build.map(JSON.string) ?? .null), ("system_fingerprints", .array(systemFingerprints.map(JSON.string)))])
    }

    public init?(json: JSON) {
        guard let id = json["model"]?.stringValue, let placement = json["placement"]?.stringValue.flatMap(Placement.init(rawValue:)) else { return nil }
        var files: [FileDigest] = []
        for entry in json["files"]?.arrayValue ?? [] {
            guard let file = FileDigest(json: entry) else { return nil }
            files.append(file)
        }
        self.init(modelID: id, placement: placement, files: files, build: json["build"]?.stringValue,
                  systemFingerprints: (json["system_fingerprints"]?.arrayValue ?? []).compactMap(\.stringValue))
    }
}
