import EvalKit
import Foundation

/// `evalkit compare`: run the experiment and write a run folder.
struct CompareCommand: Command {
    let name = "compare"
    let summary = "run the experiment (default evalkit.json) and write a run folder"
    let positionals = "[CONFIG]"
    let options = [
        CommandOption("out", "DIR", "write the run into DIR (default: reports/<experiment>/<run-id>/)"),
        CommandOption("limit", "N", "evaluate only the first N test examples"),
        CommandOption("concurrency", "N", "requests in flight per model (overrides the experiment)"),
        CommandOption("only", "M1,M2", "evaluate only the candidates of these models (e.g. --only builtin-lr offline)"),
        CommandOption("dry-run", nil, "render every request and print the request count, estimated tokens and cost per candidate; send nothing"),
        CommandOption("no-cache", nil, "neither read nor write the response cache (.evalkit/cache/)"),
        CommandOption("refresh", nil, "ask every model again and overwrite the cache"),
        CommandOption("no-probe", nil, "skip the capacity probe (a dedicated cost then uses throughput estimated from the accuracy pass)"),
        CommandOption("resume", "RUN_DIR", "finish an interrupted run: its finished requests are not sent again"),
        CommandOption("shard", "K/N", "evaluate only part K of N (0 ≤ K < N) of the test examples; auto/N reads K from JOB_COMPLETION_INDEX; join the parts with evalkit merge"),
    ]
    let otherForms = ["--resume RUN_DIR"]
    let details = """
    Runs every candidate (model × prompt) of the experiment CONFIG (default: evalkit.json in the
    current folder) on the test split and writes report.md, summary.csv, results.jsonl and run.json.

    Ctrl-C (SIGINT) or SIGTERM stops taking new requests, lets those in flight finish, writes
    the reports of what is done and prints the resume command; a second Ctrl-C aborts at once.
    Failed requests are retried (429, 5xx, timeouts, dropped connections) with exponential
    backoff and full jitter, honouring Retry-After; see "retry" in the README.

    With "budget_usd" in the experiment's "run" section, a run whose estimate exceeds the
    budget does not start, and a running one stops cleanly (keeping its results) when the
    measured spend reaches it.

    Exit codes: 0 ok, 2 bad config or data (or over budget), 3 the run failed: no candidate
    produced a result, more requests failed than run.max_error_rate allows, or it was interrupted.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        var options = CompareOptions()
        let onlyModels = parsed.options["only"].map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        do throws(UsageError) {
            options.outDirectory = parsed.options["out"]
            options.limit = try parsed.positiveInt("limit")
            options.concurrency = try parsed.positiveInt("concurrency")
            if parsed.flags.contains("no-cache") && parsed.flags.contains("refresh") { throw UsageError("--no-cache and --refresh exclude each other") }
            options.cacheMode = parsed.flags.contains("no-cache") ? .off : (parsed.flags.contains("refresh") ? .refresh : .use)
            options.probeCapacity = !parsed.flags.contains("no-probe")
            if parsed.options["resume"] != nil && (parsed.options["out"] != nil || !parsed.positionals.isEmpty || parsed.options["shard"] != nil) {
                throw UsageError("--resume takes the run folder only (a shard's run keeps its shard): evalkit compare --resume RUN_DIR")
            }
            if let text = parsed.options["shard"] {
                do { options.shard = try Shard.parse(text, environment: ProcessInfo.processInfo.environment) } catch { throw UsageError(error.description) }
                if parsed.flags.contains("dry-run") { throw UsageError("--dry-run estimates the whole run; leave out --shard") }
            }
        } catch {
            return usageFailure(error, command: name)
        }
        options.reproduceCommand = reproduceCommand(name, Array(CommandLine.arguments.dropFirst(2)), dropping: ["out"])
        options.wholeRunCommand = reproduceCommand(name, Array(CommandLine.arguments.dropFirst(2)), dropping: ["out", "shard"])
        var prepared: PreparedExperiment
        if let directory = parsed.options["resume"] {
            do {
                let (experiment, manifest) = try Preparation.resuming(directory: directory)
                prepared = experiment
                options.outDirectory = directory
                options.resuming = manifest
                options.reproduceCommand = manifest.command
            } catch {
                printError("error: \(error)")
                return Exit.usage
            }
        } else {
            // With --only, only the models kept need their files (another may not be trained yet).
            guard let loaded = prepare(parsed.positionals.first ?? "evalkit.json", checkingModels: onlyModels == nil) else { return Exit.usage }
            prepared = loaded
        }
        if let onlyModels {
            do throws(UsageError) { prepared = try prepared.restricted(toModels: onlyModels) } catch { return usageFailure(error, command: name) }
            options.onlyModels = onlyModels
            let missing = Preparation.modelFileProblems(prepared.experiment)
            if !missing.isEmpty {
                printError("error: \(prepared.experiment.configPath): " + missing.joined(separator: "\n  - "))
                return Exit.usage
            }
        }
        if parsed.flags.contains("dry-run") { return await printEstimate(prepared, limit: options.limit) }
        let progress = ProgressLine()
        let interrupts = watchInterrupts(options.stop)
        defer { interrupts.forEach { $0.cancel() } }
        do {
            let outcome = try await CompareRun.run(prepared, options: options, progress: progress.update)
            for failure in outcome.summary.modelFailures { printError("warning: model \(failure.model) was not used: \(failure.reason)") }
            print("Run folder: \(outcome.runDirectory)")
            for m in outcome.summary.metrics {
                print("  \(m.candidate): accuracy \(Format.percent(m.accuracy)), \(m.errors)/\(m.requests) errors")
            }
            if outcome.incomplete, let reason = options.stop.stopReason {
                printError("stopped: \(reason). Reports cover what was done. Resume with:\n  evalkit compare --resume \(shellQuoted(outcome.runDirectory))")
                if options.stop.wasInterrupted { return Exit.runFailed }
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

    func printEstimate(_ prepared: PreparedExperiment, limit: Int?) async -> Int32 {
        let e = prepared.experiment
        let (estimate, examples) = await CompareRun.estimate(prepared, limit: limit)
        print("Dry run of \(e.name): \(estimate.requests) requests (\(examples) test examples × \(e.candidates.count) candidates × \(e.run.repeats) repeats); nothing sent.")
        print("Token counts are estimates (about 4 characters a token; no tokenizer is known).\n")
        print(Markdown.table(["candidate", "requests", "≈ input tokens", "output tokens (max)", "≈ cost", "how"], estimate.candidates.map {
            [$0.candidate, String($0.requests), String($0.estimatedInputTokens), String($0.maxOutputTokens),
             $0.estimatedCostUSD.map(Format.usd) ?? "–", $0.note]
        }, alignRight: [1, 2, 3, 4]))
        print("Estimated total: \(Format.usd(estimate.totalUSD)) for the candidates that could be estimated.")
        guard let budget = e.run.budgetUSD else { return Exit.ok }
        let over = estimate.exceeds(budget)
        print("Budget: \(Format.usd(budget)) — \(over ? "the run would NOT start (estimate exceeds it)" : "within budget").")
        return over ? Exit.usage : Exit.ok
    }
}

/// `evalkit validate`: every problem of the experiment, its data and its prompts.
struct ValidateCommand: Command {
    let name = "validate"
    let summary = "check the experiment, its data and its prompts without sending a request"
    let positionals = "[CONFIG]"
    let options: [CommandOption] = []
    let details = """
    Reads the experiment, loads its dataset and checks its prompt templates, reporting every
    problem at once with its JSON path or file and line: the config's own problems and, wherever
    its task and dataset sections can be read, those of its data and prompts. Sends no request.

