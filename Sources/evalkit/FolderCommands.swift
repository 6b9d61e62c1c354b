import EvalKit
import Foundation

/// `evalkit check`: the CI regression gate.
struct CheckCommand: Command {
    let name = "check"
    let summary = "the CI regression gate: exit 1 when the run regressed against the baseline"
    let positionals = "RUN_DIR"
    let options = [
        CommandOption("baseline", "BASELINE", "a stored baseline folder (see evalkit baseline)"),
        CommandOption("against-ref", "GIT_REF[:CONFIG]", "evaluate the experiment as GIT_REF holds it, on this machine, as the baseline"),
        CommandOption("against-config", "CONFIG", "evaluate CONFIG on this machine as the baseline"),
        CommandOption("against-out", "DIR", "where that baseline run goes (default RUN_DIR-baseline)"),
        CommandOption("max-accuracy-drop", "X", "allowed accuracy drop, absolute (default \(JSON.formatNumber(CheckPolicy().maxAccuracyDrop)))"),
        CommandOption("max-latency-ratio", "R", "allowed latency ratio (default \(JSON.formatNumber(CheckPolicy().maxLatencyRatio)))"),
        CommandOption("max-cost-ratio", "R", "allowed cost ratio (default \(JSON.formatNumber(CheckPolicy().maxCostRatio)))"),
        CommandOption("alpha", "A", "significance level of the paired tests (default \(JSON.formatNumber(CheckPolicy().alpha)))"),
        CommandOption("junit", "FILE", "JUnit XML: a test case per candidate and gated metric"),
        CommandOption("markdown", "FILE", "a summary for a GitHub step summary or a pull-request comment"),
    ]
    let details = """
    Exactly one of --baseline, --against-ref and --against-config names the baseline. Compares each
    baseline candidate with its counterpart in RUN_DIR and fails (exit 1) when
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
    "max_cost_ratio", "alpha"}); flags override them.

    Exit codes: 0 no regression, 1 regression, 2 unreadable or mismatched run or baseline,
    3 the baseline's experiment could not be run.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        let sources = ["baseline", "against-config", "against-ref"].filter { parsed.options[$0] != nil }
        guard let runDirectory = parsed.positionals.first, sources.count == 1 else {
            let why = sources.count > 1 ? "--baseline, --against-config and --against-ref exclude each other" : "check needs a run folder and a baseline"
            return usageFailure(UsageError(why + ": evalkit check RUN_DIR --baseline BASELINE | --against-config CONFIG | --against-ref GIT_REF"),
                                command: name)
        }
        let current: RunFolder
        do { current = try RunFolder.load(runDirectory) } catch { printError("error: the run cannot be read: \(error)"); return Exit.usage }
        var policy = current.experiment.check
        for (flag, apply) in [("max-accuracy-drop", { (v: Double) in policy.maxAccuracyDrop = v }), ("max-latency-ratio", { policy.maxLatencyRatio = $0 }),
                              ("max-cost-ratio", { policy.maxCostRatio = $0 }), ("alpha", { policy.alpha = $0 })] as [(String, (Double) -> Void)] {
            guard let raw = parsed.options[flag] else { continue }
            guard let value = Double(raw), value >= 0, value.isFinite else { return usageFailure(UsageError("--\(flag) expects a number ≥ 0, got \"\(raw)\""), command: name) }
            apply(value)
        }
        guard policy.alpha > 0, policy.alpha < 1 else { return usageFailure(UsageError("--alpha expects a number between 0 and 1"), command: name) }
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
}

/// `evalkit baseline`: promote a run to the committed baseline.
struct BaselineCommand: Command {
    let name = "baseline"
    let summary = "promote a run to reports/<experiment>/baseline/ (small enough to commit)"
    let positionals = "RUN_DIR"
    let options = [CommandOption("to", "DIR", "write the baseline here instead")]
    let details = """
    Copies a run's summary, per-example results, manifest, config and report into
    reports/<experiment>/baseline/ (or DIR), replacing the previous baseline. Commit that folder
    and gate later runs on it with 'evalkit check RUN_DIR --baseline reports/<experiment>/baseline'.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard let runDirectory = runFolder(parsed) else { return Exit.usage }
        return exitCode {
            let target = try RunFolderCommands.promoteBaseline(runDirectory: runDirectory, destination: parsed.options["to"])
            print("Baseline written to \(target). Commit it, and gate later runs with: evalkit check RUN_DIR --baseline \(target)")
            return Exit.ok
        }
    }
}

/// `evalkit diff`: what changed between two runs.
struct DiffCommand: Command {
    let name = "diff"
    let summary = "Markdown of what changed between two runs"
    let positionals = "RUN_A RUN_B"
    let maxPositionals = 2
    let options = [CommandOption("out", "FILE", "write the Markdown to FILE instead of printing it")]
    let details = """
    Markdown of what changed from RUN_A to RUN_B: metrics with their change and a paired test,
    the examples that flipped right → wrong and wrong → right with both outputs, and the
    changes in the experiment file.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard parsed.positionals.count == 2 else { return usageFailure(UsageError("diff needs two run folders: evalkit diff RUN_A RUN_B"), command: name) }
        return exitCode {
            let text = RunDiff.markdown(try RunFolder.load(parsed.positionals[0]), try RunFolder.load(parsed.positionals[1]))
            if let out = parsed.options["out"] { return writeFile(text, to: out) ? Exit.ok : Exit.usage }
            print(text, terminator: "")
            return Exit.ok
        }
    }
}

/// `evalkit report`: a run's reports written again from its results.
struct ReportCommand: Command {
    let name = "report"
    let summary = "write a run's report.md, summary.csv and charts again from its results"
    let positionals = "RUN_DIR"
    let options: [CommandOption] = []
    let details = """
    Writes RUN_DIR's report.md, summary.csv and charts again from its results.jsonl, config.json
    and run.json, sending nothing: edit the "decision" section of RUN_DIR/config.json to see the
    same answers judged under another policy. The same inputs give the same bytes.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard let runDirectory = runFolder(parsed) else { return Exit.usage }
        return exitCode {
            try RunFolderCommands.rerender(runDirectory: runDirectory)
            print("Wrote \(runDirectory)/report.md, summary.csv and charts from its results.")
            return Exit.ok
        }
    }
}

