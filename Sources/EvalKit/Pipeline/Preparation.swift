import Foundation

/// An experiment with its data loaded and its prompts checked: ready to run.
public struct PreparedExperiment: Sendable {
    public var experiment: Experiment
    public var dataset: Dataset
    /// Prompt builders by prompt id.
    public var builders: [String: PromptBuilder]
    /// The judge's rubric template ("task.judge.prompt"), where the task has a judge.
    public var judgePrompt: Template? = nil
}

/// Why an experiment cannot run: every problem found, each naming where it is.
public enum PreparationError: Error, CustomStringConvertible, Sendable {
    case config(ConfigError)
    case problems(file: String, [String])
    /// The config's own problems and, where its task and dataset could be read, those of its data and prompts.
    case configAndData(ConfigError, data: [String])

    public var description: String {
        switch self {
        case .config(let error): return error.description
        case let .configAndData(config, data):
            guard !data.isEmpty else { return config.description }
            let noun = data.count == 1 ? "problem" : "problems"
            return config.description + "\nand \(data.count) \(noun) in its data and prompts:\n" + data.map { "  - \($0)" }.joined(separator: "\n")
        case let .problems(file, problems):
            let noun = problems.count == 1 ? "problem" : "problems"
            return "\(file): \(problems.count) \(noun) found:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

/// Loads and checks everything an experiment needs before any request is made.
public enum Preparation {
    /// Reads the config, loads the dataset and checks every prompt template, reporting all problems at once.
    /// Without `checkingModels`, the files models are made of (adapters, training logs) are not required:
    /// commands that read only data and prompts (audit, export-finetune) run before a model is trained.
    public static func prepare(configPath: String, catalog: Catalog = .standard, checkingModels: Bool = true) throws(PreparationError) -> PreparedExperiment {
        let experiment: Experiment
        do { experiment = try ExperimentLoader.load(path: configPath, catalog: catalog) } catch { throw .config(error) }
        return try prepare(experiment, checkingModels: checkingModels)
    }

    /// Like `prepare(configPath:)`, but a config with problems still has its data and prompts checked
    /// wherever its task and dataset sections are sound, so one run of `validate` lists everything.
    public static func validate(configPath: String, catalog: Catalog = .standard) throws(PreparationError) -> PreparedExperiment {
        let (problem, usable) = ExperimentLoader.loadLeniently(path: configPath, catalog: catalog)
        guard let problem else {
            guard let usable else { throw .problems(file: configPath, ["the experiment could not be read"]) }
            return try prepare(usable)
        }
        guard let usable else { throw .config(problem) }
        do throws(PreparationError) { _ = try prepare(usable) } catch {
            if case .problems(_, let found) = error { throw .configAndData(problem, data: found) }
        }
        throw .config(problem)
    }

    /// An interrupted run's folder made ready to finish: the experiment exactly as it ran (its config.json)
    /// and its manifest, for `CompareOptions.resuming`.
    public static func resuming(directory: String) throws(PreparationError) -> (PreparedExperiment, RunManifest) {
        let folder: RunFolder
        do { folder = try RunFolder.load(directory, requireSummary: false, withResults: false) } catch {
            throw .problems(file: directory, ["cannot resume: \(error)"])
        }
        return (try prepare(folder.experiment), folder.manifest)
    }

    /// Loads the dataset and checks the prompts of an already-read experiment.
    public static func prepare(_ experiment: Experiment, checkingModels: Bool = true) throws(PreparationError) -> PreparedExperiment {
        var problems: [String] = []
        var dataset: Dataset?
        do { dataset = try DatasetLoader.load(experiment) } catch { problems += error.listed.map { "$.dataset: \($0)" } }
        var builders: [String: PromptBuilder] = [:]
        for (index, prompt) in experiment.prompts.enumerated() {
            do {
                builders[prompt.id] = try PromptBuilder(spec: prompt, experiment: experiment, train: dataset?.train ?? [])
            } catch {
                // Without training data the fixed-example check cannot run; that problem is reported above.
                if dataset == nil, case .unknownExample = error { continue }
                problems.append("$.prompts[\(index)] (\(prompt.id)): \(error)")
            }
        }
        if checkingModels { problems += modelFileProblems(experiment) }
        var judgePrompt: Template? = nil
        if let judge = experiment.task.judge {
            do {
                let template = try Template(PromptBuilder.read(experiment.resolve(judge.promptPath), shown: judge.promptPath),
                                            allowed: JudgeSpec.placeholders, source: judge.promptPath)
                if template.placeholders.contains("answer") { judgePrompt = template } else {
                    problems.append("$.task.judge.prompt: \(judge.promptPath) never uses {{answer}}, so the judge would not see the answer it grades")
                }
            } catch { problems.append("$.task.judge.prompt: \(error)") }
        }
        guard problems.isEmpty, let dataset else { throw .problems(file: experiment.configPath, problems) }
        var prepared = PreparedExperiment(experiment: experiment, dataset: dataset, builders: builders)
        prepared.judgePrompt = judgePrompt
        return prepared
    }
}

extension Preparation {
    /// What is missing of the files the models that candidates use are made of (weights, adapters,
    /// training logs), each with its JSON path; a model no candidate uses (left out by `--only`) needs none.
    public static func modelFileProblems(_ experiment: Experiment) -> [String] {
        var problems: [String] = []
        let used = Set(experiment.candidates.map(\.modelID)).union(experiment.task.judge.map { [$0.modelID] } ?? [])
        for (index, model) in experiment.models.enumerated() where used.contains(model.id) {
            for (fileIndex, file) in (model.files ?? []).enumerated() where !FileManager.default.fileExists(atPath: experiment.resolve(file)) {
                problems.append("$.models[\(index)].files[\(fileIndex)]: no file at \(experiment.resolve(file)) (expected a file the model is made of)")
            }
            guard let log = model.trainingLog else { continue }
            do { _ = try TrainingLogReader.read(experiment.resolve(log)) } catch { problems.append("$.models[\(index)].training_log: \(error)") }
        }
        return problems
    }
}

extension PreparedExperiment {
    /// The experiment with only the candidates of `models` (`--only`); a reference left out is no
    /// longer one. Throws when a model id is not in the experiment.
    public func restricted(toModels models: [String]) throws(UsageError) -> PreparedExperiment {
        let known = experiment.models.map(\.id)
        if let unknown = models.first(where: { !known.contains($0) }) {
            var message = "--only names model \"\(unknown)\", which the experiment does not have (models: \(known.joined(separator: ", ")))"
            if let guess = Text.suggestion(for: unknown, among: known) { message += "; did you mean \"\(guess)\"?" }
            throw UsageError(message)
        }
        var copy = self
        copy.experiment.candidates = experiment.candidates.filter { models.contains($0.modelID) }
        if let reference = copy.experiment.decision.reference, !copy.experiment.candidates.contains(where: { $0.id == reference }) {
            copy.experiment.decision.reference = nil
        }
        return copy
    }
}