    Exit codes: 0 valid, 2 problems found.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
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
}

/// `evalkit audit`: the data audit of step 4.
struct AuditCommand: Command {
    let name = "audit"
    let summary = "the data audit of step 4: duplicates, conflicts, leakage, balance, broken text"
    let positionals = "[CONFIG]"
    let options: [CommandOption] = []
    let details = """
    Audits the experiment's dataset (step 4 of the guidance) and prints the findings with counts,
    examples and remedies: exact and near duplicates (after normalising case, whitespace, URLs and
    mentions), the same text with conflicting labels, training text leaking into validation and
    test, label balance per split, empty, overly long and garbled (mojibake) text, low annotator
    confidence ("audit": {"min_confidence": 0.6}), and the training tokens and fine-tuning cost.

    Exit codes: 0 audited (findings are not failures), 2 bad config or data.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        // The audit reads data only: it runs before any model exists.
        guard let prepared = prepare(parsed.positionals.first ?? "evalkit.json", checkingModels: false) else { return Exit.usage }
        let e = prepared.experiment
        let audit = DataAuditor.audit(prepared.dataset, labels: e.task.labels, minConfidence: e.audit.minConfidence, maxCharacters: e.audit.maxCharacters)
        print(AuditReport.markdown(audit, experiment: e.name, labels: e.task.labels), terminator: "")
        return Exit.ok
    }
}

/// `evalkit export-finetune`: the training split as fine-tuning data.
struct ExportCommand: Command {
    let name = "export-finetune"
    let summary = "write the training split as fine-tuning data (OpenAI chat and prompt/completion)"
    let positionals = "[CONFIG]"
    let options = [
        CommandOption("prompt", "ID", "the prompt the examples are rendered with (required)"),
        CommandOption("out", "DIR", "where to write (default: reports/<experiment>/finetune-<ID>/)"),
        CommandOption("dedupe", nil, "keep one copy of exact and near duplicates"),
        CommandOption("drop-conflicts", nil, "leave out texts whose copies carry different labels"),
        CommandOption("drop-leaked", nil, "leave out training texts that are also in the test split"),
        CommandOption("labels-from", "RUN_DIR:CANDIDATE", "label the training split with that candidate's answers in that run (distilled labels)"),
        CommandOption("min-agreement", "X", "with --labels-from: keep examples whose repeats agree at least this often (0–1)"),
        CommandOption("min-probability", "P", "with --labels-from: keep examples whose answer's likelihood is at least P (0–1)"),
        CommandOption("train-examples", "N", "write N training examples: a label-stratified subset (the builtin model's train_examples)"),
        CommandOption("seed", "S", "with --train-examples: the subset's seed (default 7)"),
    ]
    let details = """
    Writes the training split rendered with prompt ID as DIR/openai-chat.jsonl (chat messages for
    OpenAI fine-tuning) and DIR/prompt-completion.jsonl (for Hugging Face SFT), after the audit
    fixes you switch on, with the validation split beside them (*-validation.jsonl), and prints the
    token count and the estimated training cost. scripts/finetune-lora trains a LoRA adapter on them.

