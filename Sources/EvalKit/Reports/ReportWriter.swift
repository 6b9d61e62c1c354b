import Foundation

/// Writes report.md, summary.csv and run.json for a finished run.
public enum ReportWriter {
    /// Column names of summary.csv, in order; stable across runs.
    public static let summaryColumns = [
        "candidate", "model", "prompt", "role", "requests", "answered", "errors", "correct", "invalid",
        "accuracy", "macro_f1", "invalid_rate", "error_rate", "latency_p50_ms", "latency_p95_ms",
        "mean_input_tokens", "mean_output_tokens", "tokens_estimated", "cost_per_1k_usd", "pricing",
    ]

    /// Writes the three summary files into `directory`.
    public static func write(_ summary: RunSummary, to directory: String) throws(ReportError) {
        try save(markdown(summary), to: directory + "/report.md")
        try save(summaryCSV(summary), to: directory + "/summary.csv")
        try save(manifest(summary).encoded() + "\n", to: directory + "/run.json")
    }

    static func save(_ text: String, to path: String) throws(ReportError) {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    // MARK: summary.csv

    public static func summaryCSV(_ summary: RunSummary) -> String {
        var out = CSV.row(summaryColumns)
        for m in summary.metrics {
            let model = summary.experiment.model(m.model)
            func number(_ v: Double?, _ digits: Int) -> String { v.map { Format.fixed($0, digits: digits) } ?? "" }
            out += CSV.row([
                m.candidate, m.model, m.prompt ?? "", m.role.rawValue, String(m.requests), String(m.answered), String(m.errors),
                String(m.correct), String(m.invalid), number(m.accuracy, 4), number(m.macroF1, 4), number(m.invalidRate, 4),
                Format.fixed(m.errorRate, digits: 4), number(m.latencyP50Ms, 3), number(m.latencyP95Ms, 3),
                number(m.meanInputTokens, 2), number(m.meanOutputTokens, 2), m.tokensEstimated ? "true" : "false",
                number(m.costPer1kUSD, 6), pricingKind(model?.pricing),
            ])
        }
        return out
    }

    static func pricingKind(_ pricing: Pricing?) -> String {
        switch pricing?.basis {
        case .perToken?: return "per_token"
        case .perHour?: return "per_hour"
        case nil: return "none"
        }
    }

    // MARK: run.json

    public static func manifest(_ summary: RunSummary) -> JSON {
        let e = summary.experiment
        let models: [JSON] = e.models.map { model in
            var members: [(String, JSON)] = [("id", .string(model.id)), ("provider", .string(model.providerName)), ("role", .string(model.role.rawValue))]
            switch model.provider {
            case .openAI(let s):
                members += [("base_url", .string(s.baseURL)), ("model", .string(s.model)), ("endpoint", .string(s.endpoint.rawValue))]
                // Only the variable's name: the key itself is never written.
                if let env = s.apiKeyEnv { members.append(("api_key_env", .string(env))) }
            case .anthropic(let s):
                members += [("base_url", .string(s.baseURL)), ("model", .string(s.model)), ("api_key_env", .string(s.apiKeyEnv))]
            case .command(let s):
                members.append(("argv", .array(s.argv.map(JSON.string))))
            case .builtin:
                break
            }
            members.append(("pricing", .string(CostModel.describe(model.pricing, concurrency: model.concurrency))))
            return .object(members)
        }
        let requests = summary.metrics.reduce(0) { $0 + $1.requests }
        let answered = summary.metrics.reduce(0) { $0 + $1.answered }
        return .object([
            ("evalkit_version", .string(summary.evalkitVersion)),
            ("experiment", .string(e.name)),
            ("run_id", .string(summary.runID)),
            ("config_path", .string(e.configPath)),
            ("config_sha256", .string(e.configHash)),
            ("started_at", .string(summary.startedAt.iso8601)),
            ("finished_at", .string(summary.finishedAt.iso8601)),
            ("duration_seconds", .number((summary.durationSeconds * 1000).rounded() / 1000)),
            ("command", .string(summary.reproduceCommand)),
            ("counts", .object([
                ("train", .number(Double(summary.splits.first { $0.name == "train" }?.count ?? 0))),
                ("validation", .number(Double(summary.splits.first { $0.name == "validation" }?.count ?? 0))),
                ("test", .number(Double(summary.splits.first { $0.name == "test" }?.count ?? 0))),
                ("test_evaluated", .number(Double(summary.evaluatedExamples))),
                ("candidates", .number(Double(summary.metrics.count))),
                ("requests", .number(Double(requests))),
                ("answered", .number(Double(answered))),
                ("errors", .number(Double(requests - answered))),
            ])),
            ("candidates", .array(summary.metrics.map { .string($0.candidate) })),
            ("models", .array(models)),
        ])
    }

    // MARK: report.md

    public static func markdown(_ summary: RunSummary) -> String {
        let e = summary.experiment
        var md = "# \(Markdown.cell(e.name)): evaluation report\n\n"
        if let description = e.description { md += Markdown.cell(description) + "\n\n" }
        // Times and durations live in this one block so that re-runs differ only here.
        md += "<!-- run-header: times and durations; everything below depends only on inputs and answers -->\n"
        md += "Run `\(summary.runID)`, started \(summary.startedAt.iso8601), took \(Format.fixed(summary.durationSeconds, digits: 1)) s.\n"
        md += "<!-- /run-header -->\n\n"
        md += "evalkit \(summary.evalkitVersion) · config `\(Markdown.cell(e.configPath))` · sha256 `\(e.configHash.prefix(16))`\n\n"

        md += "## Candidates\n\n"
        md += "Evaluated on \(summary.evaluatedExamples) test examples"
        if let total = summary.splits.first(where: { $0.name == "test" })?.count, total != summary.evaluatedExamples {
            md += " (the first \(summary.evaluatedExamples) of \(total))"
        }
        md += ". Accuracy counts answered requests; failed calls are counted under errors. Latency is wall-clock time per request as measured by evalkit.\n\n"
        let rows = summary.metrics.map { m -> [String] in
            [m.candidate, m.role.rawValue, Format.percent(m.accuracy), Format.fixed(m.macroF1, digits: 3), Format.percent(m.invalidRate),
             "\(m.errors) / \(m.requests)", Format.fixed(m.latencyP50Ms, digits: 1), Format.fixed(m.latencyP95Ms, digits: 1),
             tokens(m.meanInputTokens, m.tokensEstimated), tokens(m.meanOutputTokens, m.tokensEstimated), Format.usd(m.costPer1kUSD)]
        }
        md += Markdown.table(["candidate", "role", "accuracy", "macro-F1", "invalid", "errors", "p50 ms", "p95 ms",
                              "input tokens", "output tokens", "cost / 1k requests"], rows, alignRight: Set(2...10))
        if summary.metrics.contains(where: \.tokensEstimated) {
            md += "\n≈ marks token counts estimated at 4 characters per token, where the server reported none.\n"
        }
        let best = summary.metrics.filter { $0.accuracy != nil }.max { ($0.accuracy ?? 0) < ($1.accuracy ?? 0) }
        if let best {
            md += "\nHighest accuracy: **\(Markdown.cell(best.candidate))** at \(Format.percent(best.accuracy)) (\(best.correct) of \(best.answered)).\n"
        }

        if !summary.modelFailures.isEmpty || summary.metrics.contains(where: { $0.errors > 0 }) {
            md += "\n## Failures\n\n"
            for failure in summary.modelFailures {
                md += "- model **\(Markdown.cell(failure.model))** was not used: \(Markdown.cell(failure.reason))\n"
            }
            for m in summary.metrics where m.errors > 0 && !summary.modelFailures.contains(where: { $0.model == m.model }) {
                md += "- \(Markdown.cell(m.candidate)): \(m.errors) of \(m.requests) requests failed; first error: \(Markdown.cell(m.firstError ?? ""))\n"
            }
        }

        md += "\n## Dataset\n\n"
        if let citation = e.dataset.citation { md += Markdown.cell(citation) + "\n\n" }
        let labels = e.task.labels
        md += Markdown.table(["split", "examples"] + labels,
                             summary.splits.map { split in [split.name, String(split.count)] + split.labelCounts.map { String($0.count) } },
                             alignRight: Set(1...(labels.count + 1)))

        md += "\n## Models and pricing\n\n"
        md += Markdown.table(["model", "role", "provider", "price"], e.models.map { model in
            [model.id, model.role.rawValue, providerDescription(model), CostModel.describe(model.pricing, concurrency: model.concurrency)]
        })
        for t in summary.training {
            md += "\nBuiltin model **\(Markdown.cell(t.modelID))** trained on \(t.examples) examples in \(Format.fixed(t.seconds, digits: 2)) s"
            if let last = t.last {
                md += " (epoch \(last.epoch): training accuracy \(Format.percent(last.trainAccuracy))"
                if let v = last.validationAccuracy { md += ", validation accuracy \(Format.percent(v))" }
                md += ")"
            }
            md += ".\n"
        }

        md += "\n## Reproduce\n\n```\n\(summary.reproduceCommand)\n```\n"
        md += "\nPer-example results: `results.jsonl`; one row per candidate: `summary.csv`; manifest: `run.json`.\n"
        return md
    }

    static func tokens(_ value: Double?, _ estimated: Bool) -> String {
        guard let value else { return "–" }
        return (estimated ? "≈" : "") + Format.fixed(value, digits: 1)
    }

    static func providerDescription(_ model: ModelSpec) -> String {
        switch model.provider {
        case .openAI(let s): return "openai \(s.endpoint.rawValue), model \(s.model) at \(s.baseURL)"
        case .anthropic(let s): return "anthropic, model \(s.model) at \(s.baseURL)"
        case .command(let s): return "command: \(s.argv.joined(separator: " "))"
        case .builtin(let s): return "builtin logistic regression (2^\(s.hashBits) hashed n-gram features, \(s.epochs) epochs)"
        }
    }
}

/// Why a report file could not be written.
public enum ReportError: Error, CustomStringConvertible, Sendable {
    case cannotWrite(path: String, reason: String)
    case cannotCreateFolder(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case let .cannotCreateFolder(path, reason): return "cannot create the run folder \(path): \(reason)"
        }
    }
}
