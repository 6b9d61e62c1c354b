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
  check RUN_DIR --baseline BASELINE | --against-ref GIT_REF
                       the CI regression gate: exit 1 when the run regressed against the baseline
                       (stored, or the baseline's experiment evaluated again on this machine)
  baseline RUN_DIR     promote a run to reports/<experiment>/baseline/ (small enough to commit)
  diff RUN_A RUN_B     Markdown of what changed between two runs
  report RUN_DIR       write a run's report.md, summary.csv and charts again from its results
  verify RUN_DIR       recompute every figure of a run's summary.csv from its results and config
  audit [CONFIG]       the data audit of step 4: duplicates, conflicts, leakage, balance, broken text
  export-finetune [CONFIG] --prompt ID
                       write the training split as fine-tuning data (OpenAI chat and prompt/completion)
  help [COMMAND]       show help for a command

Options: --help, --version

Exit codes: 0 ok, 1 check failed, 2 bad usage, config or data, 3 the run failed.
"""

let commandHelp: [String: String] = [
    "compare": """
    Usage: evalkit compare [CONFIG] [--out DIR] [--limit N] [--concurrency N] [--dry-run]
                           [--no-cache | --refresh]
           evalkit compare --resume RUN_DIR

    Runs every candidate (model × prompt) of the experiment on the test split and writes
    report.md, summary.csv, results.jsonl and run.json.

      CONFIG            experiment file (default: evalkit.json in the current folder)
      --out DIR         write the run into DIR (default: reports/<experiment>/<run-id>/)
      --limit N         evaluate only the first N test examples
      --concurrency N   requests in flight per model (overrides the experiment)
      --only M1,M2      evaluate only the candidates of these models (e.g. --only builtin-lr offline)
      --dry-run         render every request and print the request count, estimated tokens
                        and estimated cost per candidate; send nothing
      --no-cache        neither read nor write the response cache (.evalkit/cache/)
      --refresh         ask every model again and overwrite the cache
      --resume RUN_DIR  finish an interrupted run: its finished requests are not sent again

    Ctrl-C (SIGINT) or SIGTERM stops taking new requests, lets those in flight finish, writes
    the reports of what is done and prints the resume command; a second Ctrl-C aborts at once.
    Failed requests are retried (429, 5xx, timeouts, dropped connections) with exponential
    backoff and full jitter, honouring Retry-After; see "retry" in the README.

    With "budget_usd" in the experiment's "run" section, a run whose estimate exceeds the
    budget does not start, and a running one stops cleanly (keeping its results) when the
    measured spend reaches it.

    Exit codes: 0 ok, 2 bad config or data (or over budget), 3 the run failed: no candidate
    produced a result, more requests failed than run.max_error_rate allows, or it was interrupted.
    """,
    "validate": """
    Usage: evalkit validate [CONFIG]

    Reads the experiment, loads its dataset and checks its prompt templates, reporting every
    problem at once with its JSON path or file and line. Sends no request.

    Exit codes: 0 valid, 2 problems found.
    """,
    "verify": """
    Usage: evalkit verify RUN_DIR

    Recomputes every figure from RUN_DIR/results.jsonl, the experiment as run
    (RUN_DIR/config.json) and the measured training times in RUN_DIR/run.json, and lists what
    differs: each cell of summary.csv (and duplicated, missing or unexpected rows), each value of
    analysis.json by JSON path, and the first line of report.md below its header that differs
    from a fresh rendering.

    Exit codes: 0 everything matches, 1 something differs, 2 the run folder cannot be read.
    """,
    "check": """
    Usage: evalkit check RUN_DIR --baseline BASELINE       (against a stored baseline)
           evalkit check RUN_DIR --against-ref GIT_REF[:CONFIG] [--against-out DIR]
           evalkit check RUN_DIR --against-config CONFIG [--against-out DIR]
                         [--max-accuracy-drop X] [--max-latency-ratio R] [--max-cost-ratio R] [--alpha A]
                         [--junit FILE] [--markdown FILE]

    Compares each baseline candidate with its counterpart in RUN_DIR and fails (exit 1) when
      - accuracy drops by more than the allowed amount AND the drop is significant (exact McNemar
        test on the examples both runs asked, a failed request counting as wrong; where per-example
        results are missing, the intervals must not overlap);
      - latency got slower: the median of per-example latency ratios exceeds the allowed ratio and
        a one-sided sign test finds the slowdown significant (p95 against the ratio where
        per-example results are missing; changes under 5 ms are noise);
      - cost per 1,000 requests grows beyond the allowed ratio (under $0.001 per 1k is noise); or
      - a baseline candidate is missing from the run.

    Every run records its environment in run.json: the CPU, its cores and instruction sets, each
    model's files (weights, adapters, worker scripts), its server's build (server "identify") and
    the system_fingerprint it reports. Where the baseline's environment differs, changes only the
    environment could explain are shown as information instead of failing: latency, latency-based
    cost, and the accuracy of a model whose answers depend on the machine or build when the
    candidate's definition (model options and files, prompt, task, data) is unchanged.

    To gate everything, compare like with like: --against-ref evaluates the experiment as GIT_REF
    holds it (its config, prompts, data and adapters; untracked folders such as .venv are taken
    from the working tree), --against-config evaluates CONFIG, here, in the same job, over the
    same test examples, into DIR (default RUN_DIR-baseline). Requests the run already made come
    from the response cache, so only what changed is asked again.

    Thresholds come from the run's config ("check": {"max_accuracy_drop", "max_latency_ratio",
    "max_cost_ratio", "alpha"}; defaults 0.02, 1.5, 1.25, 0.05); flags override them.

      --junit FILE      JUnit XML: a test case per candidate and gated metric
      --markdown FILE   a summary for a GitHub step summary or a pull-request comment

    Exit codes: 0 no regression, 1 regression, 2 unreadable or mismatched run or baseline,
    3 the baseline's experiment could not be run.
    """,
    "baseline": """
    Usage: evalkit baseline RUN_DIR [--to DIR]

    Copies a run's summary, per-example results, manifest, config and report into
    reports/<experiment>/baseline/ (or DIR), replacing the previous baseline. Commit that folder
    and gate later runs on it with 'evalkit check RUN_DIR --baseline reports/<experiment>/baseline'.
    """,
    "diff": """
    Usage: evalkit diff RUN_A RUN_B [--out FILE]

    Markdown of what changed from RUN_A to RUN_B: metrics with their change and a paired test,
    the examples that flipped right → wrong and wrong → right with both outputs, and the
    changes in the experiment file. Printed, or written to FILE.
    """,
    "report": """
    Usage: evalkit report RUN_DIR

    Writes RUN_DIR's report.md, summary.csv and charts again from its results.jsonl, config.json
    and run.json, sending nothing: edit the "decision" section of RUN_DIR/config.json to see the
    same answers judged under another policy. The same inputs give the same bytes.
    """,
    "audit": """
    Usage: evalkit audit [CONFIG]

    Audits the experiment's dataset (step 4 of the guidance) and prints the findings with counts,
    examples and remedies: exact and near duplicates (after normalising case, whitespace, URLs and
    mentions), the same text with conflicting labels, training text leaking into validation and
    test, label balance per split, empty, overly long and garbled (mojibake) text, low annotator
    confidence ("audit": {"min_confidence": 0.6}), and the training tokens and fine-tuning cost.

    Exit codes: 0 audited (findings are not failures), 2 bad config or data.
    """,
    "export-finetune": """
    Usage: evalkit export-finetune [CONFIG] --prompt ID [--out DIR] [--dedupe] [--drop-conflicts] [--drop-leaked]

    Writes the training split rendered with prompt ID as DIR/openai-chat.jsonl (chat messages for
    OpenAI fine-tuning) and DIR/prompt-completion.jsonl (for Hugging Face SFT), after the audit
    fixes you switch on, with the validation split beside them (*-validation.jsonl), and prints the
    token count and the estimated training cost. scripts/finetune-lora trains a LoRA adapter on them.
    DIR defaults to reports/<experiment>/finetune-<ID>/.
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
    guard let parsed = parseArguments(ArgumentSpec(), arguments, command: "validate") else { return Exit.usage }
    let path = parsed.positionals.first ?? "evalkit.json"
    let prepared: PreparedExperiment
    do { prepared = try Preparation.validate(configPath: path) } catch {
        printError("error: \(error)")
        return Exit.usage
    }
    let e = prepared.experiment
    print("\(path): valid. Experiment \"\(e.name)\": \(e.candidates.count) candidates (\(e.models.count) models × \(e.prompts.count) prompts), "
          + "\(prepared.dataset.train.count) train / \(prepared.dataset.validation.count) validation / \(prepared.dataset.test.count) test examples.")
    return Exit.ok
}

