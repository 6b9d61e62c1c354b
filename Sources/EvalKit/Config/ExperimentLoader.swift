import Foundation

/// Reads and validates an experiment file, reporting every problem at once.
public enum ExperimentLoader {
    static let topLevelKeys = ["name", "description", "task", "dataset", "prompts", "models", "candidates", "run", "decision", "check", "audit"]

    /// Loads the experiment at `path`, whose models and task may name the providers and scorers of `catalog`; throws
    /// `ConfigError` listing every problem found.
    public static func load(path: String, catalog: Catalog) throws(ConfigError) -> Experiment {
        let bytes: [UInt8]
        switch SmallFile.contents(of: path) {
        case .success(let read): bytes = read
        case .failure(let problem): throw .unreadable(file: path, reason: problem.reason)
        }
        let json: JSON
        do { json = try JSON.parse(bytes: bytes) } catch { throw .malformedJSON(file: path, error) }
        let base = FilePath.folder(of: path)
        return try parse(json, configPath: path, baseDirectory: base, hash: SHA256.hex(bytes: bytes), catalog: catalog)
    }

    /// Builds an experiment from parsed JSON; throws `ConfigError.invalid` with every issue.
    public static func parse(_ json: JSON, configPath: String, baseDirectory: String, hash: String, catalog: Catalog) throws(ConfigError) -> Experiment {
        let (issues, experiment) = read(json, configPath: configPath, baseDirectory: baseDirectory, hash: hash, catalog: catalog)
        guard issues.isEmpty, let experiment else { throw .invalid(file: configPath, issues: issues) }
        return experiment
    }

    /// Reads the experiment at `path` as far as it can be read: the config's problems, and an experiment
    /// whose task and dataset sections are sound even where other parts are not (what it could not read is
    /// left out), so its data and prompts can be checked in the same pass. Nil where even that fails.
    public static func loadLeniently(path: String, catalog: Catalog) -> (problem: ConfigError?, usable: Experiment?) {
        let bytes: [UInt8]
        switch SmallFile.contents(of: path) {
        case .success(let read): bytes = read
        case .failure(let problem): return (.unreadable(file: path, reason: problem.reason), nil)
        }
        let json: JSON
        do { json = try JSON.parse(bytes: bytes) } catch { return (.malformedJSON(file: path, error), nil) }
        let (issues, experiment) = read(json, configPath: path, baseDirectory: FilePath.folder(of: path),
                                         hash: SHA256.hex(bytes: bytes), catalog: catalog)
        let usable = issues.contains { $0.path.hasPrefix("$.task") || $0.path.hasPrefix("$.dataset") || $0.path == "$" } ? nil : experiment
        return (issues.isEmpty ? nil : .invalid(file: path, issues: issues), usable)
    }

    /// Every issue of the config, and the experiment built from what could be read (nil without a task or dataset).
    static func read(_ json: JSON, configPath: String, baseDirectory: String, hash: String,
                     catalog: Catalog) -> (issues: [ConfigIssue], experiment: Experiment?) {
        var issues = IssueCollector()
        guard let root = ObjectReader(json, path: "$", issues: &issues) else { return (issues.issues, nil) }
        root.rejectUnknownKeys(topLevelKeys, issues: &issues)
        let name = root.string("name", required: true, issues: &issues)
        if let name, name.hasPrefix(".") {
            issues.add(ConfigIssue(path: "$.name", expected: "a name usable as a folder (not starting with '.')", found: "\"\(name)\""))
        } else if let name {
            checkID(name, path: "$.name", issues: &issues)
        }
        let task = readTask(root, catalog: catalog, issues: &issues)
        let dataset = readDataset(root, issues: &issues)
        let prompts = readPrompts(root, labels: task?.labels ?? [], issues: &issues)
        let run = readRun(root, issues: &issues)
        let models = readModels(root, runConcurrency: run.concurrency, catalog: catalog, issues: &issues)
        if let judge = task?.judge {
            if let model = models.first(where: { $0.id == judge.modelID }) {
                if !model.provider.usesPrompts || model.provider.answersWithLabels {
                    issues.add(ConfigIssue(path: "$.task.judge.model", expected: "a model that generates text from a prompt", found: "\"\(judge.modelID)\""))
                }
            } else {
                issues.add(ConfigIssue(path: "$.task.judge.model", expected: "the id of one of the models (" + models.map { "\"\($0.id)\"" }.joined(separator: ", ") + ")",
                                       found: "\"\(judge.modelID)\""))
            }
        }
        if let task, task.type != .classification {
            for model in models where model.provider.answersWithLabels {
                let index = root["models"]?.arrayValue?.firstIndex { $0["id"]?.stringValue == model.id } ?? 0
                issues.add(ConfigIssue(path: "$.models[\(index)]", expected: "a model that generates text for a \(task.type.rawValue) task",
                                       found: "\"\(model.id)\", which answers with labels (\(model.provider.answerReading ?? model.provider.name)) and serves classification only"))
            }
        }
        let candidates = readCandidates(root, prompts: prompts, models: models, issues: &issues)
        for (index, model) in models.enumerated() {
            guard let teacher = model.training?.labelsFrom else { continue }
            if let named = candidates.first(where: { $0.id == teacher }), named.modelID == model.id {
                issues.add(ConfigIssue(path: "$.models[\(index)].training.labels_from", expected: "a candidate of another model (a model does not learn from its own answers)",
                                       found: "\"\(teacher)\""))
                continue
            }
            guard !candidates.contains(where: { $0.id == teacher }) else { continue }
            var expected = "the id of a candidate of this experiment, whose answers labelled the training set"
            if let guess = Text.suggestion(for: teacher, among: candidates.map(\.id)) { expected += " (did you mean \"\(guess)\"?)" }
            issues.add(ConfigIssue(path: "$.models[\(index)].training.labels_from", expected: expected, found: "\"\(teacher)\""))
        }
        let decision = readDecision(root, candidates: candidates, issues: &issues)
        let check = readCheck(root, issues: &issues)
        var audit = AuditSettings()
        if let a = ObjectReader(root["audit"], path: "$.audit", issues: &issues, required: false) {
            a.rejectUnknownKeys(["min_confidence", "max_characters"], issues: &issues)
            if let v = a.number("min_confidence", range: 0...1, rangeText: "a confidence between 0 and 1", issues: &issues) { audit.minConfidence = v }
            if let v = a.integer("max_characters", minimum: 1, issues: &issues) { audit.maxCharacters = v }
        }

        guard let task, let dataset else { return (issues.issues, nil) }
        var experiment = Experiment(name: name ?? "experiment", description: root.string("description", issues: &issues), task: task, dataset: dataset,
                          prompts: prompts, models: models, candidates: candidates, run: run, decision: decision, check: check,
                          configPath: configPath, baseDirectory: baseDirectory, configHash: hash)
        experiment.audit = audit
        return (issues.issues, experiment)
    }

