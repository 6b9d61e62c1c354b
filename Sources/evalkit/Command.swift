import EvalKit
import Foundation
import Synchronization

enum Exit {
    static let ok: Int32 = 0
    static let checkFailed: Int32 = 1
    static let usage: Int32 = 2
    static let runFailed: Int32 = 3
}

/// One option of a command: `--name VALUE` (or a flag when `value` is nil) and what it does.
struct CommandOption: Sendable {
    let name: String
    let value: String?
    let help: String
    init(_ name: String, _ value: String? = nil, _ help: String) { self.name = name; self.value = value; self.help = help }
}

/// One `evalkit` subcommand: its name, its arguments and their help, and what it does. The argument
/// parser and the usage text are both made from `options`, so they cannot drift apart.
protocol Command: Sendable {
    /// The word after `evalkit`.
    var name: String { get }
    /// One line for the overview.
    var summary: String { get }
    /// The positional arguments as usage shows them, e.g. "[CONFIG]" or "RUN_A RUN_B".
    var positionals: String { get }
    var maxPositionals: Int { get }
    var options: [CommandOption] { get }
    /// More usage forms, beside the one made from `options` (e.g. `compare --resume RUN_DIR`).
    var otherForms: [String] { get }
    /// What the command does, its exit codes: shown after the usage and options.
    var details: String { get }
    func run(_ arguments: ParsedArguments) async -> Int32
}

extension Command {
    var maxPositionals: Int { 1 }
    var otherForms: [String] { [] }

    var spec: ArgumentSpec {
        ArgumentSpec(valueOptions: options.filter { $0.value != nil }.map(\.name), flags: options.filter { $0.value == nil }.map(\.name),
                     maxPositionals: maxPositionals)
    }

    /// `evalkit NAME POSITIONALS [--option VALUE] … [--flag] …`
    var usage: String {
        let parts = ["evalkit", name, positionals].filter { !$0.isEmpty }
            + options.map { option in "[--\(option.name)\(option.value.map { " " + $0 } ?? "")]" }
        return parts.joined(separator: " ")
    }

    var help: String {
        var text = "Usage: " + usage + "\n" + otherForms.map { "       evalkit \(name) \($0)\n" }.joined()
        if !options.isEmpty {
            let labels = options.map { "--\($0.name)\($0.value.map { " " + $0 } ?? "")" }
            let width = (labels.map(\.count).max() ?? 0) + 2
            text += "\n" + zip(labels, options).map { label, option in
                "  " + label + String(repeating: " ", count: width - label.count) + option.help
            }.joined(separator: "\n") + "\n"
        }
        return text + "\n" + details
    }
}

extension Command {
    /// The run folder named first on the command line, or nil after printing what is missing.
    func runFolder(_ parsed: ParsedArguments) -> String? {
        if let directory = parsed.positionals.first { return directory }
        _ = usageFailure(UsageError("\(name) needs a run folder: evalkit \(name) \(positionals)"), command: name)
        return nil
    }
}

/// Runs a command's work: what it throws is printed and exits 2 (a bad run folder, config or data).
func exitCode(_ work: () throws -> Int32) -> Int32 {
    do { return try work() } catch {
        printError("error: \(error)")
        return Exit.usage
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func usageFailure(_ error: UsageError, command: String) -> Int32 {
    printError("error: \(error)\nRun 'evalkit help \(command)' for usage.")
    return Exit.usage
}

/// The experiment at `configPath`, loaded and checked (its model files too, with `checkingModels`), or nil
/// after printing why not.
func prepare(_ configPath: String, checkingModels: Bool = true) -> PreparedExperiment? {
    do { return try Preparation.prepare(configPath: configPath, checkingModels: checkingModels) } catch {
        printError("error: \(error)")
        return nil
    }
}

func writeFile(_ text: String, to path: String) -> Bool {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8); return true } catch {
        printError("error: cannot write \(path): \(error.localizedDescription)")
        return false
    }
}

/// The command line that reproduces a run, shell-quoted, without the options in `dropping` and their
/// values: where a run was written (or which shard it was) is not part of what it did.
func reproduceCommand(_ name: String, _ arguments: [String], dropping: Set<String>) -> String {
    var kept = ["evalkit", name]
    var skipNext = false
    for argument in arguments {
        if skipNext { skipNext = false; continue }
        if dropping.contains(where: { argument == "--\($0)" }) { skipNext = true; continue }
        if dropping.contains(where: { argument.hasPrefix("--\($0)=") }) { continue }
        kept.append(argument)
    }
    return kept.map(shellQuoted).joined(separator: " ")
}

func shellQuoted(_ argument: String) -> String {
    let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }
    return safe && !argument.isEmpty ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// SIGINT and SIGTERM: the first stops taking new work, the second aborts at once (every finished
/// result is already on disk, one line each).
func watchInterrupts(_ stop: StopSignal) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            if stop.isStopped {
                // Workers and managed servers must not outlive the run.
                ChildProcesses.shared.killAll()
                printError("\naborted; finished results are in results.jsonl")
                exit(130)
            }
            stop.interrupt(by: number == SIGINT ? "SIGINT" : "SIGTERM")
            printError("\nstopping: no new requests; waiting for those in flight (Ctrl-C again aborts them)…")
        }
        source.resume()
        return source
    }
}

/// Draws progress on stderr: a live line on a terminal, a plain line every few seconds otherwise.
final class ProgressLine: Sendable {
    let isTerminal = isatty(FileHandle.standardError.fileDescriptor) == 1
    private let lastDrawn = Mutex<Double>(-1e9)

    func update(_ p: ProgressSnapshot) {
        let interval = isTerminal ? 0.1 : 5.0
        let finished = p.done == p.total
        let shouldDraw = lastDrawn.withLock { last in
            guard finished || p.elapsedSeconds - last >= interval else { return false }
            last = p.elapsedSeconds
            return true
        }
        guard shouldDraw else { return }
        let eta = p.etaSeconds.map { " · ETA \(Self.duration($0))" } ?? (finished ? "" : " · ETA after the first answers")
        let current = p.current.map { " · now \($0)" } ?? ""
        let text = "\(p.done)/\(p.total) requests · \(p.errors) errors · \(Self.duration(p.elapsedSeconds)) elapsed\(eta)\(current)"
        if isTerminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)\(finished ? "\n" : "")".utf8))
        } else {
            printError(text)
        }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
