import Foundation

/// Loads dataset files (JSONL or CSV) into splits, following the experiment's field mapping.
public enum DatasetLoader {
    /// Loads all three splits as the experiment describes them; ids must be unique within each split.
    public static func load(_ experiment: Experiment) throws(DataError) -> Dataset {
        let dataset = try loadSplits(experiment)
        for (_, examples) in dataset.splits {
            var seen: [String: Int] = [:]
            seen.reserveCapacity(examples.count)
            for (index, example) in examples.enumerated() {
                if let first = seen[example.id] { throw .duplicateID(id: example.id, first: examples[first].location, again: example.location) }
                seen[example.id] = index
            }
        }
        return dataset
    }

    static func loadSplits(_ experiment: Experiment) throws(DataError) -> Dataset {
        let spec = experiment.dataset
        let task = experiment.task
        switch spec.source {
        case let .files(train, validation, test):
            // Every file is read even when one has problems, so that all of them are reported at once.
            var problems: [DataError] = []
            func examples(_ path: String?) -> [Example] {
                guard let path else { return [] }
                do { return try loadExamples(experiment.resolve(path), fields: spec.fields, task: task) } catch {
                    problems.append(error)
                    return []
                }
            }
            let trainSet = examples(train), validationSet = examples(validation), testSet = examples(test)
            if let error = DataError.combining(problems) { throw error }
            if trainSet.isEmpty { throw .emptySplit(split: "train", source: train) }
            if testSet.isEmpty { throw .emptySplit(split: "test", source: test) }
            return Dataset(train: trainSet, validation: validationSet, test: testSet)

        case let .splitField(path, field, names):
            let rows = try loadFile(experiment.resolve(path), fields: spec.fields, task: task, extraField: field)
            var dataset = Dataset(train: [], validation: [], test: [])
            for row in rows {
                switch row.extra {
                case names.train: dataset.train.append(row.example)
                case names.validation: dataset.validation.append(row.example)
                case names.test: dataset.test.append(row.example)
                default:
                    throw .badRecord(file: experiment.resolve(path), line: row.line,
                                     reason: "field \"\(field)\" is \"\(row.extra ?? "")\"; expected \(names.train), \(names.validation) or \(names.test)")
                }
            }
            if dataset.train.isEmpty { throw .emptySplit(split: "train", source: "\(path) where \(field) = \(names.train)") }
            if dataset.test.isEmpty { throw .emptySplit(split: "test", source: "\(path) where \(field) = \(names.test)") }
            return dataset

        case let .ratio(path, train, validation, _, seed):
            var examples = try loadExamples(experiment.resolve(path), fields: spec.fields, task: task)
            var rng = SeededRandom(seed: seed)
            examples.shuffle(using: &rng)
            let trainEnd = Int((Double(examples.count) * train).rounded())
            let validationEnd = min(examples.count, trainEnd + Int((Double(examples.count) * validation).rounded()))
            let dataset = Dataset(train: Array(examples[..<trainEnd]), validation: Array(examples[trainEnd..<validationEnd]),
                                  test: Array(examples[validationEnd...]))
            if dataset.train.isEmpty { throw .emptySplit(split: "train", source: "\(path) split by ratio") }
            if dataset.test.isEmpty { throw .emptySplit(split: "test", source: "\(path) split by ratio") }
            return dataset
        }
    }

    /// One loaded row with the line it came from and, if asked for, one extra field.
    public struct Row: Sendable {
        public var example: Example
        public var line: Int
        public var extra: String?
    }

    /// Loads one JSONL or CSV file of a classification task with `labels`.
    public static func loadFile(_ path: String, fields: FieldMapping, labels: [String], extraField: String? = nil) throws(DataError) -> [Row] {
        try loadFile(path, fields: fields, task: TaskSpec(labels: labels, parsing: LabelParsing()), extraField: extraField)
    }

    /// Loads one JSONL or CSV file (chosen by extension: `.csv` is CSV, anything else JSONL), reading
    /// targets as `task`'s type has them.
    public static func loadFile(_ path: String, fields: FieldMapping, task: TaskSpec, extraField: String? = nil) throws(DataError) -> [Row] {
        var rows: [Row] = []
        try loadFile(path, fields: fields, task: task, extraField: extraField) { rows.append($0) }
        return rows
    }

    /// The examples of one file, collected as they are read (a file of millions of rows is never held twice).
    static func loadExamples(_ path: String, fields: FieldMapping, task: TaskSpec) throws(DataError) -> [Example] {
        var examples: [Example] = []
        try loadFile(path, fields: fields, task: task, extraField: nil) { examples.append($0.example) }
        return examples
    }