    // MARK: task

    static func readTask(_ root: ObjectReader, catalog: Catalog, issues: inout IssueCollector) -> TaskSpec? {
        guard let task = ObjectReader(root["task"], path: "$.task", issues: &issues) else { return nil }
        task.rejectUnknownKeys(["type", "labels", "parse", "scorer", "schema", "judge"], issues: &issues)
        var type = TaskType.classification
        if let name = task.string("type", issues: &issues) {
            if let known = TaskType(rawValue: name) { type = known } else {
                issues.add(ConfigIssue(path: "$.task.type", expected: "a task type (" + TaskType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + ")",
                                       found: "\"\(name)\""))
            }
        }
        var labels: [String] = []
        var parsing = LabelParsing()
        if type == .classification {
            labels = task.stringArray("labels", required: true, nonEmpty: true, issues: &issues) ?? []
            if Set(labels.map { $0.lowercased() }).count != labels.count {
                issues.add(ConfigIssue(path: "$.task.labels", expected: "distinct labels (case-insensitive)", found: labels.joined(separator: ", ")))
            }
            parsing = readParsing(task["parse"], path: "$.task.parse", labels: labels, issues: &issues) ?? LabelParsing()
        } else {
            // Labels and label parsing mean nothing to a task whose answers are not labels: refused, not ignored.
            for key in ["labels", "parse"] where task[key] != nil {
                issues.add(ConfigIssue(path: "$.task." + key, expected: "no \"\(key)\" for a \(type.rawValue) task (it is for classification)"))
            }
        }
        var schema: JSONSchema? = nil
        if let given = task["schema"] {
            if type != .extraction {
                issues.add(ConfigIssue(path: "$.task.schema", expected: "no \"schema\" for a \(type.rawValue) task (it describes an extraction task's output)"))
            } else {
                let (read, problems) = JSONSchema.read(given, path: "$.task.schema")
                for problem in problems { issues.add(problem) }
                schema = read
            }
        }
        var spec = TaskSpec(labels: labels, parsing: parsing, type: type, schema: schema)
        if let given = task["judge"] {
            if type == .classification {
                issues.add(ConfigIssue(path: "$.task.judge", expected: "no judge for a classification task (a label is right or wrong)"))
            } else {
                spec.judge = readJudge(given, issues: &issues)
            }
        }
        let scorer = readScorer(task["scorer"] ?? .string(type.defaultScorer), path: "$.task.scorer", task: spec, catalog: catalog, issues: &issues)
        if let scorer {
            if scorer.targets == type.targets { spec.scorer = scorer } else {
                issues.add(ConfigIssue(path: "$.task.scorer", expected: "a scorer of \(type.targets.described) for a \(type.rawValue) task",
                                       found: "\"\(scorer.name)\", which scores \(scorer.targets.described)"))
            }
        }
        return spec
    }

    /// "task.judge": the model that grades answers, its prompt and its scale.
    static func readJudge(_ value: JSON, issues: inout IssueCollector) -> JudgeSpec? {
        guard let judge = ObjectReader(value, path: "$.task.judge", issues: &issues) else { return nil }
        judge.rejectUnknownKeys(["model", "prompt", "scale"], issues: &issues)
        let model = judge.string("model", required: true, issues: &issues)
        let prompt = judge.string("prompt", required: true, issues: &issues)
        let scale = judge.oneOf("scale", JudgeScale.allCases.map(\.rawValue), issues: &issues).flatMap(JudgeScale.init(rawValue:)) ?? .passFail
        guard let model, let prompt else { return nil }
        return JudgeSpec(modelID: model, promptPath: prompt, scale: scale)
    }

    /// "task.scorer": a scorer's name, or an object with its name in "type" and its own options beside it.
    static func readScorer(_ value: JSON, path: String, task: TaskSpec, catalog: Catalog, issues: inout IssueCollector) -> (any ScorerOptions)? {
        let expected = "a scorer name (" + catalog.scorerNames.map { "\"\($0)\"" }.joined(separator: ", ")
            + ") or an object with one in \"type\""
        let name: String, options: JSON, namePath: String
        if let given = value.stringValue {
            (name, options, namePath) = (given, .object([]), path)
        } else if case .object(let members) = value, let given = value["type"]?.stringValue {
            (name, options, namePath) = (given, .object(members.filter { $0.0 != "type" }), path + ".type")
        } else {
            issues.add(path, expected: expected, found: value)
            return nil
        }
        guard let read = catalog.scorerReader(name) else {
            issues.add(ConfigIssue(path: namePath, expected: expected, found: "\"\(name)\""))
            return nil
        }
        let (scorer, problems) = read(options, path, task)
        for problem in problems { issues.add(problem) }
        return scorer
    }

