/// The providers, scorers and cost models a config may name, each with the function that reads its
/// options. The standard one is `Catalog.standard`; `adding` makes one with another of any of them.
public struct Catalog: Sendable {
    /// Reads a model's "options" object found at JSON path `path`: the options, or nil when they cannot be
    /// used, and every problem found.
    public typealias ProviderReader = @Sendable (_ options: JSON, _ path: String) -> (options: (any ProviderOptions)?, issues: [ConfigIssue])
    /// Reads "task.scorer" found at JSON path `path` (its object without "type"; empty when the config
    /// gave only a name) for `task` (read so far: its type, labels, parsing and schema).
    public typealias ScorerReader = @Sendable (_ options: JSON, _ path: String, _ task: TaskSpec) -> (options: (any ScorerOptions)?, issues: [ConfigIssue])
    /// Reads a model's "pricing" object found at JSON path `path` (without "model", "source" and "date").
    public typealias CostModelReader = @Sendable (_ options: JSON, _ path: String) -> (options: (any CostModelOptions)?, issues: [ConfigIssue])

    /// The provider names, in the order they were added.
    public private(set) var providerNames: [String] = []
    /// The scorer names, in the order they were added.
    public private(set) var scorerNames: [String] = []
    /// The cost model names, in the order they were added.
    public private(set) var costModelNames: [String] = []
    private var providerReaders: [String: ProviderReader] = [:]
    private var scorerReaders: [String: ScorerReader] = [:]
    private var costModelReaders: [String: CostModelReader] = [:]

    public init() {}

    /// This catalog with provider `name` read by `reader` (replacing a provider of that name).
    public func addingProvider(_ name: String, reader: @escaping ProviderReader) -> Catalog {
        var copy = self
        if copy.providerReaders[name] == nil { copy.providerNames.append(name) }
        copy.providerReaders[name] = reader
        return copy
    }

    /// This catalog with scorer `name` read by `reader` (replacing a scorer of that name).
    public func addingScorer(_ name: String, reader: @escaping ScorerReader) -> Catalog {
        var copy = self
        if copy.scorerReaders[name] == nil { copy.scorerNames.append(name) }
        copy.scorerReaders[name] = reader
        return copy
    }

    /// This catalog with cost model `name` read by `reader` (replacing a cost model of that name).
    public func addingCostModel(_ name: String, reader: @escaping CostModelReader) -> Catalog {
        var copy = self
        if copy.costModelReaders[name] == nil { copy.costModelNames.append(name) }
        copy.costModelReaders[name] = reader
        return copy
    }

    func providerReader(_ name: String) -> ProviderReader? { providerReaders[name] }
    func costModelReader(_ name: String) -> CostModelReader? { costModelReaders[name] }
    func scorerReader(_ name: String) -> ScorerReader? { scorerReaders[name] }
}