    /// Hands each row of one file to `body` in file order.
    static func loadFile(_ path: String, fields: FieldMapping, task: TaskSpec, extraField: String?, _ body: (Row) -> Void) throws(DataError) {
        var bytes: [UInt8]
        switch SmallFile.contents(of: path) {
        case .success(let read): bytes = read
        case .failure(let problem): throw .unreadable(file: path, reason: problem.reason)
        }
        let builder = RowBuilder(path: path, fileName: (path as NSString).lastPathComponent, fields: fields, targets: TargetReader(task), extraField: extraField)
        // A UTF-8 byte-order mark (Excel writes one) is not part of the first field's name or line.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if path.lowercased().hasSuffix(".csv") {
            try loadCSV(bytes, builder: builder).forEach(body)
        } else {
            try loadJSONL(bytes, builder: builder, body)
        }
    }

    static func loadJSONL(_ bytes: [UInt8], builder: RowBuilder, _ body: (Row) -> Void) throws(DataError) {
        var problems: [DataError] = []
        var lineNumber = 0, rows = 0
        var start = bytes.startIndex
        // Every bad line is collected (the report shows the first ones and counts the rest).
        while start <= bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            var line = bytes[start..<end]
            start = end + 1
            lineNumber += 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do throws(DataError) {
                body(try jsonlRow(line, number: lineNumber, index: rows + problems.count, builder: builder))
                rows += 1
            } catch {
                problems.append(error)
            }
        }
        if let error = DataError.combining(problems) { throw error }
    }

    static func jsonlRow(_ line: ArraySlice<UInt8>, number: Int, index: Int, builder: RowBuilder) throws(DataError) -> Row {
        if String(validating: line, as: UTF8.self) == nil {
            throw .badRecord(file: builder.path, line: number, reason: "not valid UTF-8 (re-encode the file as UTF-8)")
        }
        let value: JSON
        do { value = try JSON.parse(bytes: Array(line)) } catch {
            throw .badRecord(file: builder.path, line: number, reason: "not a JSON object: \(error.message) at column \(error.column)")
        }
        guard let object = value.objectValue else {
            throw .badRecord(file: builder.path, line: number, reason: "expected a JSON object, found \(value.kindDescription)")
        }
        var record: [String: JSON] = [:]
        for (k, v) in object { record[k] = v }
        return try builder.row(line: number, index: index) { record[$0] }
    }

    static func loadCSV(_ bytes: [UInt8], builder: RowBuilder) throws(DataError) -> [Row] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let line = firstInvalidUTF8Line(bytes)
            throw .badRecord(file: builder.path, line: line, reason: "not valid UTF-8 (re-encode the file as UTF-8)")
        }
        let records: [CSV.Record]
        do { records = try CSV.parse(text) } catch {
            throw .badRecord(file: builder.path, line: error.line, reason: error.message)
        }
        guard let header = records.first else { return [] }
        var columns: [String: Int] = [:]
        for (i, name) in header.fields.enumerated() { columns[name.trimmingCharacters(in: .whitespaces)] = i }
        var rows: [Row] = []
        var problems: [DataError] = []
        for record in records.dropFirst() {
            guard record.fields.count == header.fields.count else {
                problems.append(.badRecord(file: builder.path, line: record.line,
                                           reason: "\(record.fields.count) fields where the header has \(header.fields.count) (ragged row; quote fields that contain commas)"))
                continue
            }
            do throws(DataError) {
                rows.append(try builder.row(line: record.line, index: rows.count + problems.count) { name in
                    columns[name].map { JSON.string(record.fields[$0]) }
                })
            } catch {
                problems.append(error)
            }
        }
        if let error = DataError.combining(problems) { throw error }
        return rows
    }

    static func firstInvalidUTF8Line(_ bytes: [UInt8]) -> Int {
        var line = 1
        for slice in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if String(validating: slice, as: UTF8.self) == nil { return line }
            line += 1
        }
        return line
    }
}

/// Turns one record (a field lookup) into an example, checking every mapped field.
struct RowBuilder {
    let path: String
    /// The file's name, made once: every example of the file shares this one string.
    let fileName: String
    let fields: FieldMapping
    let targets: TargetReader
    let extraField: String?