    static func readParsing(_ value: JSON?, path: String, labels: [String], issues: inout IssueCollector) -> LabelParsing? {
        guard let value else { return nil }
        guard let reader = ObjectReader(value, path: path, issues: &issues) else { return nil }
        reader.rejectUnknownKeys(["method", "pattern", "synonyms", "numeric"], issues: &issues)
        var parsing = LabelParsing()
        switch reader.oneOf("method", ["exact", "first", "regex"], issues: &issues) {
        case "exact": parsing.method = .exact
        case "regex":
            if let pattern = reader.string("pattern", required: true, issues: &issues) {
                do {
                    let regex = try NSRegularExpression(pattern: pattern)
                    if regex.numberOfCaptureGroups < 1 {
                        issues.add(ConfigIssue(path: reader.childPath("pattern"), expected: "a regular expression with a capture group", found: "\"\(pattern)\""))
                    }
                    parsing.method = .regex(pattern)
                } catch {
                    issues.add(ConfigIssue(path: reader.childPath("pattern"), expected: "a valid regular expression", found: "\"\(pattern)\""))
                }
            }
        default: parsing.method = .first
        }
        if let synonyms = ObjectReader(reader["synonyms"], path: reader.childPath("synonyms"), issues: &issues, required: false) {
            for (key, target) in synonyms.members {
                guard let label = target.stringValue, labels.contains(label) else {
                    issues.add(synonyms.childPath(key), expected: "one of the task labels " + labels.joined(separator: ", "), found: target)
                    continue
                }
                parsing.synonyms[key] = label
            }
        }
        if let numeric = reader["numeric"] {
            guard let ranges = numeric.arrayValue else {
                issues.add(reader.childPath("numeric"), expected: "an array of {min, max, label}", found: numeric)
                return parsing
            }
            for (i, item) in ranges.enumerated() {
                guard let range = ObjectReader(item, path: "\(reader.childPath("numeric"))[\(i)]", issues: &issues) else { continue }
                range.rejectUnknownKeys(["min", "max", "label"], issues: &issues)
                let low = range.number("min", required: true, issues: &issues)
                let high = range.number("max", required: true, issues: &issues)
                let label = range.oneOf("label", labels, required: true, issues: &issues)
                if let low, let high, low > high {
                    issues.add(range.childPath("max"), expected: "a number ≥ min (\(JSON.formatNumber(low)))", found: .number(high))
                }
                if let low, let high, let label { parsing.numericRanges.append(NumericRange(min: low, max: high, label: label)) }
            }
        }
        return parsing
    }

    // MARK: dataset

    static func readDataset(_ root: ObjectReader, issues: inout IssueCollector) -> DatasetSpec? {
        guard let ds = ObjectReader(root["dataset"], path: "$.dataset", issues: &issues) else { return nil }
        ds.rejectUnknownKeys(["train", "validation", "test", "path", "split_field", "split_values", "split_ratios", "seed", "fields", "citation"], issues: &issues)
        var fieldsSpec: FieldMapping?
        if let fields = ObjectReader(ds["fields"], path: "$.dataset.fields", issues: &issues) {
            fields.rejectUnknownKeys(["input", "target", "id", "confidence", "human_answer", "human_grade"], issues: &issues)
            let input = fields.string("input", required: true, issues: &issues)
            let target = fields.string("target", required: true, issues: &issues)
            if let input, let target {
                fieldsSpec = FieldMapping(input: input, target: target, id: fields.string("id", issues: &issues),
                                          confidence: fields.string("confidence", issues: &issues))
                fieldsSpec?.humanAnswer = fields.string("human_answer", issues: &issues)
                fieldsSpec?.humanGrade = fields.string("human_grade", issues: &issues)
                if (fieldsSpec?.humanAnswer == nil) != (fieldsSpec?.humanGrade == nil) {
                    issues.add(ConfigIssue(path: "$.dataset.fields", expected: "both \"human_answer\" and \"human_grade\" (a human's grade of that answer), or neither"))
                }
            }
        }
        let hasFiles = ds["train"] != nil || ds["test"] != nil
        let hasPath = ds["path"] != nil
        var source: DatasetSpec.Source?
        if hasFiles && hasPath {
            issues.add(ConfigIssue(path: "$.dataset", expected: "either train/validation/test files or one \"path\", not both"))
        } else if hasFiles {
            let train = ds.string("train", required: true, issues: &issues)
            let validation = ds.string("validation", issues: &issues)
            let test = ds.string("test", required: true, issues: &issues)
            if let train, let test { source = .files(train: train, validation: validation, test: test) }
        } else if let path = ds.string("path", issues: &issues) {
            if let field = ds.string("split_field", issues: &issues) {
                var names = SplitNames()
                if let values = ObjectReader(ds["split_values"], path: "$.dataset.split_values", issues: &issues, required: false) {
                    values.rejectUnknownKeys(["train", "validation", "test"], issues: &issues)
                    names.train = values.string("train", issues: &issues) ?? names.train
                    names.validation = values.string("validation", issues: &issues) ?? names.validation
                    names.test = values.string("test", issues: &issues) ?? names.test
                }
                source = .splitField(path: path, field: field, values: names)
            } else if let ratios = ObjectReader(ds["split_ratios"], path: "$.dataset.split_ratios", issues: &issues, required: false) {
                ratios.rejectUnknownKeys(["train", "validation", "test"], issues: &issues)
                let share = "a share between 0 and 1"
                let train = ratios.number("train", required: true, range: 0...1, rangeText: share, issues: &issues)
                let validation = ratios.number("validation", range: 0...1, rangeText: share, issues: &issues) ?? 0
                let test = ratios.number("test", required: true, range: 0...1, rangeText: share, issues: &issues)
                let seed = ds.integer("seed", minimum: 0, issues: &issues) ?? 42
                if let train, let test {
                    if abs(train + validation + test - 1) > 1e-6 {
                        issues.add(ConfigIssue(path: "$.dataset.split_ratios", expected: "shares that add up to 1",
                                               found: JSON.formatNumber(train + validation + test)))
                    } else {
                        source = .ratio(path: path, train: train, validation: validation, test: test, seed: UInt64(seed))
                    }
                }
            } else {
                issues.add(ConfigIssue(path: "$.dataset", expected: "\"split_field\" or \"split_ratios\" beside \"path\""))
            }
        } else {
            issues.add(ConfigIssue(path: "$.dataset", expected: "\"train\" and \"test\" files, or \"path\" with \"split_field\" or \"split_ratios\""))
        }
        guard let source, let fieldsSpec else { return nil }
        return DatasetSpec(source: source, fields: fieldsSpec, citation: ds.string("citation", issues: &issues))
    }

