import Foundation
import Synchronization

/// A user's own model behind a long-lived worker process speaking JSON lines.
///
/// Protocol (one JSON object per line, UTF-8):
/// - evalkit → worker (stdin): `{"id", "model", "system", "user", "prompt", "input", "max_tokens", "temperature", "stop"}`
///   where `prompt` is system and user joined for completion-style models.
/// - worker → evalkit (stdout): `{"id", "output", "usage": {"input_tokens", "output_tokens"}}` or `{"id", "error": "..."}`.
/// - With `"scoring": "likelihood"` the request also carries `"labels"` and `"top_logprobs": 20` (and
///   `max_tokens` 1), and the worker answers `{"id", "top_logprobs": {token: log-probability, …}}`: the
///   prompt's next-token distribution, read into a label exactly as an OpenAI-compatible server's is.
/// The worker answers requests in the order it gets them; stderr is kept for error messages.
public actor CommandProvider: ModelProvider {
    public let settings: CommandSettings
    let modelID: String
    let workingDirectory: String
    private var worker: WorkerProcess?

    public init(settings: CommandSettings, modelID: String, workingDirectory: String) {
        self.settings = settings
        self.modelID = modelID
        self.workingDirectory = workingDirectory
    }

    public func start() async throws(ProviderError) {
        if worker == nil { worker = try WorkerProcess.launch(argv: settings.argv, directory: workingDirectory) }
    }

    nonisolated func requestLine(_ request: ModelRequest) -> [(String, JSON)] {
        let g = settings.generation
        var body: [(String, JSON)] = [
            ("id", .string(request.id)), ("model", .string(modelID)),
            ("system", request.prompt.system.map(JSON.string) ?? .null), ("user", .string(request.prompt.user)),
            ("prompt", .string(request.prompt.completionText)), ("input", .string(request.input)),
        ]
        if settings.scoring == .likelihood {
            body += [("scoring", .string("likelihood")), ("labels", .array(request.labels.map(JSON.string))),
                     ("top_logprobs", .number(Double(LabelLikelihood.topTokens))), ("max_tokens", .number(1))]
            return body
        }
        body.append(("max_tokens", .number(Double(g.maxTokens))))
        if let t = g.temperature { body.append(("temperature", .number(t))) }
        body.append(("stop", .array(g.stop.map(JSON.string))))
        return body
    }

    public nonisolated func cacheIdentity(for request: ModelRequest) -> String? {
        // The id names the candidate and example; the answer depends on the rest.
        "command|" + settings.argv.joined(separator: "\u{0}") + "|" + JSON.object(requestLine(request).filter { $0.0 != "id" }).encoded()
    }

    /// A worker answers one request at a time, in order: a second caller waits its turn, so answers can
    /// never be handed to the wrong request (the actor alone would interleave them at each await).
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func takeTurn() async {
        if !busy { busy = true; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func endTurn() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelResponse {
        await takeTurn()
        defer { endTurn() }
        // A worker that died or timed out is started again for the next request.
        if worker?.isRunning != true {
            await worker?.shutdown(grace: 0)
            worker = try WorkerProcess.launch(argv: settings.argv, directory: workingDirectory)
        }
        guard let worker else { throw .notStarted(reason: "worker for \(modelID) did not start") }
        do { try worker.send(JSON.object(requestLine(request)).encoded() + "\n") } catch {
            await worker.stderrLines.drained(timeout: 2)
            throw .worker(reason: "cannot write to the worker (it may have exited)" + worker.stderrTail())
        }
        guard let line = await worker.lines.next(timeout: settings.timeoutSeconds) else {
            if worker.lines.isOverlong {
                // The rest of its answer cannot be found in the stream: the worker starts again for the next request.
                await worker.shutdown(grace: 0)
                self.worker = nil
                throw .worker(reason: "wrote more than \(LineChannel.maxLineBytes >> 20) MB without ending its answer's line")
            }
            if worker.lines.isClosed {
                // Its last stderr lines may still be in the pipe: read them before reporting.
                await worker.stderrLines.drained(timeout: 2)
                throw .worker(reason: "exited before answering" + worker.stderrTail())
            }
            await worker.shutdown(grace: 0)
            self.worker = nil
            throw .timeout(seconds: settings.timeoutSeconds)
        }
        let answer: JSON
        do { answer = try JSON.parse(line) } catch {
            throw .worker(reason: "answered a line that is not JSON: \"\(Text.preview(line, limit: 120))\"")
        }
        if let id = answer["id"]?.stringValue, id != request.id {
            throw .worker(reason: "answered id \"\(id)\" to request \"\(request.id)\" (answers must come in request order)")
        }
        if let error = answer["error"], !error.isNull {
            throw .worker(reason: error.stringValue ?? error.encoded())
        }
        if settings.scoring == .likelihood {
            guard let top = answer["top_logprobs"]?.objectValue, !top.isEmpty else {
                throw .worker(reason: "answer has no \"top_logprobs\" object (likelihood scoring asks for the next token's log-probabilities): \(Text.preview(line, limit: 120))")
            }
            return LabelLikelihood.response(top: LabelLikelihood.top(top), labels: request.labels, usage: answer["usage"], openAINames: false)
        }
        guard let output = answer["output"]?.stringValue else {
            throw .worker(reason: "answer has no \"output\" string: \(Text.preview(line, limit: 120))")
        }
        return ModelResponse(text: output, usage: answer["usage"], openAINames: false)
    }

    public func stop() async {
        await worker?.shutdown(grace: 3)
        worker = nil
    }
}

/// A started worker process with its pipes.
final class WorkerProcess: Sendable {
    let process: Process
    let stdin: FileHandle
    let lines: LineChannel
    let stderrLines: LineChannel

    private init(process: Process, stdin: FileHandle, lines: LineChannel, stderrLines: LineChannel) {
        self.process = process; self.stdin = stdin; self.lines = lines; self.stderrLines = stderrLines
    }

    static func launch(argv: [String], directory: String) throws(ProviderError) -> WorkerProcess {
        // A worker that exits closes its stdin: the next request written to it must fail (EPIPE, a recorded
        // failed call), not raise SIGPIPE, whose default action ends evalkit. Sockets avoid it per send
        // (MSG_NOSIGNAL); a pipe has no such flag, so the signal is ignored for the process.
        signal(SIGPIPE, SIG_IGN)
        let input = Pipe(), output = Pipe(), errors = Pipe()
        let lines = LineChannel(output.fileHandleForReading)
        let stderrLines = LineChannel(errors.fileHandleForReading, keepLast: 20)
        let process: Process
        do { process = try Subprocess.launch(argv, in: directory, input: input, output: output, error: errors) } catch {
            throw .worker(reason: error.description)
        }
        return WorkerProcess(process: process, stdin: input.fileHandleForWriting, lines: lines, stderrLines: stderrLines)
    }

    var isRunning: Bool { process.isRunning }

    func send(_ text: String) throws {
        try stdin.write(contentsOf: Data(text.utf8))
    }

    /// The worker's last stderr lines, for error messages.
    func stderrTail() -> String {
        let tail = stderrLines.recent()
        return tail.isEmpty ? "" : "; its last stderr lines: " + tail.suffix(5).joined(separator: " | ")
    }

    /// Closes stdin so the worker can exit by itself, then sends SIGTERM after `grace` seconds and
    /// SIGKILL shortly after: a child spawned from a dispatch thread can inherit a signal mask
    /// that blocks SIGTERM, and no worker may outlive the run.
    func shutdown(grace: Double) async {
        try? stdin.close()
        let deadline = ContinuousClock.now + .seconds(grace)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await stopProcess(process, grace: 0.2)
    }
}

/// Splits what a pipe delivers into lines and hands them to waiting readers, with timeouts.
final class LineChannel: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        var lines: [String] = []
        var waiter: (id: UInt64, continuation: CheckedContinuation<String?, Never>)?
        var nextWaiterID: UInt64 = 0
        var closed = false
        var recent: [String] = []
        /// Bytes at the buffer's start already searched for a newline: each delivery searches only what is new.
        var searched = 0
        /// True when a line grew past `maxLineBytes`: the channel closed without it.
        var overlong = false
    }

    /// The longest line kept (a worker's answer, or a stderr line): a worker writing without end must not
    /// take all memory.
    static let maxLineBytes = 64 << 20
    /// Of a stderr line past that, only its end is kept.
    static let keptStderrBytes = 64 << 10

    private let state = Mutex(State())
    private let keepLast: Int

    /// Reads `handle` until end of file. With `keepLast`, lines are only remembered (for stderr).
    init(_ handle: FileHandle, keepLast: Int = 0) {
        self.keepLast = keepLast
        handle.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.close()
            } else {
                self.receive([UInt8](data))
            }
        }
    }

    var isClosed: Bool { state.withLock { $0.closed && $0.lines.isEmpty } }

    /// The index of the first newline at or after `start` (memchr: a worker's answer can be megabytes).
    private static func newline(in buffer: [UInt8], from start: Int) -> Int? {
        buffer.withUnsafeBytes { raw -> Int? in
            guard start < raw.count, let base = raw.baseAddress, let found = memchr(base + start, 0x0A, raw.count - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }

    /// True when the channel closed because a line grew past `maxLineBytes`.
    var isOverlong: Bool { state.withLock { $0.overlong } }

    func recent() -> [String] { state.withLock { $0.recent } }

    /// Waits (at most `timeout` seconds) until the stream has reached its end, so that the last lines of
    /// a process that has exited are read before they are reported.
    func drained(timeout: Double) async {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while !state.withLock({ $0.closed }) && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private func receive(_ bytes: [UInt8]) {
        let resume: [(CheckedContinuation<String?, Never>, String?)] = state.withLock { s in
            guard !s.closed else { return [] }
            s.buffer.append(contentsOf: bytes)
            var out: [(CheckedContinuation<String?, Never>, String?)] = []
            while let newline = Self.newline(in: s.buffer, from: s.searched) {
                var lineBytes = s.buffer[..<newline]
                if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
                let line = String(decoding: lineBytes, as: UTF8.self)
                s.buffer.removeSubrange(...newline)
                s.searched = 0
                if keepLast > 0 {
                    s.recent.append(line)
                    if s.recent.count > keepLast { s.recent.removeFirst() }
                } else if let waiter = s.waiter {
                    s.waiter = nil
                    out.append((waiter.continuation, line))
                } else {
                    s.lines.append(line)
                }
            }
            s.searched = s.buffer.count
            if keepLast > 0, s.buffer.count > Self.keptStderrBytes {
                s.buffer.removeFirst(s.buffer.count - Self.keptStderrBytes)
                s.searched = s.buffer.count
            } else if keepLast == 0, s.buffer.count > Self.maxLineBytes {
                // No answer can be read from it: the channel ends here, and the reader is told why.
                s.buffer = []
                s.overlong = true
                s.closed = true
                if let waiter = s.waiter {
                    s.waiter = nil
                    out.append((waiter.continuation, nil))
                }
            }
            return out
        }
        for (continuation, line) in resume { continuation.resume(returning: line) }
    }

    private func close() {
        let waiter = state.withLock { s -> CheckedContinuation<String?, Never>? in
            s.closed = true
            if !s.buffer.isEmpty, keepLast > 0 { s.recent.append(String(decoding: s.buffer, as: UTF8.self)) }
            defer { s.waiter = nil }
            return s.waiter?.continuation
        }
        waiter?.resume(returning: nil)
    }

    /// The next line, or nil at end of file or after `timeout` seconds.
    func next(timeout: Double) async -> String? {
        await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            // Either a line is ready (or the pipe closed), or this reader waits under a new id.
            let registered: (immediate: String??, id: UInt64) = state.withLock { s in
                if !s.lines.isEmpty { return (.some(s.lines.removeFirst()), 0) }
                if s.closed { return (.some(nil), 0) }
                s.nextWaiterID += 1
                s.waiter = (s.nextWaiterID, continuation)
                return (.none, s.nextWaiterID)
            }
            if let immediate = registered.immediate {
                continuation.resume(returning: immediate)
                return
            }
            let id = registered.id
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak self] in
                guard let self else { return }
                let expired = self.state.withLock { s -> CheckedContinuation<String?, Never>? in
                    guard let waiter = s.waiter, waiter.id == id else { return nil }
                    s.waiter = nil
                    return waiter.continuation
                }
                expired?.resume(returning: nil)
            }
        }
    }
}

