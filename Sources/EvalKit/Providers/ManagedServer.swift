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
                              + "(`{port}` in server.command, ready_url and base_url lets evalkit choose a free one; models meant to use one "
                              + "server name the same server block with \"shared\": true)")
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

/// One server several models use (`"shared": true` on the same server block): llama.cpp's server holding
/// one base model with several LoRA adapters, each model choosing its adapter per request. It starts when
/// the first of its models needs it and stops when the last of them is done, never in between.
public actor SharedServer {
    let servers: [ManagedServer]
    private var holders: Set<String>
    private var starting: Task<ProviderError?, Never>?

    /// `holders`: every model that will use it, so that models run one after another do not stop it in between.
    public init(servers: [ManagedServer], holders: Set<String>) { self.servers = servers; self.holders = holders }

    /// Starts the servers unless they run (a second model waits for the first start rather than racing it).
    public func acquire(_ modelID: String) async throws(ProviderError) {
        holders.insert(modelID)
        if starting == nil {
            let servers = self.servers
            starting = Task {
                for server in servers {
                    do throws(ProviderError) { try await server.start() } catch {
                        for started in servers { await started.stop() }
                        return error
                    }
                }
                return nil
            }
        }
        if let failure = await starting?.value {
            starting = nil
            throw failure
        }
    }

    /// This model is done with the servers; the last one's release stops them.
    public func release(_ modelID: String) async {
        holders.remove(modelID)
        guard holders.isEmpty, let task = starting else { return }
        _ = await task.value
        guard holders.isEmpty else { return }
        starting = nil
        for server in servers { await server.stop() }
    }
}

/// A model's provider on a shared server.
public struct SharedServedProvider: ModelProvider {
    public let inner: any ModelProvider
    public let shared: SharedServer
    public let modelID: String

    public init(inner: any ModelProvider, shared: SharedServer, modelID: String) { self.inner = inner; self.shared = shared; self.modelID = modelID }

    public func start() async throws(ProviderError) {
        try await shared.acquire(modelID)
        try await inner.start()
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse { try await inner.complete(request) }

    public func stop() async {
        await inner.stop()
        await shared.release(modelID)
    }

    public func cacheIdentity(for request: ModelRequest) -> String? { inner.cacheIdentity(for: request) }
}

/// The shared servers of one run, by server block: made when the first of their models is, on ports chosen once.
public final class SharedServers: Sendable {
    private let made = Mutex<[(settings: ServerSettings, server: SharedServer, ports: [Int])]>([])

    public init() {}

    /// The shared server for `settings` (started by `holders`' models), and the ports it was given when it chooses them.
    public func server(_ settings: ServerSettings, directory: String, holders: Set<String>) -> (server: SharedServer, ports: [Int]) {
        made.withLock { made in
            if let found = made.first(where: { $0.settings == settings }) { return (found.server, found.ports) }
            let ports = settings.choosesPort ? FreePorts.take(settings.replicas) : []
            let each = settings.choosesPort ? ports.map(settings.on(port:)) : [settings]
            let name = holders.sorted().joined(separator: ", ")
            let server = SharedServer(servers: each.map { ManagedServer(settings: $0, modelID: name, directory: directory) }, holders: holders)
            made.append((settings, server, ports))
            return (server, ports)
        }
    }
}