    // MARK: prompts

    static func readPrompts(_ root: ObjectReader, labels: [String], issues: inout IssueCollector) -> [PromptSpec] {
        guard let value = root["prompts"] else { return [] }
        guard let items = value.arrayValue else {
            issues.add("$.prompts", expected: "an array of prompt variants", found: value)
            return []
        }
        var prompts: [PromptSpec] = []
        for (i, item) in items.enumerated() {
            let path = "$.prompts[\(i)]"
            guard let p = ObjectReader(item, path: path, issues: &issues) else { continue }
            p.rejectUnknownKeys(["id", "description", "system", "user", "examples", "example_template", "example_separator", "parse"], issues: &issues)
            let id = p.string("id", required: true, issues: &issues)
            if let id, prompts.contains(where: { $0.id == id }) {
                issues.add(ConfigIssue(path: p.childPath("id"), expected: "a prompt id used once", found: "\"\(id)\" again"))
            }
            if let id { checkID(id, path: p.childPath("id"), issues: &issues) }
            let user = p.string("user", required: true, issues: &issues)
            let examples = readExampleSelection(p["examples"], path: p.childPath("examples"), issues: &issues)
            let parsing = readParsing(p["parse"], path: p.childPath("parse"), labels: labels, issues: &issues)
            guard let id, let user else { continue }
            prompts.append(PromptSpec(id: id, description: p.string("description", issues: &issues),
                                      systemPath: p.string("system", issues: &issues), userPath: user,
                                      examples: examples,
                                      exampleTemplate: p.string("example_template", issues: &issues) ?? "Input: {{input}}\nLabel: {{label}}",
                                      exampleSeparator: p["example_separator"]?.stringValue ?? "\n\n",
                                      parsing: parsing))
        }
        return prompts
    }

    static func readExampleSelection(_ value: JSON?, path: String, issues: inout IssueCollector) -> ExampleSelection {
        guard let value else { return .none }
        if value.stringValue == "none" { return .none }
        guard let e = ObjectReader(value, path: path, issues: &issues) else { return .none }
        e.rejectUnknownKeys(["kind", "ids", "k", "balanced", "similarity", "embeddings"], issues: &issues)
        switch e.oneOf("kind", ["none", "fixed", "first", "similar"], required: true, issues: &issues) {
        case "similar":
            let k = e.integer("k", required: true, minimum: 1, issues: &issues) ?? 1
            var spec = SimilarExamplesSpec(k: k, balanced: e.bool("balanced", issues: &issues) ?? false)
            if e.oneOf("similarity", ["tfidf", "embeddings"], issues: &issues) == "embeddings" {
                guard let em = ObjectReader(e["embeddings"], path: e.childPath("embeddings"), issues: &issues) else { return .similar(spec) }
                em.rejectUnknownKeys(["base_url", "model", "api_key_env", "timeout_seconds"], issues: &issues)
                let base = em.string("base_url", required: true, issues: &issues)
                let model = em.string("model", required: true, issues: &issues)
                if let base, let model {
                    spec.source = .embeddings(EmbeddingsSettings(baseURL: base, model: model, apiKeyEnv: em.string("api_key_env", issues: &issues),
                                                                 timeoutSeconds: em.number("timeout_seconds", range: 0.001...86_400, issues: &issues) ?? 60))
                }
            }
            return .similar(spec)
        case "fixed":
            let ids = e.stringArray("ids", required: true, nonEmpty: true, issues: &issues) ?? []
            return .fixed(ids)
        case "first":
            return .first(e.integer("k", required: true, minimum: 1, issues: &issues) ?? 1)
        default:
            return .none
        }
    }

    /// Characters an id may not hold: ids name files (training-<model>.csv), join into candidate ids
    /// (model:prompt) and appear in Markdown, so no separators, brackets, quotes, whitespace or controls.
    static let forbiddenIDCharacters = Set(":/\\`|<>[]()\"'*".unicodeScalars)

