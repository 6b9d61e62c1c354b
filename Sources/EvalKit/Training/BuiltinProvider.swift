/// Serves a trained `TextClassifier` as a model: it reads the raw input, not a prompt.
public struct BuiltinProvider: ModelProvider {
    public let classifier: TextClassifier

    public init(classifier: TextClassifier) { self.classifier = classifier }

    public func start() async throws(ProviderError) {}

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        ModelResponse(text: classifier.predict(request.input).label)
    }

    public func stop() async {}
}
