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
    public static let templatePlaceholders = ["input", "labels", "examples"]
    public static let examplePlaceholders = ["input", "label"]

    public let spec: PromptSpec
    let system: Template?
    let user: Template
    let examplesBlock: String
    let exampleTemplate: Template
    let labelsText: String

    /// Reads and checks the template files of `spec`; picks fixed examples from `train`.
    public init(spec: PromptSpec, experiment: Experiment, train: [Example]) throws(PromptError) {
        self.spec = spec
        system = try spec.systemPath.map { path throws(PromptError) in
            try Template(Self.read(experiment.resolve(path), shown: path), allowed: Self.templatePlaceholders, source: path)
        }
        user = try Template(Self.read(experiment.resolve(spec.userPath), shown: spec.userPath), allowed: Self.templatePlaceholders, source: spec.userPath)
        if !user.placeholders.contains("input") { throw .missingInput(source: spec.userPath) }
        exampleTemplate = try Template(spec.exampleTemplate, allowed: Self.examplePlaceholders,
                                           source: "example_template of prompt \"\(spec.id)\"")
        labelsText = experiment.task.labels.joined(separator: ", ")
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
        examples.map { template.render(["input": $0.input, "label": $0.target]) }.joined(separator: separator)
    }

    /// The prompt for one input; `examples` replaces the prompt's own (the similar ones chosen for this input).
    public func render(input: String, examples: [Example]? = nil) -> RenderedPrompt {
        let block = examples.map { Self.block($0, template: exampleTemplate, separator: spec.exampleSeparator) } ?? examplesBlock
        let values = ["input": input, "labels": labelsText, "examples": block]
        let systemText = system?.render(values)
        return RenderedPrompt(system: systemText?.isEmpty == true ? nil : systemText, user: user.render(values))
    }

    static func read(_ path: String, shown: String) throws(PromptError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(source: shown, reason: FileManager.default.fileExists(atPath: path) ? "not readable" : "no such template file")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw .unreadable(source: shown, reason: "not valid UTF-8")
        }
        // Editors add a final newline; a trailing newline in a prompt changes the model's answer.
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