    static func checkID(_ id: String, path: String, issues: inout IssueCollector) {
        let bad = id.unicodeScalars.first { forbiddenIDCharacters.contains($0) || $0.properties.isWhitespace || $0.properties.generalCategory == .control
            || $0.properties.generalCategory == .format }
        guard id.isEmpty || bad != nil || id.unicodeScalars.count > 100 else { return }
        let found = bad.map { "\"\(JSON.string(id).encoded().dropFirst().dropLast())\" (it holds U+\(String($0.value, radix: 16, uppercase: true)))" } ?? "\"\(id.prefix(40))…\""
        issues.add(ConfigIssue(path: path, expected: "an id of 1 to 100 characters without whitespace, control characters or any of : / \\ ` | < > [ ] ( ) \" ' *",
                               found: found))
    }

    // MARK: models

    static func readModels(_ root: ObjectReader, runConcurrency: Int, catalog: Catalog, issues: inout IssueCollector) -> [ModelSpec] {
        guard let value = root["models"], let items = value.arrayValue, !items.isEmpty else {
            issues.add("$.models", expected: "a non-empty array of models", found: root["models"])
            return []
        }
        var models: [ModelSpec] = []
        for (i, item) in items.enumerated() {
            let path = "$.models[\(i)]"
            guard let m = ObjectReader(item, path: path, issues: &issues) else { continue }
            m.rejectUnknownKeys(["id", "description", "provider", "role", "options", "pricing", "concurrency", "fine_tuning", "retry", "requests_per_minute", "tokens_per_minute", "training_log", "training", "server", "files", "capacity_probe", "mode", "batch"], issues: &issues)
            var server: ServerSettings? = nil
            if let sv = ObjectReader(m["server"], path: m.childPath("server"), issues: &issues, required: false) {
                sv.rejectUnknownKeys(["command", "ready_url", "startup_timeout_seconds", "identify", "replicas", "shared"], issues: &issues)
                let command = sv.stringArray("command", required: true, nonEmpty: true, issues: &issues)
                let identify = sv.stringArray("identify", nonEmpty: true, issues: &issues)
                let ready = sv.string("ready_url", required: true, issues: &issues)
                if let ready, URL(string: ServerSettings.withPort(ready, 1))?.scheme?.hasPrefix("http") != true {
                    issues.add(ConfigIssue(path: sv.childPath("ready_url"), expected: "an http:// URL", found: "\"\(ready)\""))
                }
                let timeout = sv.number("startup_timeout_seconds", range: 0.1...3600, rangeText: "seconds between 0.1 and 3600", issues: &issues) ?? 120
                let replicas = sv.integer("replicas", minimum: 1, issues: &issues) ?? 1
                if let command, !command.isEmpty, let ready {
                    var settings = ServerSettings(command: command, readyURL: ready, startupTimeoutSeconds: timeout)
                    settings.identify = identify.flatMap { $0.isEmpty ? nil : $0 }
                    settings.replicas = min(replicas, 64)
                    settings.shared = sv.bool("shared", issues: &issues) ?? false
                    if replicas > 64 { issues.add(ConfigIssue(path: sv.childPath("replicas"), expected: "at most 64 servers", found: String(replicas))) }
                    // Several servers need a port each: evalkit fills in {port} where the command and ready_url take it.
                    if replicas > 1 || settings.choosesPort {
                        if !command.contains(where: { $0.contains(ServerSettings.portPlaceholder) }) {
                            issues.add(ConfigIssue(path: sv.childPath("command"), expected: "{port} where the server takes its port (evalkit chooses a free one for each server)",
                                                   found: "no {port}"))
                        }
                        if !ready.contains(ServerSettings.portPlaceholder) {
                            issues.add(ConfigIssue(path: sv.childPath("ready_url"), expected: "{port} in the URL, as in the command", found: "\"\(ready)\""))
                        }
                    }
                    server = settings
                }
            }
            let id = m.string("id", required: true, issues: &issues)
            if let id, models.contains(where: { $0.id == id }) {
                issues.add(ConfigIssue(path: m.childPath("id"), expected: "a model id used once", found: "\"\(id)\" again"))
            }
            if let id { checkID(id, path: m.childPath("id"), issues: &issues) }
            let providerName = m.oneOf("provider", catalog.providerNames, required: true, issues: &issues)
            let role = m.oneOf("role", ModelRole.allCases.map(\.rawValue), required: true, issues: &issues).flatMap(ModelRole.init(rawValue:))
            var provider: (any ProviderOptions)? = nil
            if let name = providerName, let read = catalog.providerReader(name) {
                let (options, problems) = read(m["options"] ?? .object([]), m.childPath("options"))
                for problem in problems { issues.add(problem) }
                provider = options
            }
            let pricing = readPricing(m["pricing"], path: m.childPath("pricing"), catalog: catalog, issues: &issues)
            let concurrency = m.integer("concurrency", minimum: 1, issues: &issues)
            if let concurrency, concurrency > 1, let provider, provider.answersOneAtATime {
                issues.add(ConfigIssue(path: m.childPath("concurrency"), expected: "1 for a \(provider.name) model (it answers one request at a time)",
                                       found: String(concurrency)))
            }
            if server != nil, let provider, !provider.acceptsServer {
                issues.add(ConfigIssue(path: m.childPath("server"), expected: "no server for a \(provider.name) model (it runs inside evalkit)"))
            }
            if server == nil, let url = provider?.serverURL, url.contains(ServerSettings.portPlaceholder) {
                issues.add(ConfigIssue(path: m.childPath("options.base_url"), expected: "a URL without {port} (evalkit fills in {port} only for a server it starts)",
                                       found: "\"\(url)\""))
            }
            if let server, server.choosesPort || server.replicas > 1, let provider {
                let reachable = provider.serverURL.map { $0.contains(ServerSettings.portPlaceholder) } ?? false
                if !reachable || provider.replicaCount > 1 || (provider as? any ProviderKind)?.served(at: ["http://127.0.0.1:1"]) == nil {
                    issues.add(ConfigIssue(path: m.childPath("options.base_url"),
                                           expected: "one URL with {port}, where the servers evalkit starts are reached", found: provider.serverURL.map { "\"\($0)\"" } ?? "none"))
                }
            }
            guard let id, let role, let provider else { continue }
            let defaultConcurrency = provider.answersOneAtATime ? 1 : runConcurrency
            let fineTuning = readFineTuning(m["fine_tuning"], path: m.childPath("fine_tuning"), issues: &issues)
            var limits = RequestLimits()
            if let r = ObjectReader(m["retry"], path: m.childPath("retry"), issues: &issues, required: false) {
                r.rejectUnknownKeys(["max_attempts", "base_delay_seconds", "max_delay_seconds"], issues: &issues)
                if let v = r.integer("max_attempts", minimum: 1, issues: &issues) { limits.maxAttempts = v }
                if let v = r.number("base_delay_seconds", range: 0...3600, rangeText: "seconds between 0 and 3600", issues: &issues) { limits.baseDelaySeconds = v }
                if let v = r.number("max_delay_seconds", range: 0...3600, rangeText: "seconds between 0 and 3600", issues: &issues) { limits.maxDelaySeconds = v }
            }
            limits.requestsPerMinute = m.number("requests_per_minute", range: 0.001...1e9, rangeText: "requests per minute > 0", issues: &issues)
            limits.tokensPerMinute = m.number("tokens_per_minute", range: 1...1e12, rangeText: "tokens per minute ≥ 1", issues: &issues)
            var model = ModelSpec(id: id, role: role, provider: provider, pricing: pricing,
                                  concurrency: concurrency ?? defaultConcurrency, description: m.string("description", issues: &issues),
                                  fineTuning: fineTuning, limits: limits, trainingLog: m.string("training_log", issues: &issues), server: server,
                                  files: m.stringArray("files", issues: &issues))
            model.training = readTraining(m["training"], path: m.childPath("training"), issues: &issues)
            if model.training != nil, provider.answersWithLabels, !provider.usesPrompts {
                issues.add(ConfigIssue(path: m.childPath("training"), expected: "no \"training\" for a model evalkit trains itself (its run records how)"))
            }
            if m.oneOf("mode", ["online", "batch"], issues: &issues) == "batch" {
                var batch = BatchSettings()
                if let b = ObjectReader(m["batch"], path: m.childPath("batch"), issues: &issues, required: false) {
                    b.rejectUnknownKeys(["poll_seconds", "max_wait_seconds"], issues: &issues)
                    if let v = b.number("poll_seconds", range: 0.01...3600, rangeText: "seconds between 0.01 and 3600", issues: &issues) { batch.pollSeconds = v }
                    if let v = b.number("max_wait_seconds", range: 0.01...604_800, rangeText: "seconds up to a week", issues: &issues) { batch.maxWaitSeconds = v }
                }
                if !provider.runsBatchJobs {
                    issues.add(ConfigIssue(path: m.childPath("mode"),
                                           expected: "\"online\" here: batch jobs run on openai and anthropic models that neither stream nor score by label likelihood",
                                           found: "\"batch\" for a \(provider.name) model"))
                } else if server != nil || provider.replicaCount > 1 {
                    issues.add(ConfigIssue(path: m.childPath("mode"), expected: "\"online\" for a model with a managed server or replicas (a batch job goes to the provider's batch service)",
                                           found: "\"batch\""))
                }
                model.batch = batch
            } else if m["batch"] != nil {
                issues.add(ConfigIssue(path: m.childPath("batch"), expected: "\"mode\": \"batch\" beside it", found: "no batch mode"))
            }
            model.capacityProbe = readCapacityProbe(m["capacity_probe"], path: m.childPath("capacity_probe"),
                                                    byDefault: pricing?.model.needsCapacity == true, oneAtATime: provider.answersOneAtATime, issues: &issues)
            models.append(model)
        }
        return models
    }

