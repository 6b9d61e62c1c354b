import EvalKit
import Foundation
import Synchronization

// The CLI: argument parsing, progress on stderr and exit codes. Everything else is in EvalKit.

enum Exit {
    static let ok: Int32 = 0
    static let checkFailed: Int32 = 1
    static let usage: Int32 = 2
    static let runFailed: Int32 = 3
}

let overview = """
evalkit \(EvalKitInfo.version): should this task keep prompting a large foundation model, or move to a
fine-tuned smaller one? evalkit runs prompt variants and models over the same labelled data and
reports accuracy, latency and cost with the evidence.

Usage: evalkit <command> [options]

Commands:
  compare [CONFIG]     run the experiment (default evalkit.json) and write a run folder
  validate [CONFIG]    check the experiment, its data and its prompts without sending a request
  help [COMMAND]       show help for a command

Options: --help, --version

Exit codes: 0 ok, 1 check failed, 2 bad usage, config or data, 3 the run failed.
"""

let commandHelp: [String: String] = [
    "compare": """
    Usage: evalkit compare [CONFIG] [--out DIR] [--limit N] [--concurrency N]

    Runs every candidate (model × prompt) of the experiment on the test split and writes
    report.md, summary.csv, results.jsonl and run.json.

      CONFIG            experiment file (default: evalkit.json in the current folder)
      --out DIR         write the run into DIR (default: reports/<experiment>/<run-id>/)
      --limit N         evaluate only the first N test examples
      --concurrency N   requests in flight per model (overrides the experiment)

    Exit codes: 0 ok, 2 bad config or data, 3 no candidate produced a result.
    """,
    "validate": """
    Usage: evalkit validate [CONFIG]

    Reads the experiment, loads its dataset and checks its prompt templates, reporting every
    problem at once with its JSON path or file and line. Sends no request.

    Exit codes: 0 valid, 2 problems found.
    """,
    "help": """
    Usage: evalkit help [COMMAND]

    Shows the overview, or the help of one command.
    """,
]

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
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
        let eta = p.etaSeconds.map { " · ETA \(Self.duration($0))" } ?? ""
        let text = "\(p.done)/\(p.total) requests · \(p.errors) errors · \(Self.duration(p.elapsedSeconds)) elapsed\(eta)"
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

func shellQuoted(_ argument: String) -> String {
    let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }
    return safe && !argument.isEmpty ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

func prepare(_ configPath: String) -> PreparedExperiment? {
    do { return try Preparation.prepare(configPath: configPath) } catch {
        printError("error: \(error)")
        return nil
    }
}

func runValidate(_ arguments: [String]) -> Int32 {
    let parsed: ParsedArguments
    do { parsed = try ArgumentSpec().parse(arguments) } catch { return usageFailure(error, command: "validate") }
    let path = parsed.positionals.first ?? "evalkit.json"
    guard let prepared = prepare(path) else { return Exit.usage }
    let e = prepared.experiment
    print("\(path): valid. Experiment \"\(e.name)\": \(e.candidates.count) candidates (\(e.models.count) models × \(e.prompts.count) prompts), "
          + "\(prepared.dataset.train.count) train / \(prepared.dataset.validation.count) validation / \(prepared.dataset.test.count) test examples.")
    return Exit.ok
}

func runCompare(_ arguments: [String]) async -> Int32 {
    let spec = ArgumentSpec(valueOptions: ["out", "limit", "concurrency"])
    var options = CompareOptions()
    let configPath: String
    do {
        let parsed = try spec.parse(arguments)
        configPath = parsed.positionals.first ?? "evalkit.json"
        options.outDirectory = parsed.options["out"]
        options.limit = try parsed.positiveInt("limit")
        options.concurrency = try parsed.positiveInt("concurrency")
    } catch {
        return usageFailure(error, command: "compare")
    }
    options.reproduceCommand = (["evalkit", "compare"] + arguments).map(shellQuoted).joined(separator: " ")
    guard let prepared = prepare(configPath) else { return Exit.usage }
    let progress = ProgressLine()
    do {
        let outcome = try await CompareRun.run(prepared, options: options, progress: progress.update)
        for failure in outcome.summary.modelFailures { printError("warning: model \(failure.model) was not used: \(failure.reason)") }
        print("Run folder: \(outcome.runDirectory)")
        for m in outcome.summary.metrics {
            let accuracy = m.accuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "–"
            print("  \(m.candidate): accuracy \(accuracy), \(m.errors)/\(m.requests) errors")
        }
        if outcome.failed {
            printError("error: no candidate produced a result; see \(outcome.runDirectory)/report.md")
            return Exit.runFailed
        }
        return Exit.ok
    } catch {
        printError("error: \(error)")
        return Exit.runFailed
    }
}

func usageFailure(_ error: UsageError, command: String) -> Int32 {
    printError("error: \(error)\nRun 'evalkit help \(command)' for usage.")
    return Exit.usage
}

func main() async -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let command = arguments.first else {
        print(overview)
        return Exit.ok
    }
    let rest = Array(arguments.dropFirst())
    switch command {
    case "--help", "-h":
        print(overview)
        return Exit.ok
    case "--version", "-V":
        print("evalkit \(EvalKitInfo.version)")
        return Exit.ok
    case "help":
        guard let topic = rest.first else { print(overview); return Exit.ok }
        guard let text = commandHelp[topic] else {
            printError("error: no command \"\(topic)\". Commands: " + commandHelp.keys.sorted().joined(separator: ", "))
            return Exit.usage
        }
        print(text)
        return Exit.ok
    default:
        if rest.contains("--help") || rest.contains("-h"), let text = commandHelp[command] {
            print(text)
            return Exit.ok
        }
    }
    switch command {
    case "compare": return await runCompare(rest)
    case "validate": return runValidate(rest)
    default:
        var message = "error: unknown command \"\(command)\""
        if let guess = Text.suggestion(for: command, among: Array(commandHelp.keys)) { message += " (did you mean \"\(guess)\"?)" }
        printError(message + "\nRun 'evalkit --help' for the commands.")
        return Exit.usage
    }
}

exit(await main())