func runCompare(_ arguments: [String]) async -> Int32 {
    let spec = ArgumentSpec(valueOptions: ["out", "limit", "concurrency", "resume", "only"], flags: ["dry-run", "no-cache", "refresh"])
    var options = CompareOptions()
    let configPath: String
    let dryRun: Bool
    var onlyModels: [String]? = nil
    do throws(UsageError) {
        let parsed = try spec.parse(arguments)
        configPath = parsed.positionals.first ?? "evalkit.json"
        options.outDirectory = parsed.options["out"]
        options.limit = try parsed.positiveInt("limit")
        options.concurrency = try parsed.positiveInt("concurrency")
        dryRun = parsed.flags.contains("dry-run")
        onlyModels = parsed.options["only"].map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if parsed.flags.contains("no-cache") && parsed.flags.contains("refresh") { throw UsageError("--no-cache and --refresh exclude each other") }
        options.cacheMode = parsed.flags.contains("no-cache") ? .off : (parsed.flags.contains("refresh") ? .refresh : .use)
        if let resume = parsed.options["resume"] {
            if parsed.options["out"] != nil || !parsed.positionals.isEmpty { throw UsageError("--resume takes the run folder only: evalkit compare --resume RUN_DIR") }
            options.outDirectory = resume
            options.resume = true
        }
    } catch {
        return usageFailure(error, command: "compare")
    }
    options.reproduceCommand = (["evalkit", "compare"] + arguments).map(shellQuoted).joined(separator: " ")
    let loaded: PreparedExperiment?
    if options.resume, let directory = options.outDirectory {
        // A resumed run uses the experiment exactly as it ran (its config.json).
        // The results are read by the journal's own recovery (which cuts a torn last line), not here.
        do {
            let folder = try RunFolder.load(directory, requireSummary: false, withResults: false)
            loaded = try Preparation.prepare(folder.experiment)
            options.reproduceCommand = folder.manifest.command
        } catch {
            printError("error: cannot resume \(directory): \(error)")
            return Exit.usage
        }
    } else {
        loaded = prepare(configPath)
    }
    guard var prepared = loaded else { return Exit.usage }
    if let onlyModels {
        do throws(UsageError) { prepared = try prepared.restricted(toModels: onlyModels) } catch { return usageFailure(error, command: "compare") }
        options.onlyModels = onlyModels
    }
    if dryRun { return await printEstimate(prepared, limit: options.limit) }
    let progress = ProgressLine()
    let interrupts = watchInterrupts(options.stop)
    defer { interrupts.forEach { $0.cancel() } }
    do {
        let outcome = try await CompareRun.run(prepared, options: options, progress: progress.update)
        for failure in outcome.summary.modelFailures { printError("warning: model \(failure.model) was not used: \(failure.reason)") }
        print("Run folder: \(outcome.runDirectory)")
        for m in outcome.summary.metrics {
            let accuracy = m.accuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "–"
            print("  \(m.candidate): accuracy \(accuracy), \(m.errors)/\(m.requests) errors")
        }
        if outcome.incomplete, let reason = options.stop.stopReason {
            printError("stopped: \(reason). Reports cover what was done. Resume with:\n  evalkit compare --resume \(shellQuoted(outcome.runDirectory))")
            if reason.hasPrefix("interrupted") { return Exit.runFailed }
        }
        if let failure = outcome.summary.runFailure {
            printError("error: the run failed: \(failure); its results are kept in \(outcome.runDirectory)")
            return Exit.runFailed
        }
        if outcome.failed {
            printError("error: no candidate produced a result; see \(outcome.runDirectory)/report.md")
            return Exit.runFailed
        }
        return Exit.ok
    } catch {
        printError("error: \(error)")
        if case .overBudget = error { return Exit.usage }
        return Exit.runFailed
    }
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
            stop.stop("interrupted by \(number == SIGINT ? "SIGINT" : "SIGTERM")")
            printError("\nstopping: no new requests; waiting for those in flight (Ctrl-C again aborts them)…")
        }
        source.resume()
        return source
    }
}