    /// "capacity_probe": true, false, or `{"max_concurrency", "requests_per_level"}`; by default on for a
    /// model whose cost rests on its throughput. A model that answers one request at a time is probed at 1 only.
    static func readCapacityProbe(_ value: JSON?, path: String, byDefault: Bool, oneAtATime: Bool, issues: inout IssueCollector) -> CapacityProbeSettings? {
        var settings = CapacityProbeSettings()
        if oneAtATime { settings.maxConcurrency = 1 }
        guard let value else { return byDefault ? settings : nil }
        if let on = value.boolValue { return on ? settings : nil }
        guard let p = ObjectReader(value, path: path, issues: &issues) else { return nil }
        p.rejectUnknownKeys(["max_concurrency", "requests_per_level"], issues: &issues)
        if let v = p.integer("max_concurrency", minimum: 1, issues: &issues) {
            if oneAtATime && v > 1 {
                issues.add(ConfigIssue(path: p.childPath("max_concurrency"), expected: "1 for a model that answers one request at a time", found: String(v)))
            } else {
                settings.maxConcurrency = min(v, 1024)
            }
        }
        if let v = p.integer("requests_per_level", minimum: 1, issues: &issues) { settings.requestsPerLevel = min(v, 100_000) }
        return settings
    }

    /// "pricing": `{"model": name, …its prices, "source", "date"}`. Without "model", per-token prices are
    /// "api" and a price per hour "serverless" (how configs written before cost models were read).
    static func readPricing(_ value: JSON?, path: String, catalog: Catalog, issues: inout IssueCollector) -> Pricing? {
        guard let p = ObjectReader(value, path: path, issues: &issues, required: false), case .object(let members)? = value else { return nil }
        let source = p.string("source", issues: &issues), date = p.string("date", issues: &issues)
        let name: String
        if let given = p.oneOf("model", catalog.costModelNames, issues: &issues) {
            name = given
        } else if p["model"] != nil {
            return nil
        } else {
            name = p["per_hour"] != nil ? "serverless" : "api"
        }
        guard let read = catalog.costModelReader(name) else {
            issues.add(ConfigIssue(path: p.childPath("model"), expected: "one of " + catalog.costModelNames.joined(separator: ", ")))
            return nil
        }
        let (model, problems) = read(.object(members.filter { !["model", "source", "date"].contains($0.0) }), path)
        for problem in problems { issues.add(problem) }
        return model.map { Pricing(model: $0, source: source, date: date) }
    }

