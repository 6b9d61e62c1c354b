import EvalKit
import Foundation

// The CLI parses arguments and dispatches to a command; the commands print and pick exit codes.
// Everything else is in EvalKit.

let commands: [any Command] = [CompareCommand(), ValidateCommand(), CheckCommand(), BaselineCommand(), DiffCommand(), ReportCommand(),
                               VerifyCommand(), AuditCommand(), ExportCommand(), MergeCommand(), ViewCommand()]

func overview() -> String {
    let width = commands.map { ($0.name + " " + $0.positionals).count }.max() ?? 0
    let lines = commands.map { c in
        let head = c.name + (c.positionals.isEmpty ? "" : " " + c.positionals)
        return "  " + head + String(repeating: " ", count: width - head.count + 3) + c.summary
    }
    return """
    evalkit \(EvalKitInfo.version): should this task keep prompting a large foundation model, or move to a
    fine-tuned smaller one? evalkit runs prompt variants and models over the same labelled data and
    reports accuracy, latency and cost with the evidence.

    Usage: evalkit <command> [options]   (evalkit help <command> for its options)

    Commands:
    \(lines.joined(separator: "\n"))
      help [COMMAND]\(String(repeating: " ", count: max(1, width - 14 + 3)))show help for a command

    Options: --help, --version

    Exit codes: 0 ok, 1 check failed, 2 bad usage, config or data, 3 the run failed.
    """
}

func command(named name: String) -> (any Command)? { commands.first { $0.name == name } }

@MainActor
func main() async -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let name = arguments.first, !["--help", "-h"].contains(name) else {
        print(overview())
        return Exit.ok
    }
    let rest = Array(arguments.dropFirst())
    if name == "--version" || name == "-V" {
        print("evalkit \(EvalKitInfo.version)")
        return Exit.ok
    }
    if name == "help" {
        guard let topic = rest.first else { print(overview()); return Exit.ok }
        guard let command = command(named: topic) else {
            printError("error: no command \"\(topic)\". Commands: " + commands.map(\.name).joined(separator: ", "))
            return Exit.usage
        }
        print(command.help)
        return Exit.ok
    }
    guard let command = command(named: name) else {
        var message = "error: unknown command \"\(name)\""
        if let guess = Text.suggestion(for: name, among: commands.map(\.name)) { message += " (did you mean \"\(guess)\"?)" }
        printError(message + "\nRun 'evalkit --help' for the commands.")
        return Exit.usage
    }
    if rest.contains("--help") || rest.contains("-h") {
        print(command.help)
        return Exit.ok
    }
    do throws(UsageError) {
        return await command.run(try command.spec.parse(rest))
    } catch {
        return usageFailure(error, command: command.name)
    }
}

exit(await main())
