import Foundation
import Synchronization

/// Runs a short command to completion (no shell) and captures what it printed: for identifying a
/// server build and for reading a git ref. Long-lived children (workers, servers) are managed elsewhere.
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

    /// Runs `command` (found on PATH through /usr/bin/env) in `directory`, keeping at most `limit`
    /// bytes of each output stream, and kills it after `timeoutSeconds`.
    public static func run(_ command: [String], in directory: String? = nil, timeoutSeconds: Double = 60,
                           limit: Int = 64 * 1024) throws(LaunchError) -> Outcome {
        guard !command.isEmpty else { throw LaunchError(command: command, reason: "the command is empty") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        if let directory, !directory.isEmpty { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw LaunchError(command: command, reason: error.localizedDescription) }
        ChildProcesses.shared.add(process.processIdentifier)
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
