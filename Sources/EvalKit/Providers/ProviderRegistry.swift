import Foundation

/// A provider evalkit can run: its options type reads and validates a model's "options" object and
/// makes the `ModelProvider` that sends that model its requests. Adding a provider is one type
/// conforming to this, added to a catalog (`Catalog.standard.adding(MyProvider.self)`).
public protocol ProviderKind: ProviderOptions {
    /// The name a config gives in a model's "provider".
    static var name: String { get }
    /// Reads and validates a model's "options" object found at JSON path `path`: the options, or nil when
    /// they cannot be used, and every problem with its path.
    static func read(options: JSON, path: String) -> (options: Self?, issues: [ConfigIssue])
    /// The provider for one model of a run (for an in-process model: trained here).
    func makeProvider(_ context: ProviderContext) -> PreparedProvider
    /// The same options reaching the servers evalkit started at `urls` (one per replica, `{port}` filled
    /// in); nil for a provider that cannot be pointed at them.
    func served(at urls: [String]) -> Self?
}

extension ProviderKind {
    public func served(at urls: [String]) -> Self? { nil }
}

extension ProviderKind {
    public var name: String { Self.name }
}

/// A provider that prompts a language model with sampling settings: what such providers share.
public protocol PromptedProviderKind: ProviderKind {
    var generation: GenerationSettings { get }
}

extension PromptedProviderKind {
    public var usesPrompts: Bool { true }
    public var answersOneAtATime: Bool { false }
    public var acceptsServer: Bool { true }
    public var maxOutputTokens: Int { generation.maxTokens }
    public var fileArguments: [String] { [] }
    public var answerReading: String? { nil }
}

/// What a provider is made for: one model of one run.
public struct ProviderContext: Sendable {
    public var modelID: String
    /// Requests in flight at once for this model.
    public var concurrency: Int
    /// The experiment file's folder: workers and servers start there.
    public var baseDirectory: String
    public var labels: [String]
    /// The splits an in-process model trains on.
    public var train: [Example]
    public var validation: [Example]
}

/// A model's provider, and its training when it was trained for this run.
public struct PreparedProvider: Sendable {
    public var provider: any ModelProvider
    public var training: ModelTraining?
    public init(provider: any ModelProvider, training: ModelTraining? = nil) { self.provider = provider; self.training = training }
}

extension Catalog {
    /// This catalog with `kind` added, read by its own `read`.
    public func adding(_ kind: any ProviderKind.Type) -> Catalog {
        addingProvider(kind.name) { options, path in
            let (read, issues) = kind.read(options: options, path: path)
            return (read, issues)
        }
    }
}

extension ModelSpec {
    /// How this model runs; nil only for options no `ProviderKind` made (a catalog built by hand).
    public var runnable: (any ProviderKind)? { provider as? any ProviderKind }
}

/// Reads the sampling and length settings the LLM providers share, from their options object.
func readGeneration(_ o: ObjectReader, issues: inout IssueCollector) -> GenerationSettings {
    var g = GenerationSettings()
    if let t = o.number("temperature", range: 0...2, rangeText: "a temperature between 0 and 2", issues: &issues) { g.temperature = t }
    if let n = o.integer("max_tokens", minimum: 1, issues: &issues) { g.maxTokens = n }
    if let stop = o.stringArray("stop", issues: &issues) { g.stop = stop }
    g.seed = o.integer("seed", issues: &issues)
    return g
}

/// The keys every LLM provider's options take besides its own.
let generationKeys = ["temperature", "max_tokens", "stop", "seed", "timeout_seconds"]

/// A provider's `timeout_seconds` (default 60).
func readTimeout(_ o: ObjectReader, issues: inout IssueCollector) -> Double {
    o.number("timeout_seconds", range: 0.001...86_400, rangeText: "seconds > 0", issues: &issues) ?? 60
}


/// True for a URL on this machine (loopback): such a model shares the machine's CPU with the run.
func isLoopbackURL(_ url: String) -> Bool {
    guard let host = URL(string: url)?.host?.lowercased() else { return false }
    return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
}