func printEstimate(_ prepared: PreparedExperiment, limit: Int?) async -> Int32 {
    let e = prepared.experiment
    let test = (limit ?? e.run.limit).map { Array(prepared.dataset.test.prefix($0)) } ?? prepared.dataset.test
    // Nothing is sent: prompts with embedding-chosen examples are sized with the TF-IDF choice.
    let selections = (try? await SimilarSelections.compute(prepared, test: test, cacheDirectory: e.resolve(".evalkit/cache"), network: false)) ?? [:]
    let estimate = CostEstimator.estimate(experiment: e, test: test, builders: prepared.builders, selections: selections)
    print("Dry run of \(e.name): \(estimate.requests) requests (\(test.count) test examples × \(e.candidates.count) candidates × \(e.run.repeats) repeats); nothing sent.")
    print("Token counts are estimates (about 4 characters a token; no tokenizer is known).\n")
    print(Markdown.table(["candidate", "requests", "≈ input tokens", "output tokens (max)", "≈ cost", "how"], estimate.candidates.map {
        [$0.candidate, String($0.requests), String($0.estimatedInputTokens), String($0.maxOutputTokens),
         $0.estimatedCostUSD.map(Format.usd) ?? "–", $0.note]
    }, alignRight: [1, 2, 3, 4]))
    print("Estimated total: \(Format.usd(estimate.totalUSD)) for the candidates that could be estimated.")
    if let budget = e.run.budgetUSD {
        let over = estimate.totalUSD > budget
        print("Budget: \(Format.usd(budget)) — \(over ? "the run would NOT start (estimate exceeds it)" : "within budget").")
        return over ? Exit.usage : Exit.ok
    }
    return Exit.ok
}

