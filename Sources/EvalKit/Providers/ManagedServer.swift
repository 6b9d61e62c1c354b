import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// Every child process evalkit starts (worker processes, managed servers), by PID, so that an
/// abort can stop them all: no process may outlive the run.
public final class ChildProcesses: Sendable {
    public static let shared = ChildProcesses()
    private let pids = Mutex<Set<Int32>>([])

    func add(_ pid: Int32) { pids.withLock { _ = $0.insert(pid) } }
    func remove(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }

    /// Kills every child still registered (SIGKILL: used when the run is aborted).
    public func killAll() {
        for pid in pids.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
}

/// Stops a process: SIGTERM, then SIGKILL after `grace` seconds, then waits for it. SIGKILL is
/// needed because a child spawned from a dispatch thread can inherit a mask that blocks SIGTERM.
func stopProcess(_ process: Process, grace: Double) async {
    if process.isRunning {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(grace)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    ChildProcesses.shared.remove(process.processIdentifier)
}

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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = settings.command
        if !directory.isEmpty { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let log = LineChannel(output.fileHandleForReading, keepLast: 30)
        do { try process.run() } catch {
            throw .notStarted(reason: "cannot start the server of model \(modelID) (\(settings.command.joined(separator: " "))): \(error.localizedDescription)")
        }
        ChildProcesses.shared.add(process.processIdentifier)
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
