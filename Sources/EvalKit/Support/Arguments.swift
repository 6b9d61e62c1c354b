/// A small command-line parser: positionals, `--name value` / `--name=value` options and flags.
public struct ParsedArguments: Sendable, Equatable {
    public var positionals: [String] = []
    public var options: [String: String] = [:]
    public var flags: Set<String> = []

    /// The value of `--name` as a positive integer, or an error naming the option.
    public func positiveInt(_ name: String) throws(UsageError) -> Int? {
        guard let raw = options[name] else { return nil }
        guard let value = Int(raw), value > 0 else { throw UsageError("--\(name) expects a positive whole number, got \"\(raw)\"") }
        return value
    }
}

/// A mistake in how evalkit was called; the CLI prints it with a hint and exits 2.
public struct UsageError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which options a command takes.
public struct ArgumentSpec: Sendable {
    public var valueOptions: [String]
    public var flags: [String]
    public var maxPositionals: Int

    public init(valueOptions: [String] = [], flags: [String] = [], maxPositionals: Int = 1) {
        self.valueOptions = valueOptions; self.flags = flags; self.maxPositionals = maxPositionals
    }

    /// Parses `arguments` (without the program and command names).
    public func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositionals || !argument.hasPrefix("--") || argument == "-" {
                if argument.hasPrefix("-") && argument.count > 1 && !onlyPositionals && argument != "-" {
                    throw UsageError("unknown option \(argument)")
                }
                parsed.positionals.append(argument)
                continue
            }
            if argument == "--" { onlyPositionals = true; continue }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if valueOptions.contains(name) {
                if let inlineValue {
                    parsed.options[name] = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError("--\(name) needs a value") }
                    parsed.options[name] = arguments[index]
                    index += 1
                }
            } else if flags.contains(name), inlineValue == nil {
                parsed.flags.insert(name)
            } else {
                var message = "unknown option --\(name)"
                if let guess = Text.suggestion(for: name, among: valueOptions + flags) { message += " (did you mean --\(guess)?)" }
                throw UsageError(message)
            }
        }
        if parsed.positionals.count > maxPositionals {
            throw UsageError("unexpected argument \"\(parsed.positionals[maxPositionals])\"")
        }
        return parsed
    }
}
