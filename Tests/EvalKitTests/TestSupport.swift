import EvalKit
import Foundation
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

/// A test server from Fixtures/ (the fake OpenAI/Anthropic server by default), started on a free port for one test.
final class FakeLLMServer {
    let process = Process()
    let port: Int
    let logPath: String

    /// Starts `script` from Fixtures/ with the log path and `arguments`, and `environment` added to this process's.
    init(script: String = "fake_llm_server.py", arguments: [String] = [], environment: [String: String] = [:]) throws {
        logPath = try Fixtures.temporaryDirectory() + "/requests.jsonl"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Fixtures.fixturesDirectory + "/" + script, logPath] + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The server prints its port on the first line once it is listening.
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw FixtureError("fake server did not print a port")
        }
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// The requests the server received, as logged JSON objects.
    func requests() throws -> [JSON] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    deinit { stop() }

    /// Stops the server by its own PID, never by name. SIGKILL as a fallback: a child spawned from a
    /// dispatch thread can inherit a signal mask that blocks SIGTERM.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
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
