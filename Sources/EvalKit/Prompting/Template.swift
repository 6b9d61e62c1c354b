import Foundation

/// A prompt template with `{{name}}` placeholders, checked against the names it may use.
public struct Template: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    let pieces: [Piece]
    /// The placeholder names the template uses, in order of first use.
    public let placeholders: [String]

    /// Parses `text`; every placeholder must be one of `allowed`. `source` names the file in errors.
    public init(_ text: String, allowed: [String], source: String) throws(PromptError) {
        var pieces: [Piece] = []
        var used: [String] = []
        var rest = Substring(text)
        var line = 1
        while let open = rest.range(of: "{{") {
            let literal = rest[..<open.lowerBound]
            line += literal.filter { $0 == "\n" }.count
            if !literal.isEmpty { pieces.append(.literal(String(literal))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw .unclosedPlaceholder(source: source, line: line)
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard allowed.contains(name) else {
                throw .unknownPlaceholder(source: source, line: line, name: name, allowed: allowed)
            }
            pieces.append(.placeholder(name))
            if !used.contains(name) { used.append(name) }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.literal(String(rest))) }
        self.pieces = pieces
        self.placeholders = used
    }

    /// Fills the placeholders from `values`; a missing value renders as empty text.
    public func render(_ values: [String: String]) -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case .literal(let s): out += s
            case .placeholder(let name): out += values[name] ?? ""
            }
        }
        return out
    }
}

/// Why a prompt could not be prepared.
public enum PromptError: Error, CustomStringConvertible, Sendable, Equatable {
    case unreadable(source: String, reason: String)
    case unknownPlaceholder(source: String, line: Int, name: String, allowed: [String])
    case unclosedPlaceholder(source: String, line: Int)
    case missingInput(source: String)
    /// A fixed few-shot example id that the training split does not have.
    case unknownExample(prompt: String, id: String)

    public var description: String {
        switch self {
        case let .unreadable(source, reason): return "\(source): \(reason)"
        case let .unknownPlaceholder(source, line, name, allowed):
            var text = "\(source):\(line): unknown placeholder {{\(name)}}; expected one of " + allowed.map { "{{\($0)}}" }.joined(separator: ", ")
            if let guess = Text.suggestion(for: name, among: allowed) { text += " (did you mean {{\(guess)}}?)" }
            return text
        case let .unclosedPlaceholder(source, line): return "\(source):\(line): '{{' without a closing '}}'"
        case let .missingInput(source): return "\(source): the user template never uses {{input}}, so every request would be the same"
        case let .unknownExample(prompt, id): return "prompt \"\(prompt)\": few-shot example id \"\(id)\" is not in the training split"
        }
    }
}
