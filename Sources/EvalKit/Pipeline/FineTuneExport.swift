import Foundation

/// `evalkit export-finetune`: the training split, after the audit fixes the user switched on,
/// rendered with one prompt variant as fine-tuning data.
public enum FineTuneExport {
    /// What was written.
    public struct Summary: Sendable {
        public var examples: Int
        public var removed: Int
        /// Validation examples written beside the training split (0 when the dataset has none).
        public var validationExamples: Int
        public var chatFile: String
        public var promptCompletionFile: String
        /// Tokens of one epoch over the chat file, estimated at about 4 characters a token.
        public var tokens: Int
        /// Estimated training cost per fine-tuned model with token pricing: (model, epochs, USD).
        public var costs: [(model: String, epochs: Double, usd: Double)]
        /// With teacher labels: what relabelling kept and left out, and the file recording each label.
        public var teacher: TeacherLabels.Relabelled? = nil
        public var teacherFile: String? = nil
    }

    public enum ExportError: Error, CustomStringConvertible, Sendable {
        case unknownPrompt(String, known: [String])
        case cannotWrite(String)
        case teacher(TeacherLabelsError)
        public var description: String {
            switch self {
            case let .unknownPrompt(id, known):
                var text = "no prompt \"\(id)\"; the experiment's prompts are " + known.joined(separator: ", ")
                if let guess = Text.suggestion(for: id, among: known) { text += " (did you mean \"\(guess)\"?)" }
                return text
            case .cannotWrite(let why): return why
            case .teacher(let error): return error.description
            }
        }
    }

    /// Writes `openai-chat.jsonl` (chat messages, for OpenAI fine-tuning) and `prompt-completion.jsonl`
    /// (for Hugging Face SFT) into `directory`, and the validation split beside them as
    /// `openai-chat-validation.jsonl` and `prompt-completion-validation.jsonl` for evaluation during training.
    /// With `teacher`, the training targets are the teacher's answers (distilled labels; the examples it did
    /// not answer confidently are left out) and `teacher-labels.jsonl` records each one beside its gold target;
    /// the validation split keeps its gold targets, so training is judged against the truth.
    /// With `subset`, only that many training examples are written: the label-stratified subset (by the
    /// targets written, the teacher's where it labels) that the builtin model's `train_examples` takes.
    public static func write(_ prepared: PreparedExperiment, promptID: String, fixes: AuditFixes, directory: String,
                             teacher: TeacherLabels? = nil, subset: (count: Int, seed: UInt64)? = nil) throws(ExportError) -> Summary {
        let e = prepared.experiment
        guard let builder = prepared.builders[promptID], let spec = e.prompt(promptID) else {
            throw .unknownPrompt(promptID, known: e.prompts.map(\.id))
        }
        let fixed = DataAuditor.fixedTraining(prepared.dataset, fixes: fixes)
        var train = fixed
        var relabelled: TeacherLabels.Relabelled? = nil
        var teacherLines = ""
        if let teacher {
            let result = teacher.relabel(fixed)
            guard result.unanswered < fixed.count else {
                throw .teacher(.noneAnswered(run: teacher.source.runDirectory, candidate: teacher.source.candidate))
            }
            relabelled = result
            train = result.examples
        }
        let gold = Dictionary(fixed.map { ($0.id, $0.target) }, uniquingKeysWith: { a, _ in a })
        if let subset {
            train = Dataset.stratifiedSubset(train, count: subset.count, seed: subset.seed)
            // The teacher's agreement with gold is stated for the examples written.
            relabelled?.examples = train
            relabelled?.agreeingWithGold = train.filter { gold[$0.id] == $0.target }.count
        }
        if let teacher {
            for example in train {
                guard let label = teacher.labels[example.id] else { continue }
                teacherLines += JSON.object([("id", .string(example.id)), ("teacher", .string(label.answer)), ("gold", gold[example.id].map(JSON.string) ?? .null),
                                             ("agreeing_repeats", .number(Double(label.agreeing))), ("answered_repeats", .number(Double(label.answered))),
                                             ("probability", label.probability.map(JSON.number) ?? .null)]).encoded() + "\n"
            }
        }
        // Dynamic prompts pick each example's neighbours from the (fixed) training split, never itself.
        var similar: SimilarityIndex? = nil
        if case .similar = spec.examples { similar = SimilarityIndex.tfidf(train) }
        let rendered = render(train, builder: builder, spec: spec, similar: similar, labels: e.task.labels)
        let validation = render(prepared.dataset.validation, builder: builder, spec: spec, similar: similar, labels: e.task.labels)
        let chatFile = directory + "/openai-chat.jsonl", completionFile = directory + "/prompt-completion.jsonl"
        var files = [(chatFile, rendered.chat), (completionFile, rendered.completion)]
        if !prepared.dataset.validation.isEmpty {
            files += [(directory + "/openai-chat-validation.jsonl", validation.chat),
                      (directory + "/prompt-completion-validation.jsonl", validation.completion)]
        }
        let teacherFile = teacher == nil ? nil : directory + "/teacher-labels.jsonl"
        if let teacherFile { files.append((teacherFile, teacherLines)) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (path, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) }
        } catch { throw .cannotWrite("cannot write into \(directory): \(error.localizedDescription)") }
        let costs = e.models.compactMap { model -> (String, Double, Double)? in
            guard case let .tokens(_, epochs, price)? = model.fineTuning?.basis else { return nil }
            return (model.id, epochs, Double(rendered.tokens) * epochs * price / 1_000_000)
        }
        var summary = Summary(examples: train.count, removed: prepared.dataset.train.count - fixed.count,
                              validationExamples: prepared.dataset.validation.count, chatFile: chatFile,
                              promptCompletionFile: completionFile, tokens: rendered.tokens, costs: costs)
        summary.teacher = relabelled
        summary.teacherFile = teacherFile
        return summary
    }

    /// One split as chat JSONL and prompt/completion JSONL, with its estimated token count.
    static func render(_ examples: [Example], builder: PromptBuilder, spec: PromptSpec, similar: SimilarityIndex?,
                       labels: [String]) -> (chat: String, completion: String, tokens: Int) {
        var chat = "", completion = "", tokens = 0
        for example in examples {
            var chosen: [Example]? = nil
            if case .similar(let sim) = spec.examples {
                chosen = similar?.select(for: example.input, k: sim.k, balanced: sim.balanced, labels: labels)
            }
            let prompt = builder.render(input: example.input, examples: chosen)
            var messages: [JSON] = []
            if let system = prompt.system { messages.append(.object([("role", .string("system")), ("content", .string(system))])) }
            messages.append(.object([("role", .string("user")), ("content", .string(prompt.user))]))
            messages.append(.object([("role", .string("assistant")), ("content", .string(example.target))]))
            chat += JSON.object([("messages", .array(messages))]).encoded() + "\n"
            let text = prompt.completionText
            let answer = (text.last?.isWhitespace ?? true) ? example.target : " " + example.target
            completion += JSON.object([("prompt", .string(text)), ("completion", .string(answer))]).encoded() + "\n"
            tokens += Text.estimatedTokens((prompt.system ?? "") + prompt.user) + Text.estimatedTokens(example.target)
        }
        return (chat, completion, tokens)
    }
}