/// `evalkit verify`: every figure of a run recomputed from its results.
struct VerifyCommand: Command {
    let name = "verify"
    let summary = "recompute every figure of a run's summary.csv from its results and config"
    let positionals = "RUN_DIR"
    let options: [CommandOption] = []
    let details = """
    Recomputes every figure from RUN_DIR/results.jsonl, the experiment as run
    (RUN_DIR/config.json) and the measured training times in RUN_DIR/run.json, and lists what
    differs: each cell of summary.csv (and duplicated, missing or unexpected rows), each value of
    analysis.json by JSON path, and the first line of report.md below its header that differs
    from a fresh rendering.

    Exit codes: 0 everything matches, 1 something differs, 2 the run folder cannot be read.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard let directory = runFolder(parsed) else { return Exit.usage }
        return exitCode {
            let mismatches = try RunVerifier.verify(runDirectory: directory)
            if mismatches.isEmpty {
                print("\(directory): summary.csv, analysis.json and report.md match their recomputation from results.jsonl, config.json and run.json.")
                return Exit.ok
            }
            printError("\(directory): \(mismatches.count) difference(s) from the recomputation:")
            for m in mismatches { printError("  - \(m)") }
            return Exit.checkFailed
        }
    }
}

/// `evalkit merge`: join the run folders of `compare --shard K/N` into one.
struct MergeCommand: Command {
    let name = "merge"
    let summary = "join the run folders of compare --shard K/N into one run folder"
    let positionals = "SHARD_DIR..."
    var maxPositionals: Int { Int.max }
    let options = [
        CommandOption("out", "DIR", "write the merged run folder here (required)"),
        CommandOption("allow-partial", nil, "merge even when shards or examples are missing or repeated (the report says what is missing)"),
    ]
    let details = """
    Checks that every SHARD_DIR is a shard of the same evaluation (the same experiment fingerprint:
    config, data files, prompts, model files, --limit, --only and evalkit version, and the same shard
    count), finds missing shards, missing examples and results given twice, and writes DIR: the
    results of every shard, config.json, run.json, and report.md, summary.csv, analysis.json and the
    charts computed again from the per-example results — below the run header, the same bytes a single
    process would write for the same answers. Training times, the capacity probe and the environment
    come from shard 0. The test split must be readable where the merge runs (it says which examples
    to expect).

    Exit codes: 0 merged (with --allow-partial, also when something was missing), 1 shards or
    examples missing or repeated (nothing written), 2 folders that are not shards of one evaluation.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard !parsed.positionals.isEmpty, let out = parsed.options["out"] else {
            return usageFailure(UsageError("merge needs the shard folders and --out: evalkit merge SHARD_DIR... --out DIR"), command: name)
        }
        let allowPartial = parsed.flags.contains("allow-partial")
        let findings: ShardMerge.Findings
        do { findings = try ShardMerge.merge(parsed.positionals, into: out, allowPartial: allowPartial) } catch {
            printError("error: \(error)")
            return Exit.usage
        }
        for line in findings.lines { printError((allowPartial ? "warning: " : "error: ") + line) }
        guard findings.isComplete || allowPartial else {
            printError("nothing written; merge what there is with --allow-partial")
            return Exit.checkFailed
        }
        print("Merged \(parsed.positionals.count) shard folder(s), \(findings.keptResults) results: \(out)")
        return Exit.ok
    }
}

/// `evalkit view`: a run folder's report.html on a local address, for people who prefer a link.
struct ViewCommand: Command {
    let name = "view"
    let summary = "serve a run folder's report.html on 127.0.0.1 until Ctrl-C"
    let positionals = "RUN_DIR"
    let options: [CommandOption] = [CommandOption("port", "N", "the port to listen on (default: a free one)")]
    let details = """
    Serves RUN_DIR's files, read-only, on 127.0.0.1 (never on other interfaces) and prints the address
    of its report.html; Ctrl-C stops it. report.html also opens straight from disk: this is for
    browsers and setups that prefer an http:// link.
    """

    func run(_ parsed: ParsedArguments) async -> Int32 {
        guard let runDirectory = runFolder(parsed) else { return Exit.usage }
        let port: Int
        do throws(UsageError) {
            let chosen = try parsed.positiveInt("port") ?? 0
            guard chosen <= 65535 else { throw UsageError("--port expects a port from 1 to 65535, got \(chosen)") }
            port = chosen
        } catch { return usageFailure(error, command: name) }
        let server: RunFolderServer
        do { server = try RunFolderServer(directory: runDirectory, port: port) } catch {
            printError("error: \(error)")
            return Exit.usage
        }
        server.start()
        FileHandle.standardOutput.write(Data("Serving \(runDirectory) at http://127.0.0.1:\(server.port)/\(HTMLReport.fileName) (Ctrl-C stops)\n".utf8))
        // Ctrl-C (or a TERM) ends the wait; the listening socket is closed before exiting.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let (stops, stop) = AsyncStream<Int32>.makeStream()
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler { stop.yield(number) }
            source.resume()
            return source
        }
        for await _ in stops { break }
        sources.forEach { $0.cancel() }
        server.stop()
        print("Stopped.")
        return Exit.ok
    }
}
