import Foundation
import Synchronization

/// Child processes: every one evalkit starts goes through `launch`, so it is registered to die with
/// evalkit; `run` runs a short command to completion and captures what it printed (identifying a server
/// build, reading a git ref).
public enum Subprocess {
    /// What a finished command left behind.
    public struct Outcome: Sendable {
        /// The exit status; nil when it was killed for running past its timeout.
        public var status: Int32?
        public var output: String
        public var errorOutput: String
        public var succeeded: Bool { status == 0 }
    }

    /// Why a command could not be run at all.
    public struct LaunchError: Error, CustomStringConvertible, Sendable {
        public var command: [String]
        public var reason: String
        public var description: String { "cannot run \(command.joined(separator: " ")): \(reason)" }
    }

    /// Starts `command` (found on PATH through /usr/bin/env, no shell) in `directory` with the given
    /// standard streams (a Pipe or a FileHandle each), registered in `ChildProcesses`.
    public static func launch(_ command: [String], in directory: String?, input: Any, output: Any, error: Any) throws(LaunchError) -> Process {
        guard !command.isEmpty else { throw LaunchError(command: command, reason: "the command is empty") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        if let directory, !directory.isEmpty { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        do { try process.run() } catch { throw LaunchError(command: command, reason: error.localizedDescription) }
        ChildProcesses.shared.add(process.processIdentifier)
        return process
    }

    /// Runs `command` (found on PATH through /usr/bin/env) in `directory`, keeping at most `limit`
    /// bytes of each output stream, and kills it after `timeoutSeconds`.
    public static func run(_ command: [String], in directory: String? = nil, timeoutSeconds: Double = 60,
                           limit: Int = 64 * 1024) throws(LaunchError) -> Outcome {
        let stdout = Pipe(), stderr = Pipe()
        let process = try launch(command, in: directory, input: FileHandle.nullDevice, output: stdout, error: stderr)
        defer { ChildProcesses.shared.remove(process.processIdentifier) }
        // Both streams are drained while the command runs, so a full pipe never blocks it.
        let out = BoundedReader(stdout.fileHandleForReading, limit: limit)
        let err = BoundedReader(stderr.fileHandleForReading, limit: limit)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var killed = false
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        return Outcome(status: killed ? nil : process.terminationStatus, output: out.finish(), errorOutput: err.finish())
    }
}

/// Reads a pipe to its end on a background thread, keeping the first `limit` bytes.
private final class BoundedReader: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let text = Mutex<[UInt8]>([])

    init(_ handle: FileHandle, limit: Int) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text.withLock { bytes in if bytes.count < limit { bytes.append(contentsOf: chunk.prefix(limit - bytes.count)) } }
            }
            done.signal()
        }
    }

    /// What was read; waits at most a few seconds for the end (a grandchild may hold the pipe open).
    func finish() -> String {
        _ = done.wait(timeout: .now() + 3)
        return String(decoding: text.withLock { $0 }, as: UTF8.self)
    }
}

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