func writeFile(_ text: String, to path: String) -> Bool {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8); return true } catch {
        printError("error: cannot write \(path): \(error.localizedDescription)")
        return false
    }
}

func runCheck(_ arguments: [String]) async -> Int32 {
    let spec = ArgumentSpec(valueOptions: ["baseline", "against-config", "against-ref", "against-out", "max-accuracy-drop", "max-latency-ratio",
                                           "max-cost-ratio", "alpha", "junit", "markdown"])
    guard let parsed = parseArguments(spec, arguments, command: "check") else { return Exit.usage }
    let sources = ["baseline", "against-config", "against-ref"].filter { parsed.options[$0] != nil }
    guard let runDirectory = parsed.positionals.first, sources.count == 1 else {
        let why = sources.count > 1 ? "--baseline, --against-config and --against-ref exclude each other" : "check needs a run folder and a baseline"
        return usageFailure(UsageError(why + ": evalkit check RUN_DIR --baseline BASELINE | --against-config CONFIG | --against-ref GIT_REF"),
                            command: "check")
    }
    let current: RunFolder
    do { current = try RunFolder.load(runDirectory) } catch { printError("error: the run cannot be read: \(error)"); return Exit.usage }
    var policy = current.experiment.check
    for (flag, apply) in [("max-accuracy-drop", { (v: Double) in policy.maxAccuracyDrop = v }), ("max-latency-ratio", { policy.maxLatencyRatio = $0 }),
                          ("max-cost-ratio", { policy.maxCostRatio = $0 }), ("alpha", { policy.alpha = $0 })] as [(String, (Double) -> Void)] {
        guard let raw = parsed.options[flag] else { continue }
        guard let value = Double(raw), value >= 0, value.isFinite else { return usageFailure(UsageError("--\(flag) expects a number ≥ 0, got \"\(raw)\""), command: "check") }
        apply(value)
    }
    guard policy.alpha > 0, policy.alpha < 1 else { return usageFailure(UsageError("--alpha expects a number between 0 and 1"), command: "check") }
    var baselineDirectory = parsed.options["baseline"] ?? ""
    if parsed.options["baseline"] == nil {
        let source: BaselineSource
        if let config = parsed.options["against-config"] {
            source = .config(path: config)
        } else {
            let value = parsed.options["against-ref"] ?? ""
            let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
            source = .gitReference(parts.first ?? value, configPath: parts.count > 1 ? parts[1] : nil)
        }
        baselineDirectory = parsed.options["against-out"] ?? (runDirectory.hasSuffix("/") ? String(runDirectory.dropLast()) : runDirectory) + "-baseline"
        printError("Evaluating the baseline's experiment on this machine into \(baselineDirectory) (answers the run already has come from the cache)…")
        let stop = StopSignal()
        let interrupts = watchInterrupts(stop)
        defer { interrupts.forEach { $0.cancel() } }
        let progress = ProgressLine()
        do { _ = try await BaselineRerun.run(current: current, source: source, outDirectory: baselineDirectory, stop: stop, progress: progress.update) } catch {
            printError("error: \(error)")
            if case .run = error { return Exit.runFailed }
            return Exit.usage
        }
        if let reason = stop.stopReason {
            printError("error: the baseline's run stopped (\(reason)); nothing was checked")
            return Exit.runFailed
        }
    }
    let baseline: RunFolder
    do { baseline = try RunFolder.load(baselineDirectory) } catch { printError("error: the baseline cannot be read: \(error)"); return Exit.usage }
    let report: CheckReport
    do { report = try RegressionCheck.check(current: current, baseline: baseline, policy: policy) } catch {
        printError("error: \(error)")
        return Exit.usage
    }
    print(report.table)
    print(report.environmentSummary)
    print(report.headline)
    if let path = parsed.options["junit"], !writeFile(report.junit, to: path) { return Exit.usage }
    if let path = parsed.options["markdown"], !writeFile(report.markdown, to: path) { return Exit.usage }
    return report.passed ? Exit.ok : Exit.checkFailed
}

