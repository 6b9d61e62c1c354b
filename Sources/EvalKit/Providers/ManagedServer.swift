import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// Every child process evalkit starts (worker processes, managed servers), by PID, so that an
/// abort can stop them all: no process may outlive the run. The PIDs are also kept in a file that a
/// watchdog reads: if evalkit dies without cleaning up (a crash, SIGKILL), the watchdog kills them.
public final class ChildProcesses: Sendable {
    public static let shared = ChildProcesses()
    private struct State {
        var pids: Set<Int32> = []
        var watchdog: Process?
    }
    private let state = Mutex(State())
    /// Where the watchdog finds the PIDs to kill, one per line.
    let registry = NSTemporaryDirectory() + "evalkit-children-\(getpid())"

    func add(_ pid: Int32) {
        state.withLock { s in
            s.pids.insert(pid)
            write(s.pids)
            if s.watchdog == nil { s.watchdog = startWatchdog() }
        }
    }

    func remove(_ pid: Int32) { state.withLock { s in if s.pids.remove(pid) != nil { write(s.pids) } } }

    private func write(_ pids: Set<Int32>) {
        SmallFile.store(Array(pids.sorted().map { "\($0)\n" }.joined().utf8), at: registry)
    }

    /// A shell loop that outlives evalkit by at most a second: once evalkit's PID is gone, it kills the
    /// PIDs in the registry (children evalkit did not get to stop) and removes the file. No shell
    /// interpolates a value: evalkit's PID and the file are its arguments.
    private func startWatchdog() -> Process? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; "
                             + "if [ -f \"$2\" ]; then while read -r child; do kill -9 \"$child\" 2>/dev/null; done < \"$2\"; rm -f \"$2\"; fi",
                             "evalkit-watchdog", String(getpid()), registry]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        return process
    }

    /// Kills every child still registered (SIGKILL: used when the run is aborted).
    public func killAll() {
        for pid in state.withLock({ $0.pids }) { kill(pid, SIGKILL) }
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