    // MARK: candidates and run

    static func readCandidates(_ root: ObjectReader, prompts: [PromptSpec], models: [ModelSpec], issues: inout IssueCollector) -> [CandidateSpec] {
        guard let value = root["candidates"] else {
            // Default: every prompt with every prompted model, and each unprompted model once.
            return models.flatMap { model -> [CandidateSpec] in
                model.provider.usesPrompts ? prompts.map { CandidateSpec(modelID: model.id, promptID: $0.id) }
                                           : [CandidateSpec(modelID: model.id, promptID: nil)]
            }
        }
        guard let items = value.arrayValue, !items.isEmpty else {
            issues.add("$.candidates", expected: "a non-empty array of {model, prompt}", found: value)
            return []
        }
        var out: [CandidateSpec] = []
        for (i, item) in items.enumerated() {
            guard let c = ObjectReader(item, path: "$.candidates[\(i)]", issues: &issues) else { continue }
            c.rejectUnknownKeys(["model", "prompt"], issues: &issues)
            let modelID = c.oneOf("model", models.map(\.id), required: true, issues: &issues)
            let promptID = c.string("prompt", issues: &issues)
            if let promptID, !prompts.contains(where: { $0.id == promptID }) {
                var expected = "one of the prompt ids " + prompts.map(\.id).joined(separator: ", ")
                if let guess = Text.suggestion(for: promptID, among: prompts.map(\.id)) { expected += " (did you mean \"\(guess)\"?)" }
                issues.add(ConfigIssue(path: c.childPath("prompt"), expected: expected, found: "\"\(promptID)\""))
                continue
            }
            guard let modelID, let model = models.first(where: { $0.id == modelID }) else { continue }
            if model.provider.usesPrompts && promptID == nil {
                issues.add(ConfigIssue(path: c.childPath("prompt"), expected: "a prompt id for model \"\(modelID)\" (its provider takes prompts)"))
                continue
            }
            let candidate = CandidateSpec(modelID: modelID, promptID: model.provider.usesPrompts ? promptID : nil)
            if out.contains(candidate) {
                issues.add(ConfigIssue(path: "$.candidates[\(i)]", expected: "each candidate listed once", found: "\"\(candidate.id)\" again"))
            } else {
                out.append(candidate)
            }
        }
        return out
    }

    static func readTraining(_ value: JSON?, path: String, issues: inout IssueCollector) -> TrainingDeclaration? {
        guard let t = ObjectReader(value, path: path, issues: &issues, required: false) else { return nil }
        t.rejectUnknownKeys(["method", "examples", "labels_from", "trainable_parameters", "adapter"], issues: &issues)
        let method = t.string("method", required: true, issues: &issues)
        let examples = t.integer("examples", required: true, minimum: 1, issues: &issues)
        let labelsFrom = t.string("labels_from", issues: &issues)
        let parameters = t.integer("trainable_parameters", minimum: 1, issues: &issues)
        let adapter = t.string("adapter", issues: &issues)
        guard let method, let examples else { return nil }
        if method.trimmingCharacters(in: .whitespaces).isEmpty {
            issues.add(ConfigIssue(path: t.childPath("method"), expected: "the method's name, e.g. \"LoRA r=16\"", found: "an empty string"))
        }
        var training = TrainingDeclaration(method: method, examples: examples)
        training.labelsFrom = labelsFrom
        training.trainableParameters = parameters
        training.adapter = adapter
        return training
    }

    static func readFineTuning(_ value: JSON?, path: String, issues: inout IssueCollector) -> FineTuningCost? {
        guard let f = ObjectReader(value, path: path, issues: &issues, required: false) else { return nil }
        f.rejectUnknownKeys(["usd", "training_tokens", "epochs", "usd_per_million_tokens", "source", "date"], issues: &issues)
        let amount = "an amount ≥ 0"
        let basis: FineTuningCost.Basis
        if let usd = f.number("usd", range: 0...1e12, rangeText: amount, issues: &issues) {
            basis = .fixed(usd: usd)
        } else if f["training_tokens"] != nil {
            let tokens = f.number("training_tokens", required: true, range: 0...1e15, rangeText: amount, issues: &issues)
            let epochs = f.number("epochs", required: true, range: 0...1e6, rangeText: amount, issues: &issues)
            let price = f.number("usd_per_million_tokens", required: true, range: 0...1e9, rangeText: amount, issues: &issues)
            guard let tokens, let epochs, let price else { return nil }
            basis = .tokens(trainingTokens: tokens, epochs: epochs, usdPerMillion: price)
        } else {
            issues.add(ConfigIssue(path: path, expected: "\"usd\", or \"training_tokens\" with \"epochs\" and \"usd_per_million_tokens\""))
            return nil
        }
        return FineTuningCost(basis: basis, source: f.string("source", issues: &issues), date: f.string("date", issues: &issues))
    }