func runBaseline(_ arguments: [String]) -> Int32 {
    guard let parsed = parseArguments(ArgumentSpec(valueOptions: ["to"]), arguments, command: "baseline") else { return Exit.usage }
    guard let runDirectory = parsed.positionals.first else { return usageFailure(UsageError("baseline needs a run folder"), command: "baseline") }
    do {
        let target = try RunFolderCommands.promoteBaseline(runDirectory: runDirectory, destination: parsed.options["to"])
        print("Baseline written to \(target). Commit it, and gate later runs with: evalkit check RUN_DIR --baseline \(target)")
        return Exit.ok
    } catch {
        printError("error: \(error)")
        return Exit.usage
    }
}

func runDiff(_ arguments: [String]) -> Int32 {
    guard let parsed = parseArguments(ArgumentSpec(valueOptions: ["out"], maxPositionals: 2), arguments, command: "diff") else { return Exit.usage }
    guard parsed.positionals.count == 2 else { return usageFailure(UsageError("diff needs two run folders: evalkit diff RUN_A RUN_B"), command: "diff") }
    do {
        let text = RunDiff.markdown(try RunFolder.load(parsed.positionals[0]), try RunFolder.load(parsed.positionals[1]))
        if let out = parsed.options["out"] { return writeFile(text, to: out) ? Exit.ok : Exit.usage }
        print(text, terminator: "")
        return Exit.ok
    } catch {
        printError("error: \(error)")
        return Exit.usage
    }
}

func runReport(_ arguments: [String]) -> Int32 {
    guard let parsed = parseArguments(ArgumentSpec(), arguments, command: "report") else { return Exit.usage }
    guard let runDirectory = parsed.positionals.first else { return usageFailure(UsageError("report needs a run folder"), command: "report") }
    do {
        try RunFolderCommands.rerender(runDirectory: runDirectory)
        print("Wrote \(runDirectory)/report.md, summary.csv and charts from its results.")
        return Exit.ok
    } catch {
        printError("error: \(error)")
        return Exit.usage
    }
}

