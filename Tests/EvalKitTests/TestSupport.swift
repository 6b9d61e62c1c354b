import EvalKit
import Foundation
import Synchronization
import Testing

/// Paths and helpers shared by the tests.
enum Fixtures {
    /// The repository root, found from this file's path.
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var fixturesDirectory: String { repositoryRoot + "/Tests/EvalKitTests/Fixtures" }

    /// A new empty folder under the system temp folder.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "evalkit-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `text` to `directory/name`, creating folders, and returns the path.
    @discardableResult
    static func write(_ text: String, to name: String, in directory: String) throws -> String {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Writes an experiment config built from JSON text and parses it.
    static func experiment(_ json: String, in directory: String) throws -> Experiment {
        let path = try write(json, to: "evalkit.json", in: directory)
        return try ExperimentLoader.load(path: path)
    }

    /// A one-model experiment in `directory`: two training examples, one test example, a `{{input}}`
    /// prompt, and `model` as the model's JSON object. Returns the config's path.
    @discardableResult
    static func oneModelExperiment(in directory: String, model: String, train: String? = nil, prompt: String = "{{input}}") throws -> String {
        try write(train ?? jsonl([("1", "a", "x"), ("2", "b", "y")]), to: "train.jsonl", in: directory)
        try write(jsonl([("3", "c", "x")]), to: "test.jsonl", in: directory)
        try write(prompt, to: "p.txt", in: directory)
        return try write("""
        {"name": "one-model", "task": {"labels": ["x", "y"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "prompts": [{"id": "p", "user": "p.txt"}], "models": [\(model)]}
        """, to: "evalkit.json", in: directory)
    }

    /// `rows` as test.jsonl, the same texts as train.jsonl (ids prefixed "tr"), and p.txt, a prompt of the
    /// input alone: what an experiment about scoring, cost or latency needs of data.
    static func writeSplitsAndPrompt(_ rows: [(String, String, String)], in dir: String) throws {
        try write(jsonl(rows), to: "test.jsonl", in: dir)
        try write(jsonl(rows.map { ("tr" + $0.0, $0.1, $0.2) }), to: "train.jsonl", in: dir)
        try write("{{input}}", to: "p.txt", in: dir)
    }

    /// A small labelled dataset in JSONL, one object per line.
    static func jsonl(_ rows: [(String, String, String)]) -> String {
        rows.map { JSON.object([("id", .string($0.0)), ("text", .string($0.1)), ("label", .string($0.2))]).encoded() }
            .joined(separator: "\n") + "\n"
    }
}

/// A child process of a test: its output goes to files and its end is awaited, never waited for on a
/// thread. Swift runs tests on its cooperative threads, as many as there are cores (two on CI): a test
/// that blocks one for a minute-long CLI run stalls every other test's timed network exchange, and two
/// such tests once made a 30-s start probe elsewhere time out.
final class TestProcess: Sendable {
    let pid: Int32
    let outputPath: String
    let errorPath: String
    private let exit: ExitSignal

    /// Starts `executable` with `arguments` in `directory`, `environment` added to this process's;
    /// `discardOutput` sends both streams to /dev/null.
    init(_ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
         discardOutput: Bool = false) throws {
        let folder = try Fixtures.temporaryDirectory()
        outputPath = folder + "/stdout"
        errorPath = folder + "/stderr"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        process.standardInput = FileHandle.nullDevice
        if discardOutput {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        } else {
            for path in [outputPath, errorPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            guard let output = FileHandle(forWritingAtPath: outputPath), let errors = FileHandle(forWritingAtPath: errorPath) else {
                throw FixtureError("cannot create \(outputPath) and \(errorPath)")
            }
            process.standardOutput = output
            process.standardError = errors
        }
        let exit = ExitSignal()
        process.terminationHandler = { exit.finish($0.terminationStatus) }
        self.exit = exit
        try process.run()
        pid = process.processIdentifier
    }

    /// The built evalkit binary run with `arguments` in `directory`.
    static func evalkit(_ arguments: [String], in directory: String, discardOutput: Bool = false) throws -> TestProcess {
        try TestProcess(CLITests.binary, arguments, in: directory, discardOutput: discardOutput)
    }

    /// The exit status, once the process has ended.
    func finished() async -> Int32 { await exit.value() }

    var hasFinished: Bool { exit.isFinished }
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { if !exit.isFinished { kill(pid, number) } }
}

/// A process's exit status, delivered once to everyone awaiting it.
private final class ExitSignal: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }
    private let state = Mutex(State())

    var isFinished: Bool { state.withLock { $0.status != nil } }

    func finish(_ status: Int32) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int32, Never>] in
            state.status = status
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    func value() async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// Waits, polling without holding a thread, until `condition` holds or `seconds` have passed; true when it held.
@discardableResult
func eventually(within seconds: Double = 60, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// A test server from Fixtures/ (the fake OpenAI/Anthropic server by default), started on a free port for one test.
final class FakeLLMServer: Sendable {
    let port: Int
    let logPath: String
    private let process: TestProcess

    /// Starts `script` from Fixtures/ with the log path and `arguments`, and `environment` added to this
    /// process's, and waits for it to listen.
    init(script: String = "fake_llm_server.py", arguments: [String] = [], environment: [String: String] = [:]) async throws {
        logPath = try Fixtures.temporaryDirectory() + "/requests.jsonl"
        process = try TestProcess("/usr/bin/env", ["python3", Fixtures.fixturesDirectory + "/" + script, logPath] + arguments,
                                  environment: environment)
        // The server prints its port on the first line once it is listening.
        let process = process
        await eventually { process.output.contains("\n") || process.hasFinished }
        guard let line = process.output.split(separator: "\n").first, let port = Int(line) else {
            process.signal(SIGKILL)
            throw FixtureError("\(script) did not print a port: \(process.errorOutput.suffix(2000))")
        }
        self.port = port
    }

    var pid: Int32 { process.pid }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// The requests the server received, as logged JSON objects.
    func requests() throws -> [JSON] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    deinit { process.signal(SIGKILL) }

    /// Stops the server by its own PID, never by name, and waits for its end (its port may be reused
    /// next). SIGKILL: nothing of the server's is needed after the test, and a child spawned from a
    /// dispatch thread can inherit a mask that blocks SIGTERM.
    func stop() async {
        process.signal(SIGKILL)
        _ = await process.finished()
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A TCP socket bound to a free port on 127.0.0.1, listening (but never accepting) when asked. The caller closes it.
func boundSocket(listening: Bool) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    if listening { listen(fd, 8) }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A port on 127.0.0.1 where nothing listens: bound, then released.
func closedPort() -> Int {
    let bound = boundSocket(listening: false)
    close(bound.fd)
    return bound.port
}