    static func readDecision(_ root: ObjectReader, candidates: [CandidateSpec], issues: inout IssueCollector) -> DecisionPolicy {
        var policy = DecisionPolicy()
        guard let d = ObjectReader(root["decision"], path: "$.decision", issues: &issues, required: false) else { return policy }
        d.rejectUnknownKeys(["reference", "requirements", "margin", "monthly_requests", "horizon_months", "alpha", "power", "max_error_rate", "cost_tie", "label_cost_usd"],
                            issues: &issues)
        if let reference = d.string("reference", issues: &issues) {
            if candidates.contains(where: { $0.id == reference }) {
                policy.reference = reference
            } else {
                var expected = "a candidate id (" + candidates.map(\.id).joined(separator: ", ") + ")"
                if let guess = Text.suggestion(for: reference, among: candidates.map(\.id)) { expected += " (did you mean \"\(guess)\"?)" }
                issues.add(ConfigIssue(path: d.childPath("reference"), expected: expected, found: "\"\(reference)\""))
            }
        }
        if let r = ObjectReader(d["requirements"], path: d.childPath("requirements"), issues: &issues, required: false) {
            r.rejectUnknownKeys(["min_accuracy", "min_accuracy_by", "max_p95_latency_ms", "max_cost_per_1k_usd"], issues: &issues)
            policy.minAccuracy = r.number("min_accuracy", range: 0...1, rangeText: "an accuracy between 0 and 1", issues: &issues)
            if let by = r.oneOf("min_accuracy_by", MinAccuracyRule.allCases.map(\.rawValue), issues: &issues).flatMap(MinAccuracyRule.init(rawValue:)) {
                policy.minAccuracyBy = by
            }
            policy.maxP95LatencyMs = r.number("max_p95_latency_ms", range: 0...1e12, rangeText: "milliseconds ≥ 0", issues: &issues)
            policy.maxCostPer1kUSD = r.number("max_cost_per_1k_usd", range: 0...1e12, rangeText: "an amount in USD ≥ 0", issues: &issues)
        }
        if let v = d.number("margin", range: 0...1, rangeText: "an accuracy margin between 0 and 1", issues: &issues) { policy.margin = v }
        if let v = d.number("monthly_requests", range: 0...1e15, rangeText: "a request count ≥ 0", issues: &issues) { policy.monthlyRequests = v }
        if let v = d.number("horizon_months", range: 0...1200, rangeText: "months between 0 and 1200", issues: &issues) { policy.horizonMonths = v }
        if let v = d.number("alpha", range: 1e-6...0.5, rangeText: "a significance level between 0 and 0.5", issues: &issues) { policy.alpha = v }
        if let v = d.number("power", range: 0.5...0.999_999, rangeText: "a power between 0.5 and 1", issues: &issues) { policy.power = v }
        if let v = d.number("max_error_rate", range: 0...1, rangeText: "a share of requests between 0 and 1", issues: &issues) { policy.maxErrorRate = v }
        if let v = d.number("cost_tie", range: 0...1, rangeText: "a share of the lowest cost between 0 and 1", issues: &issues) { policy.costTie = v }
        policy.labelCostUSD = d.number("label_cost_usd", range: 0...1_000_000, rangeText: "USD per labelled example, 0 or more", issues: &issues)
        return policy
    }

    static func readCheck(_ root: ObjectReader, issues: inout IssueCollector) -> CheckPolicy {
        var policy = CheckPolicy()
        guard let c = ObjectReader(root["check"], path: "$.check", issues: &issues, required: false) else { return policy }
        c.rejectUnknownKeys(["max_accuracy_drop", "max_latency_ratio", "max_cost_ratio", "alpha"], issues: &issues)
        if let v = c.number("max_accuracy_drop", range: 0...1, rangeText: "an accuracy drop between 0 and 1", issues: &issues) { policy.maxAccuracyDrop = v }
        if let v = c.number("max_latency_ratio", range: 1...1e6, rangeText: "a ratio ≥ 1", issues: &issues) { policy.maxLatencyRatio = v }
        if let v = c.number("max_cost_ratio", range: 1...1e6, rangeText: "a ratio ≥ 1", issues: &issues) { policy.maxCostRatio = v }
        if let v = c.number("alpha", range: 1e-6...0.5, rangeText: "a significance level between 0 and 0.5", issues: &issues) { policy.alpha = v }
        return policy
    }

    static func readRun(_ root: ObjectReader, issues: inout IssueCollector) -> RunSettings {
        var run = RunSettings()
        guard let r = ObjectReader(root["run"], path: "$.run", issues: &issues, required: false) else { return run }
        r.rejectUnknownKeys(["concurrency", "limit", "seed", "repeats", "budget_usd", "max_error_rate", "sequential_models"], issues: &issues)
        if let v = r["sequential_models"] {
            if let b = v.boolValue { run.sequentialModels = b } else { issues.add(r.childPath("sequential_models"), expected: "true or false", found: v) }
        }
        run.maxErrorRate = r.number("max_error_rate", range: 0...1, rangeText: "a share between 0 and 1", issues: &issues)
        // Bounded: every request is planned up front, and a result records its repeat in 16 bits.
        if let v = r.integer("repeats", minimum: 1, maximum: RunSettings.maxRepeats, issues: &issues) { run.repeats = v }
        run.budgetUSD = r.number("budget_usd", range: 0...1e12, rangeText: "an amount in USD ≥ 0", issues: &issues)
        if let v = r.integer("concurrency", minimum: 1, issues: &issues) { run.concurrency = v }
        run.limit = r.integer("limit", minimum: 1, issues: &issues)
        if let v = r.integer("seed", minimum: 0, issues: &issues) { run.seed = UInt64(v) }
        return run
    }
}