    --labels-from RUN_DIR:CANDIDATE replaces the training targets with that candidate's answers in an earlier
    run over the training examples (matched by id: run the teacher with a config whose test split is the
    training file), the majority answer over its repeats; examples it did not answer are left out, and so are
    those under --min-agreement or --min-probability. DIR/teacher-labels.jsonl records each label beside the
    gold one, and the teacher's accuracy against gold is printed. The validation split keeps its gold labels.

    --train-examples N writes N of them, chosen as the builtin model's "train_examples" chooses (each label
    keeping its share, seeded by --seed), after the fixes and the teacher's labels: the training sets of a
    data-efficiency curve.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard let promptID = parsed.options["prompt"] else { return usageFailure(UsageError("export-finetune needs --prompt ID"), command: name) }
        // The training data comes before the model trained on it: its adapter and log need not exist yet.
        guard let prepared = prepare(parsed.positionals.first ?? "evalkit.json", checkingModels: false) else { return Exit.usage }
        let fixes = AuditFixes(dropDuplicates: parsed.flags.contains("dedupe"), dropConflicts: parsed.flags.contains("drop-conflicts"),
                               dropLeaked: parsed.flags.contains("drop-leaked"))
        let directory = parsed.options["out"] ?? "reports/\(prepared.experiment.name)/finetune-\(promptID)"
        var teacher: TeacherLabels? = nil
        var subset: (count: Int, seed: UInt64)? = nil
        do throws(UsageError) {
            func share(_ option: String) throws(UsageError) -> Double? {
                guard let raw = parsed.options[option] else { return nil }
                guard parsed.options["labels-from"] != nil else { throw UsageError("--\(option) goes with --labels-from") }
                guard let value = Double(raw), value >= 0, value <= 1 else { throw UsageError("--\(option) expects a number from 0 to 1, got \"\(raw)\"") }
                return value
            }
            let agreement = try share("min-agreement"), probability = try share("min-probability")
            if let raw = parsed.options["train-examples"] {
                guard let count = Int(raw), count > 0 else { throw UsageError("--train-examples expects a whole number above 0, got \"\(raw)\"") }
                let seedText = parsed.options["seed"] ?? "7"
                guard let seed = UInt64(seedText) else { throw UsageError("--seed expects a whole number from 0, got \"\(seedText)\"") }
                subset = (count, seed)
            } else if parsed.options["seed"] != nil {
                throw UsageError("--seed goes with --train-examples")
            }
            if let from = parsed.options["labels-from"] {
                do { teacher = try TeacherLabels.read(try TeacherLabels.Source(from, minAgreement: agreement, minProbability: probability)) } catch {
                    printError("error: \(error)")
                    return Exit.usage
                }
            }
        } catch { return usageFailure(error, command: name) }
        return exitCode {
            let summary = try FineTuneExport.write(prepared, promptID: promptID, fixes: fixes, directory: directory, teacher: teacher, subset: subset)
            print("Wrote \(summary.examples) training examples (\(summary.removed) removed by the fixes) to\n  \(summary.chatFile)\n  \(summary.promptCompletionFile)")
            if let t = summary.teacher, let source = teacher?.source, let file = summary.teacherFile {
                print("Labelled by \(source.candidate) in \(source.runDirectory): \(t.examples.count) kept, \(t.unanswered) without an answer from it, "
                      + "\(t.notConfident) under the confidence asked for; each label beside the gold one in \(file).")
                if !t.examples.isEmpty {
                    print("Its labels agree with the gold labels on \(t.agreeingWithGold) of \(t.examples.count) (\(Format.percent(Double(t.agreeingWithGold) / Double(t.examples.count)))).")
                }
            }
            if summary.validationExamples > 0 {
                print("and \(summary.validationExamples) validation examples beside them (*-validation.jsonl), for evaluation during training.")
            }
            print("About \(Format.count(Double(summary.tokens))) tokens per epoch (estimated at ≈ 4 characters a token).")
            for cost in summary.costs {
                print("Estimated training cost for \(cost.model): \(JSON.formatNumber(cost.epochs)) epochs → \(Format.usd(cost.usd)) (its fine_tuning price).")
            }
            if summary.costs.isEmpty { print("No model has a per-token fine_tuning price, so no training cost is estimated.") }
            return Exit.ok
        }
    }
}