    func row(line: Int, index: Int, _ field: (String) -> JSON?) throws(DataError) -> DatasetLoader.Row {
        func text(_ name: String, required: Bool) throws(DataError) -> String? {
            guard let value = field(name), !value.isNull else {
                if required { throw .badRecord(file: path, line: line, reason: "missing field \"\(name)\"") }
                return nil
            }
            guard let text = TargetReader.scalarText(value) else {
                throw .badRecord(file: path, line: line, reason: "field \"\(name)\" is \(value.kindDescription); expected text")
            }
            return text
        }
        let input = try text(fields.input, required: true) ?? ""
        guard let rawTarget = field(fields.target), !rawTarget.isNull else { throw .badRecord(file: path, line: line, reason: "missing field \"\(fields.target)\"") }
        let target: (text: String, alternatives: [String])
        switch targets.read(rawTarget, field: fields.target) {
        case .success(let read): target = read
        case .failure(let problem): throw .badRecord(file: path, line: line, reason: problem.reason)
        }
        let id = try fields.id.flatMap { name throws(DataError) in try text(name, required: true) } ?? "\(index + 1)"
        var confidence: Double? = nil
        if let name = fields.confidence, let raw = try text(name, required: false), !raw.isEmpty {
            guard let value = Double(raw) else {
                throw .badRecord(file: path, line: line, reason: "field \"\(name)\" is \"\(raw)\"; expected a number")
            }
            confidence = value
        }
        let extra = try extraField.flatMap { name throws(DataError) in try text(name, required: true) }
        // A human's graded answer: both fields or neither, the grade on the judge's scale.
        var humanAnswer: String? = nil, humanGrade: String? = nil
        if let answerField = fields.humanAnswer, let gradeField = fields.humanGrade {
            humanAnswer = try text(answerField, required: false)
            let grade = try text(gradeField, required: false)
            if (humanAnswer == nil) != (grade == nil) {
                throw .badRecord(file: path, line: line, reason: "\"\(answerField)\" and \"\(gradeField)\" go together: a human's answer and their grade of it")
            }
            if let grade {
                guard let scale = targets.judgeScale else {
                    throw .badRecord(file: path, line: line, reason: "field \"\(gradeField)\" holds a human grade, but the task has no judge (\"task.judge\")")
                }
                guard let canonical = scale.canonical(grade) else {
                    throw .badRecord(file: path, line: line, reason: "field \"\(gradeField)\" is \"\(grade)\"; expected a grade on the judge's \(scale.rawValue) scale (\(scale.grades.joined(separator: ", ")))")
                }
                humanGrade = canonical
            }
        }
        var example = Example(id: id, input: input, target: target.text, alternatives: target.alternatives, confidence: confidence,
                              file: fileName, line: line)
        example.humanAnswer = humanAnswer
        example.humanGrade = humanGrade
        return DatasetLoader.Row(example: example, line: line, extra: extra)
    }
}

/// Why a target could not be read.
struct TargetProblem: Error { let reason: String }

/// Reads a record's target field as the task's type has it: a label of the set, a JSON object (which
/// must follow the task's schema, where it has one), or a text or list of accepted texts.
struct TargetReader {
    let kind: TargetKind
    let labels: [String]
    let canonicalLabels: [String: String]
    let schema: JSONSchema?
    /// The judge's scale, which human grades are read on; nil without a judge.
    let judgeScale: JudgeScale?

    init(_ task: TaskSpec) {
        judgeScale = task.judge?.scale
        kind = task.type.targets
        labels = task.labels
        canonicalLabels = Dictionary(task.labels.map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        schema = task.schema
    }

    /// The target's text (the label, the object's JSON, the first accepted text) and any other accepted texts.
    func read(_ value: JSON, field: String) -> Result<(text: String, alternatives: [String]), TargetProblem> {
        switch kind {
        case .label:
            guard let raw = Self.scalarText(value) else {
                return .failure(TargetProblem(reason: "field \"\(field)\" is \(value.kindDescription); expected a label (\(labels.joined(separator: ", ")))"))
            }
            guard let label = canonicalLabels[raw.trimmingCharacters(in: .whitespaces).lowercased()] else {
                return .failure(TargetProblem(reason: "label \"\(raw)\" in field \"\(field)\" is not in the task's label set (\(labels.joined(separator: ", ")))"))
            }
            return .success((label, []))
        case .jsonObject:
            var object = value
            // CSV holds text only: there the object is written as its JSON.
            if let text = value.stringValue, let parsed = try? JSON.parse(text) { object = parsed }
            guard object.objectValue != nil else {
                return .failure(TargetProblem(reason: "field \"\(field)\" is \(value.kindDescription); expected a JSON object (the fields to extract), as the task is extraction"))
            }
            if let schema, let first = schema.violations(of: object).first {
                return .failure(TargetProblem(reason: "field \"\(field)\" does not follow the task's schema: \(first.replacingOccurrences(of: "$", with: field, options: .anchored))"))
            }
            return .success((object.encoded(), []))
        case .text:
            if let texts = value.arrayValue {
                let strings = texts.compactMap(Self.scalarText)
                guard !strings.isEmpty, strings.count == texts.count else {
                    return .failure(TargetProblem(reason: "field \"\(field)\" is an array with \(texts.isEmpty ? "nothing in it" : "a value that is not text"); expected a non-empty array of accepted texts"))
                }
                return .success((strings[0], Array(strings.dropFirst())))
            }
            guard let text = Self.scalarText(value) else {
                return .failure(TargetProblem(reason: "field \"\(field)\" is \(value.kindDescription); expected a reference text or an array of accepted texts"))
            }
            return .success((text, []))
        }
    }

    static func scalarText(_ value: JSON) -> String? {
        switch value {
        case .string(let s): return s
        case .number(let n): return JSON.formatNumber(n)
        case .bool(let b): return String(b)
        default: return nil
        }
    }
}
