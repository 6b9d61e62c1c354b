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
        // Something answering before the server is even started is another process's server (another run
        // on this machine, a server left over): its answers and its latency would pass for this model's.
        if await HTTPClient(timeoutSeconds: 2, maxConnections: 1).isReady(settings.readyURL) {
            throw .notStarted(reason: "before the server of model \(modelID) was started, something already answered at \(settings.readyURL) "
                              + "(another run's server, or one left running?); stop it, or give this server another port "
                              + "(`{port}` in server.command, ready_url and base_url lets evalkit choose a free one)")
        }
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
            if await client.isReady(settings.readyURL) {
                // Ready, and still this process: a server that lost its port to another one exits instead.
                try? await Task.sleep(for: .milliseconds(100))
                guard process.isRunning else { continue }
                return
            }
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

/// A provider whose servers evalkit runs (one, or one per replica): they start before the first request
/// (side by side) and stop after the last.
public struct ServedProvider: ModelProvider {
    public let inner: any ModelProvider
    public let servers: [ManagedServer]

    public init(inner: any ModelProvider, servers: [ManagedServer]) { self.inner = inner; self.servers = servers }

    public init(inner: any ModelProvider, server: ManagedServer) { self.init(inner: inner, servers: [server]) }

    /// Starts every server; if one cannot start, stops those that did and reports the first failure.
    public func start() async throws(ProviderError) {
        let failures = await withTaskGroup(of: ProviderError?.self) { group in
            for server in servers {
                group.addTask {
                    do throws(ProviderError) { try await server.start(); return nil } catch { return error }
                }
            }
            var failures: [ProviderError] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        if let first = failures.first {
            for server in servers { await server.stop() }
            throw first
        }
        try await inner.start()
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse { try await inner.complete(request) }

    public func stop() async {
        await inner.stop()
        for server in servers { await server.stop() }
    }

    public func cacheIdentity(for request: ModelRequest) -> String? { inner.cacheIdentity(for: request) }
}

/// Ports nothing listens on, for the servers evalkit starts: each bound on 127.0.0.1 and released. Another
/// program may take one in between, as with any free-port choice; the server then fails to start and says so.
enum FreePorts {
    static func take(_ count: Int) -> [Int] {
        var sockets: [Int32] = []
        var ports: [Int] = []
        // Held open until all are chosen, so the kernel does not hand out one port twice.
        defer { for fd in sockets { close(fd) } }
        for _ in 0..<max(1, count) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            guard bound == 0 else { continue }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