func runAudit(_ arguments: [String]) -> Int32 {
    guard let parsed = parseArguments(ArgumentSpec(), arguments, command: "audit") else { return Exit.usage }
    guard let prepared = prepare(parsed.positionals.first ?? "evalkit.json") else { return Exit.usage }
    let e = prepared.experiment
    let audit = DataAuditor.audit(prepared.dataset, labels: e.task.labels, minConfidence: e.audit.minConfidence, maxCharacters: e.audit.maxCharacters)
    print(AuditReport.markdown(audit, experiment: e.name, labels: e.task.labels), terminator: "")
    return Exit.ok
}

func runExport(_ arguments: [String]) -> Int32 {
    let spec = ArgumentSpec(valueOptions: ["prompt", "out"], flags: ["dedupe", "drop-conflicts", "drop-leaked"])
    guard let parsed = parseArguments(spec, arguments, command: "export-finetune") else { return Exit.usage }
    guard let promptID = parsed.options["prompt"] else { return usageFailure(UsageError("export-finetune needs --prompt ID"), command: "export-finetune") }
    guard let prepared = prepare(parsed.positionals.first ?? "evalkit.json") else { return Exit.usage }
    let fixes = AuditFixes(dropDuplicates: parsed.flags.contains("dedupe"), dropConflicts: parsed.flags.contains("drop-conflicts"),
                           dropLeaked: parsed.flags.contains("drop-leaked"))
    let directory = parsed.options["out"] ?? "reports/\(prepared.experiment.name)/finetune-\(promptID)"
    do {
        let summary = try FineTuneExport.write(prepared, promptID: promptID, fixes: fixes, directory: directory)
        print("Wrote \(summary.examples) training examples (\(summary.removed) removed by the fixes) to\n  \(summary.chatFile)\n  \(summary.promptCompletionFile)")
        if summary.validationExamples > 0 {
            print("and \(summary.validationExamples) validation examples beside them (*-validation.jsonl), for evaluation during training.")
        }
        print("About \(Format.count(Double(summary.tokens))) tokens per epoch (estimated at ≈ 4 characters a token).")
        for cost in summary.costs {
            print("Estimated training cost for \(cost.model): \(JSON.formatNumber(cost.epochs)) epochs → \(Format.usd(cost.usd)) (its fine_tuning price).")
        }
        if summary.costs.isEmpty { print("No model has a per-token fine_tuning price, so no training cost is estimated.") }
        return Exit.ok
    } catch {
        printError("error: \(error)")
        return Exit.usage
    }
}

func runVerify(_ arguments: [String]) -> Int32 {
    guard let parsed = parseArguments(ArgumentSpec(), arguments, command: "verify") else { return Exit.usage }
    guard let directory = parsed.positionals.first else {
        return usageFailure(UsageError("verify needs the run folder: evalkit verify RUN_DIR"), command: "verify")
    }
    do {
        let mismatches = try RunVerifier.verify(runDirectory: directory)
        if mismatches.isEmpty {
            print("\(directory): summary.csv, analysis.json and report.md match their recomputation from results.jsonl, config.json and run.json.")
            return Exit.ok
        }
        printError("\(directory): \(mismatches.count) difference(s) from the recomputation:")
        for m in mismatches { printError("  - \(m)") }
        return Exit.checkFailed
    } catch {
        printError("error: \(error)")
        return Exit.usage
    }
}

/// Parses a command's arguments, printing the usage error (and returning nil) when they are wrong.
func parseArguments(_ spec: ArgumentSpec, _ arguments: [String], command: String) -> ParsedArguments? {
    do { return try spec.parse(arguments) } catch {
        _ = usageFailure(error, command: command)
        return nil
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
    case "verify": return runVerify(rest)
    case "audit": return runAudit(rest)
    case "export-finetune": return runExport(rest)
    case "check": return await runCheck(rest)
    case "baseline": return runBaseline(rest)
    case "diff": return runDiff(rest)
    case "report": return runReport(rest)
    default:
        var message = "error: unknown command \"\(command)\""
        if let guess = Text.suggestion(for: command, among: Array(commandHelp.keys)) { message += " (did you mean \"\(guess)\"?)" }
        printError(message + "\nRun 'evalkit --help' for the commands.")
        return Exit.usage
    }
}

exit(await main())
