/// The part of JSON Schema an extraction task uses to describe its output: "type" (one or a list),
/// "properties", "required", "additionalProperties" (true or false), "items" and "enum". A schema that
/// uses anything else is refused when read, so nothing in it is silently ignored.
public indirect enum JSONSchema: Sendable, Equatable {
    case schema(types: [String]?, properties: [(String, JSONSchema)], required: [String], additionalProperties: Bool,
                items: JSONSchema?, allowed: [JSON]?)

    public static func == (lhs: JSONSchema, rhs: JSONSchema) -> Bool { lhs.json == rhs.json }

    static let knownTypes = ["object", "array", "string", "number", "integer", "boolean", "null"]
    static let knownKeys = ["type", "properties", "required", "additionalProperties", "items", "enum",
                            "description", "title", "$schema", "$id"]

    /// Reads a schema at JSON path `path`; every problem is a config issue naming where it is.
    public static func read(_ value: JSON, path: String) -> (schema: JSONSchema?, issues: [ConfigIssue]) {
        var issues: [ConfigIssue] = []
        let schema = read(value, path: path, issues: &issues)
        return (issues.isEmpty ? schema : nil, issues)
    }

    private static func read(_ value: JSON, path: String, issues: inout [ConfigIssue]) -> JSONSchema {
        guard let members = value.objectValue else {
            issues.append(ConfigIssue(path: path, expected: "a JSON Schema object", found: value.kindDescription))
            return .schema(types: nil, properties: [], required: [], additionalProperties: true, items: nil, allowed: nil)
        }
        for (key, _) in members where !knownKeys.contains(key) {
            issues.append(ConfigIssue(path: path + "." + key, expected: "one of the schema keywords evalkit checks ("
                                      + knownKeys.prefix(6).joined(separator: ", ") + ")", found: "\"\(key)\""))
        }
        var types: [String]? = nil
        if let type = value["type"] {
            let names = type.stringValue.map { [$0] } ?? type.arrayValue?.compactMap(\.stringValue)
            if let names, !names.isEmpty, names.count == (type.arrayValue?.count ?? 1), names.allSatisfy(knownTypes.contains) {
                types = names
            } else {
                issues.append(ConfigIssue(path: path + ".type", expected: "a type name (" + knownTypes.joined(separator: ", ") + ") or a list of them",
                                          found: type.kindDescription))
            }
        }
        var properties: [(String, JSONSchema)] = []
        if let given = value["properties"] {
            if let members = given.objectValue {
                properties = members.map { ($0.0, read($0.1, path: path + ".properties." + $0.0, issues: &issues)) }
            } else {
                issues.append(ConfigIssue(path: path + ".properties", expected: "an object of property schemas", found: given.kindDescription))
            }
        }
        var required: [String] = []
        if let given = value["required"] {
            if let names = given.arrayValue?.compactMap(\.stringValue), names.count == given.arrayValue?.count {
                required = names
                for name in names where !properties.contains(where: { $0.0 == name }) && !properties.isEmpty {
                    issues.append(ConfigIssue(path: path + ".required", expected: "names of the schema's properties", found: "\"\(name)\""))
                }
            } else {
                issues.append(ConfigIssue(path: path + ".required", expected: "an array of property names", found: given.kindDescription))
            }
        }
        var additional = true
        if let given = value["additionalProperties"] {
            if let flag = given.boolValue { additional = flag } else {
                issues.append(ConfigIssue(path: path + ".additionalProperties", expected: "true or false (schemas there are not supported)",
                                          found: given.kindDescription))
            }
        }
        let items = value["items"].map { read($0, path: path + ".items", issues: &issues) }
        var allowed: [JSON]? = nil
        if let given = value["enum"] {
            if let values = given.arrayValue, !values.isEmpty { allowed = values } else {
                issues.append(ConfigIssue(path: path + ".enum", expected: "a non-empty array of allowed values", found: given.kindDescription))
            }
        }
        return .schema(types: types, properties: properties, required: required, additionalProperties: additional, items: items, allowed: allowed)
    }

    /// Where `value` breaks the schema, each as "JSON path: what was expected"; empty when it conforms.
    public func violations(of value: JSON, path: String = "$") -> [String] {
        guard case let .schema(types, properties, required, additional, items, allowed) = self else { return [] }
        var found: [String] = []
        if let types, !types.contains(where: { Self.matches(value, type: $0) }) {
            return ["\(path): expected \(types.joined(separator: " or ")), found \(value.kindDescription)"]
        }
        if let allowed, !allowed.contains(value) {
            found.append("\(path): expected one of " + allowed.map { $0.encoded() }.joined(separator: ", ") + ", found \(value.encoded())")
        }
        if let members = value.objectValue {
            for name in required where !members.contains(where: { $0.0 == name }) { found.append("\(path).\(name): required, missing") }
            for (key, member) in members {
                if let schema = properties.first(where: { $0.0 == key })?.1 {
                    found += schema.violations(of: member, path: path + "." + key)
                } else if !additional {
                    found.append("\(path).\(key): not a property the schema allows")
                }
            }
        }
        if let elements = value.arrayValue, let items {
            for (i, element) in elements.enumerated() { found += items.violations(of: element, path: "\(path)[\(i)]") }
        }
        return found
    }

    static func matches(_ value: JSON, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number): return true
        case ("integer", .number(let n)): return n.isFinite && n.rounded() == n
        default: return false
        }
    }

    /// The schema as JSON (for prompts and run files).
    public var json: JSON {
        guard case let .schema(types, properties, required, additional, items, allowed) = self else { return .null }
        var members: [(String, JSON)] = []
        if let types { members.append(("type", types.count == 1 ? .string(types[0]) : .array(types.map(JSON.string)))) }
        if !properties.isEmpty { members.append(("properties", .object(properties.map { ($0.0, $0.1.json) }))) }
        if !required.isEmpty { members.append(("required", .array(required.map(JSON.string)))) }
        if !additional { members.append(("additionalProperties", .bool(false))) }
        if let items { members.append(("items", items.json)) }
        if let allowed { members.append(("enum", .array(allowed))) }
        return .object(members)
    }
}
