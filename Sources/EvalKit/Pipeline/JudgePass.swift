import Foundation

/// The LLM judge's pass, after the candidates have answered: the judge model grades every answer (and
/// every human answer of the calibration slice) with its rubric prompt, through the same scheduler as
/// any request — cached, retried, paced and priced — and each grade is appended to judgements.jsonl.
enum JudgePass {
    /// One answer to grade.
    struct Item: Sendable {
        var candidate: String
        var exampleID: String
        var repeatIndex: Int
        var input: String
        var reference: String
        var answer: String
        var humanGrade: String?
    }

    static func run(_ plan: RunPlan, results: [ResultColumn]) async throws(CompareError) -> [Judgement] {
        let experiment = plan.experiment
        guard let judge = experiment.task.judge, let template = plan.prepared.judgePrompt,
              let model = experiment.model(judge.modelID) else { return [] }
        let previous: [Judgement]
        do { previous = try JudgementsFile.read(directory: plan.directory) } catch {
            throw .output(.cannotWrite(path: plan.directory + "/" + JudgementsFile.name, reason: error.description))
        }
        let stop = plan.options.stop
        guard !stop.isStopped else { return previous }
        let done = Set(previous.map { JudgeGrades.key($0.candidate, $0.exampleID, $0.repeatIndex) })
        let items = self.items(plan, results: results).filter { !done.contains(JudgeGrades.key($0.candidate, $0.exampleID, $0.repeatIndex)) }
        guard !items.isEmpty else { return previous }

        let provider = try RunExecution.makeProvider(model, plan: plan).provider
        var workload = RunExecution.workload(model, provider: provider, jobs: items.indices.map { RunJob(candidateIndex: 0, exampleIndex: $0) },
                                             plan: plan, cache: ResponseCache(directory: plan.cacheDirectory, mode: plan.options.cacheMode))
        // A judge's batch job is recorded under a key of its own (its model may also answer as a candidate, in
        // a job of its own), so that a resumed run polls it instead of paying for the grading twice.
        let jobKey = batchJobKey(model.id)
        if plan.options.resume {
            let pending: [String: PendingBatchJob]
            do { pending = try BatchJobsFile.pending(directory: plan.directory) } catch {
                throw .output(.cannotRead(path: plan.directory + "/" + BatchJobsFile.name, reason: error.description))
            }
            workload.pendingBatch = pending[jobKey].map { PendingBatchJob(modelID: model.id, jobID: $0.jobID, submittedAt: $0.submittedAt, requests: $0.requests) }
        }
        let concurrency = workload.concurrency
        let parser = LabelParser(labels: judge.scale.grades, parsing: judge.scale.parsing)
        let collector = JudgementCollector(directory: plan.directory)
        let prompts = items.map { RenderedPrompt(system: nil, user: template.render(["input": $0.input, "reference": $0.reference, "answer": $0.answer])) }
        await Scheduler.run([workload], stop: stop, sequential: true, request: { job in
            let item = items[job.exampleIndex]
            return ModelRequest(prompt: prompts[job.exampleIndex], input: item.answer, id: "judge/\(item.candidate)/\(item.exampleID)/\(item.repeatIndex)")
        }, onBatch: { job, collected in
            var keyed = job
            keyed.modelID = jobKey
            do throws(ReportError) { try BatchJobsFile.append(keyed, collected: collected, directory: plan.directory) } catch {
                stop.stop("\(BatchJobsFile.name) cannot be written (\(error)); the run stopped so that no batch job is paid for twice")
            }
        }, onCompletions: { completions in
            await collector.add(completions.map { completion in
                let item = items[completion.job.exampleIndex]
                var judgement = Judgement(candidate: item.candidate, exampleID: item.exampleID, repeatIndex: item.repeatIndex, grade: nil,
                                          humanGrade: item.humanGrade, output: nil, error: nil, latencyMs: completion.latencyMs,
                                          attempts: completion.attempts, cached: completion.cached, costUSD: nil)
                switch completion.outcome {
                case .success(let response):
                    judgement.output = response.text
                    judgement.grade = parser.parse(response.text)
                    let usage = RequestUsage(inputTokens: response.inputTokens ?? Text.estimatedTokens(prompts[completion.job.exampleIndex].completionText),
                                             cachedInputTokens: response.cachedInputTokens,
                                             outputTokens: response.outputTokens ?? Text.estimatedTokens(response.text),
                                             latencyMs: completion.latencyMs, concurrency: concurrency, batch: model.batch != nil)
                    judgement.costUSD = model.pricing?.model.requestCost(usage)
                case .failure(let error): judgement.error = error.description
                }
                return judgement
            })
        })
        if let error = await collector.writeError { throw .output(error) }
        return previous + (await collector.judgements)
    }

    /// The key batch-jobs.jsonl records a judge model's grading job under.
    static func batchJobKey(_ modelID: String) -> String { "judge/" + modelID }

    /// Every answered result of every candidate, then every human answer of the data (split-qualified ids).
    static func items(_ plan: RunPlan, results: [ResultColumn]) -> [Item] {
        let examples = Dictionary(plan.testExamples.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var items: [Item] = []
        for column in results {
            for r in column {
                guard let output = r.output, let example = examples[r.exampleID] else { continue }
                items.append(Item(candidate: r.candidate, exampleID: r.exampleID, repeatIndex: r.repeatIndex, input: example.input,
                                  reference: example.target, answer: output))
            }
        }
        for (split, examples) in plan.prepared.dataset.splits {
            for e in examples {
                guard let answer = e.humanAnswer, let grade = e.humanGrade else { continue }
                items.append(Item(candidate: Judgement.human, exampleID: split + ":" + e.id, repeatIndex: 0, input: e.input, reference: e.target,
                                  answer: answer, humanGrade: grade))
            }
        }
        return items
    }
}

/// Keeps the judge's grades as they arrive and appends each batch to judgements.jsonl.
actor JudgementCollector {
    let directory: String
    private(set) var judgements: [Judgement] = []
    private(set) var writeError: ReportError?

    init(directory: String) { self.directory = directory }

    func add(_ batch: [Judgement]) {
        judgements += batch
        guard writeError == nil else { return }
        do { try JudgementsFile.append(batch, directory: directory) } catch { writeError = error }
    }
}
