import Foundation

/// The text sent for one example: a system part (may be empty) and a user part.
public struct RenderedPrompt: Sendable, Equatable {
    public var system: String?
    public var user: String

    public init(system: String?, user: String) { self.system = system; self.user = user }

    /// One raw text for completion endpoints: the system part, a blank line, then the user part.
    public var completionText: String {
        guard let system, !system.isEmpty else { return user }
        return system + "\n\n" + user
    }
}

/// A prompt variant ready to render: templates parsed and few-shot examples chosen.
public struct PromptBuilder: Sendable {
    /// Placeholders of a prompt template: {labels} in a classification task, {schema} (the output's JSON
    /// Schema) in an extraction task with one.
    public static let templatePlaceholders = ["input", "labels", "examples", "schema"]
    /// Placeholders of a few-shot example: {label} and {target} are both the example's target.
    public static let examplePlaceholders = ["input", "label", "target"]

    /// The template placeholders a task offers.
    public static func placeholders(for task: TaskSpec) -> [String] {
        ["input", "examples"] + (task.type == .classification ? ["labels"] : []) + (task.schema != nil ? ["schema"] : [])
    }

    public let spec: PromptSpec
    let system: Template?
    let user: Template
    let examplesBlock: String
    let exampleTemplate: Template
    let labelsText: String
    let schemaText: String

    /// Reads and checks the template files of `spec`; picks fixed examples from `train`.
    public init(spec: PromptSpec, experiment: Experiment, train: [Example]) throws(PromptError) {
        self.spec = spec
        system = try spec.systemPath.map { path throws(PromptError) in
            try Template(Self.read(experiment.resolve(path), shown: path), allowed: Self.placeholders(for: experiment.task), source: path)
        }
        user = try Template(Self.read(experiment.resolve(spec.userPath), shown: spec.userPath), allowed: Self.placeholders(for: experiment.task),
                            source: spec.userPath)
        if !user.placeholders.contains("input") { throw .missingInput(source: spec.userPath) }
        exampleTemplate = try Template(spec.exampleTemplate, allowed: Self.examplePlaceholders,
                                           source: "example_template of prompt \"\(spec.id)\"")
        labelsText = experiment.task.labels.joined(separator: ", ")
        schemaText = experiment.task.schema?.json.encoded() ?? ""
        let chosen: [Example]
        switch spec.examples {
        case .none, .similar: chosen = []
        case .first(let k): chosen = Array(train.prefix(k))
        case .fixed(let ids):
            let byID = Dictionary(train.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            chosen = ids.compactMap { byID[$0] }
            if let missing = ids.first(where: { byID[$0] == nil }) {
                throw .unknownExample(prompt: spec.id, id: missing)
            }
        }
        examplesBlock = Self.block(chosen, template: exampleTemplate, separator: spec.exampleSeparator)
    }

    static func block(_ examples: [Example], template: Template, separator: String) -> String {
        examples.map { template.render(["input": $0.input, "label": $0.target, "target": $0.target]) }.joined(separator: separator)
    }

    /// The prompt for one input; `examples` replaces the prompt's own (the similar ones chosen for this input).
    public func render(input: String, examples: [Example]? = nil) -> RenderedPrompt {
        let block = examples.map { Self.block($0, template: exampleTemplate, separator: spec.exampleSeparator) } ?? examplesBlock
        let values = ["input": input, "labels": labelsText, "examples": block, "schema": schemaText]
        let systemText = system?.render(values)
        return RenderedPrompt(system: systemText?.isEmpty == true ? nil : systemText, user: user.render(values))
    }

    static func read(_ path: String, shown: String) throws(PromptError) -> String {
        let data: [UInt8]
        switch SmallFile.contents(of: path) {
        case .success(let read): data = read
        case .failure(let problem): throw .unreadable(source: shown, reason: problem.reason == "no such file" ? "no such template file" : problem.reason)
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw .unreadable(source: shown, reason: "not valid UTF-8")
        }
        // Editors add a final newline; a trailing newline in a prompt changes the model's answer.
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