/// A long-lived worker process speaking JSON lines on stdin/stdout.
public struct CommandSettings: Sendable {
    public var argv: [String]
    public var timeoutSeconds: Double
    public var generation: GenerationSettings
    /// How the worker's answer is read: its text parsed (generate) or its next-token log-probabilities.
    public var scoring: ScoringMethod = .generate

    public init(argv: [String], timeoutSeconds: Double, generation: GenerationSettings) {
        self.argv = argv; self.timeoutSeconds = timeoutSeconds; self.generation = generation
    }
}

extension CommandSettings: PromptedProviderKind {
    public static let name = "command"
    /// A worker reads its requests in order.
    public var answersOneAtATime: Bool { true }
    public var serverURL: String? { nil }
    public var fileArguments: [String] { Array(argv.dropFirst()) }
    public var manifestMembers: [(String, JSON)] { [("argv", .array(argv.map(JSON.string)))] }
    public var answerReading: String? { scoring == .likelihood ? "label likelihood" : nil }
    public var answersWithLabels: Bool { scoring == .likelihood }
    public var reportLine: String {
        "command: \(argv.joined(separator: " "))" + (scoring == .likelihood ? "; " + LabelLikelihood.reportPhrase : "")
    }

    public static func read(options: JSON, path: String) -> (options: CommandSettings?, issues: [ConfigIssue]) {
        readOptions(options, path: path) { o, issues in
            o.rejectUnknownKeys(["argv", "scoring"] + generationKeys, issues: &issues)
            let timeout = readTimeout(o, issues: &issues)
            let scoring = o.oneOf("scoring", ["generate", "likelihood"], issues: &issues).flatMap(ScoringMethod.init(rawValue:)) ?? .generate
            let argv = o.stringArray("argv", required: true, nonEmpty: true, issues: &issues)
            let generation = readGeneration(o, issues: &issues)
            guard let argv, !argv.isEmpty else { return nil }
            var settings = CommandSettings(argv: argv, timeoutSeconds: timeout, generation: generation)
            settings.scoring = scoring
            return settings
        }
    }

    public func makeProvider(_ context: ProviderContext) -> PreparedProvider {
        PreparedProvider(provider: CommandProvider(settings: self, modelID: context.modelID, workingDirectory: context.baseDirectory))
    }
}
