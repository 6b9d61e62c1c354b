import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// A model server evalkit starts itself (e.g. llama.cpp's server), waits for, and stops.
public actor ManagedServer {
    public let settings: ServerSettings
    let modelID: String
    let directory: String
    private var process: Process?
    private var log: LineChannel?

    public init(settings: ServerSettings, modelID: String, directory: String) {
        self.settings = settings
        self.modelID = modelID
        self.directory = directory
    }

    /// The server's process id while it runs.
    public var pid: Int32? { process?.processIdentifier }

    /// Starts the server and waits until `ready_url` answers 2xx; on failure stops it and reports its last log lines.
    public func start() async throws(ProviderError) {
        if process?.isRunning == true { return }
        let output = Pipe()
        let log = LineChannel(output.fileHandleForReading, keepLast: 30)
        let process: Process
        do { process = try Subprocess.launch(settings.command, in: directory, input: FileHandle.nullDevice, output: output, error: output) } catch {
            throw .notStarted(reason: "cannot start the server of model \(modelID): \(error)")
        }
        self.process = process
        self.log = log
        let client = HTTPClient(timeoutSeconds: 2, maxConnections: 1)
        let deadline = ContinuousClock.now + .seconds(settings.startupTimeoutSeconds)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                await stop()
                await log.drained(timeout: 2)
                throw .notStarted(reason: "the server of model \(modelID) exited with status \(process.terminationStatus) before it was ready" + tail(log))
            }
            if await client.isReady(settings.readyURL) { return }
            try? await Task.sleep(for: .milliseconds(200))
        }
        await stop()
        await log.drained(timeout: 2)
        throw .notStarted(reason: "the server of model \(modelID) was not ready at \(settings.readyURL) within \(JSON.formatNumber(settings.startupTimeoutSeconds)) s" + tail(log))
    }

    nonisolated func tail(_ log: LineChannel) -> String {
        let lines = log.recent().suffix(8)
        return lines.isEmpty ? " (it printed nothing)" : "; its last log lines:\n    " + lines.joined(separator: "\n    ")
    }

    /// Stops the server (SIGTERM, then SIGKILL); safe to call more than once.
    public func stop() async {
        guard let process else { return }
        await stopProcess(process, grace: 3)
        self.process = nil
    }
}

/// A provider whose server evalkit runs: the server starts before the first request and stops after the last.
public struct ServedProvider: ModelProvider {
    public let inner: any ModelProvider
    public let server: ManagedServer

    public init(inner: any ModelProvider, server: ManagedServer) { self.inner = inner; self.server = server }

    public func start() async throws(ProviderError) {
        try await server.start()
        try await inner.start()
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse { try await inner.complete(request) }

    public func stop() async {
        await inner.stop()
        await server.stop()
    }

    public func cacheIdentity(for request: ModelRequest) -> String? { inner.cacheIdentity(for: request) }
}
