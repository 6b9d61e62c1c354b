/// A model's provider settings as its config's "options" object gave them: everything the pipeline
/// needs to know of a provider without knowing which one it is. Each provider defines its own, reads
/// and validates it, and says how to run it (`ProviderKind`, in Providers/).
public protocol ProviderOptions: Sendable {
    /// The provider's name in the config ("openai", …).
    var name: String { get }
    /// False for a model that reads the raw input (the builtin classifier): it takes no prompt, so it
    /// has no prompt variants, no response cache and no token counts.
    var usesPrompts: Bool { get }
    /// True for a model that answers one request at a time (a worker process, an in-process model).
    var answersOneAtATime: Bool { get }
    /// True for a model evalkit can start a `server` for.
    var acceptsServer: Bool { get }
    /// Output tokens a request may use (0 for a model that generates none).
    var maxOutputTokens: Int { get }
    /// The server the model is reached at; nil for a process on this machine.
    var serverURL: String? { get }
    /// How many servers answer for the model (replicas); its concurrency applies to each.
    var replicaCount: Int { get }
    /// True for a provider with a batch service evalkit can send a whole test set to (`"mode": "batch"`).
    var runsBatchJobs: Bool { get }
    /// Arguments that may name the files the model is made of (a worker's script): fingerprinted by default.
    var fileArguments: [String] { get }
    /// How its answers are read when not by parsing generated text ("classifier", "label likelihood").
    var answerReading: String? { get }
    /// run.json's description of it: never a secret, only the name of a key's variable.
    var manifestMembers: [(String, JSON)] { get }
    /// One line for the report.
    var reportLine: String { get }
    /// True for a model whose answers are labels of the task's set (a trained classifier, label
    /// likelihood): it serves classification tasks only.
    var answersWithLabels: Bool { get }
}

extension ProviderOptions {
    public var answersWithLabels: Bool { false }
    public var replicaCount: Int { 1 }
    public var runsBatchJobs: Bool { false }
}
