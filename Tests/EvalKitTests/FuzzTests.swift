import EvalKit
import Foundation
import Testing

/// Seeded, bounded fuzzing of everything that reads outside bytes: HTTP responses, JSON, CSV,
/// results.jsonl records and experiment configs. No input may trap; every failure is a typed error,
/// and what is written reads back the same. `swift test` runs the quick mode; set EVALKIT_FUZZ_SCALE
/// (say 100) for a long run by hand, and EVALKIT_FUZZ_SEED to replay another seed.
@Suite struct FuzzTests {
    static let scale = ProcessInfo.processInfo.environment["EVALKIT_FUZZ_SCALE"].flatMap { Int($0) }.map { max(1, $0) } ?? 1
    static let seed = ProcessInfo.processInfo.environment["EVALKIT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20261202

    // MARK: JSON

    @Test func jsonValuesSurviveEncodingAndParsingExactly() throws {
        var random = Fuzz(seed: Self.seed)
        for round in 0..<(5_000 * Self.scale) {
            let value = random.json(depth: 4)
            let text = value.encoded()
            let parsed: JSON
            do { parsed = try JSON.parse(text) } catch {
                Issue.record("round \(round): evalkit's own encoding did not parse (\(error)): \(text.prefix(200))")
                continue
            }
            #expect(parsed == value, "round \(round): \(text.prefix(200))")
            #expect(parsed.encoded() == text, "round \(round): encoding is not stable")
        }
    }

    @Test func damagedJSONParsesOrFailsWithATypedError() {
        var random = Fuzz(seed: Self.seed &+ 1)
        var accepted = 0
        for round in 0..<(10_000 * Self.scale) {
            let bytes = random.mutate(Array(random.json(depth: 3).encoded().utf8))
            do {
                let value = try JSON.parse(bytes: bytes)
                accepted += 1
                // What was accepted is a JSON value like any other: it writes and reads back the same.
                #expect((try? JSON.parse(value.encoded())) == value, "round \(round)")
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        // Some damage leaves valid JSON (a digit for a digit): both paths ran.
        #expect(accepted > 0 && accepted < 10_000 * Self.scale)
    }

    // MARK: CSV

    @Test func csvRowsSurviveWritingAndReadingExactly() throws {
        var random = Fuzz(seed: Self.seed &+ 2)
        for round in 0..<(3_000 * Self.scale) {
            let rows = (0..<random.int(1...4)).map { _ in (0..<random.int(1...5)).map { _ in random.csvField() } }
            let text = rows.map(CSV.row).joined()
            let records: [CSV.Record]
            do { records = try CSV.parse(text) } catch {
                Issue.record("round \(round): evalkit's own CSV did not parse (\(error)): \(text.debugDescription.prefix(200))")
                continue
            }
            let read = records.map { $0.fields.map(CSV.unguarded) }
            #expect(read == rows, "round \(round): \(text.debugDescription.prefix(300))")
        }
    }

    @Test func damagedCSVParsesOrNamesTheLine() {
        var random = Fuzz(seed: Self.seed &+ 3)
        for _ in 0..<(5_000 * Self.scale) {
            let rows = (0..<random.int(1...4)).map { _ in (0..<random.int(1...4)).map { _ in random.csvField() } }
            let bytes = random.mutate(Array(rows.map(CSV.row).joined().utf8))
            do {
                let records = try CSV.parse(String(decoding: bytes, as: UTF8.self))
                #expect(records.allSatisfy { $0.line >= 1 })
            } catch {
                #expect(error.line >= 1 && !error.message.isEmpty)
            }
        }
    }

    // MARK: HTTP

    @Test func wellFormedResponsesAreReadWhateverTheirFramingAndSplits() throws {
        var random = Fuzz(seed: Self.seed &+ 4)
        for round in 0..<(3_000 * Self.scale) {
            let body = (0..<random.int(0...300)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let (bytes, closes) = random.httpResponse(body: body)
            var parser = HTTPResponseParser()
            var message: HTTPResponseMessage? = nil
            do {
                for piece in random.split(bytes) where message == nil { message = try parser.feed(piece) }
                if message == nil, closes { message = try parser.finish() }
            } catch {
                Issue.record("round \(round): a well-formed response failed: \(error)")
                continue
            }
            let read = try #require(message, "round \(round): the response never completed")
            #expect(read.status == 200 && read.body == body, "round \(round)")
        }
    }

    @Test func damagedResponsesCompleteOrFailWithATypedError() {
        var random = Fuzz(seed: Self.seed &+ 5)
        var failures = 0
        for _ in 0..<(10_000 * Self.scale) {
            let body = Array(random.json(depth: 2).encoded().utf8)
            let bytes = random.mutate(random.httpResponse(body: body).bytes)
            var parser = HTTPResponseParser(requestMethod: random.int(0...9) == 0 ? "HEAD" : "POST")
            do {
                var message: HTTPResponseMessage? = nil
                for piece in random.split(bytes) where message == nil { message = try parser.feed(piece) }
                if message == nil { message = try parser.finish() }
                if let message { #expect((100...999).contains(message.status)) }
            } catch {
                failures += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(failures > 0)
    }

    // MARK: results.jsonl

    @Test func damagedResultRecordsAreReadOrRefusedByLine() throws {
        var random = Fuzz(seed: Self.seed &+ 6)
        var good = ExampleResult(candidate: "m:p", model: "m", prompt: "p", exampleID: "e1", target: "a", output: "a", label: "a",
                                 correct: true, latencyMs: 12.5, inputTokens: 10, outputTokens: 2, costUSD: 0.0001)
        good.scoreParts = [ScorePart("exact_match", 1), ScorePart("field.a", 0.5)]
        // Value-level damage: a field of another type, an out-of-range number, a missing or extra key.
        for _ in 0..<(5_000 * Self.scale) {
            let damaged = random.mutateValue(good.json)
            if let read = ExampleResult(json: damaged) {
                #expect(read.attempts >= 0 && read.repeatIndex >= 0 && read.latencyMs.isFinite)
                #expect(read.scoreParts.allSatisfy { $0.value >= 0 && $0.value <= 1 })
            }
        }
        // The direct line decoder reads exactly what parsing the line and reading the tree reads: damaged
        // values, damaged bytes, and valid spellings evalkit never writes (spaces, escapes, repeated keys).
        func sameAsTree(_ text: [UInt8]) {
            let viaTree = (try? JSON.parse(bytes: text)).flatMap { ExampleResult(json: $0) }
            #expect(ExampleResult(line: text[...]) == viaTree, "\(String(decoding: text, as: UTF8.self))")
        }
        let written = Array(good.json.encoded().utf8)
        let variants = [#"{ "candidate" : "m:p" , "model":"m","example_id":"e\u0031","target":"a","correct":true,"latency_ms":1e1 } "#,
                        #"{"candidate":"m:p","model":"m","example_id":"e1","target":"a","correct":false,"latency_ms":5,"correct":true}"#,
                        #"{"candidate":"m:p","model":"m","example_id":"e1","target":"a","correct":true,"latency_ms":5,"sc\u006fre":0.5}"#,
                        #"{"candidate":"m:p","model":"m","example_id":"é","target":"a","correct":true,"latency_ms":5,"extra":{"x":[1,{}]}}"#,
                        #"[{"candidate":"m:p"}]"#, #"{}"#, #"{"candidate":"m:p",}"#, "", " "]
        for text in variants { sameAsTree(Array(text.utf8)) }
        for _ in 0..<(5_000 * Self.scale) {
            sameAsTree(Array(random.mutateValue(good.json).encoded().utf8))
            sameAsTree(random.mutate(written))
        }
        // Byte-level damage to whole files, through the reader a run folder uses and the one resume uses.
        let dir = try Fixtures.temporaryDirectory()
        let path = dir + "/results.jsonl"
        let lines = (0..<5).map { i -> String in
            var result = good
            result.exampleID = "e\(i)"
            return result.json.encoded()
        }.joined(separator: "\n") + "\n"
        for _ in 0..<(200 * Self.scale) {
            try Data(random.mutate(Array(lines.utf8))).write(to: URL(fileURLWithPath: path))
            do { _ = try ResultsJournal.read(path: path) } catch {
                if case .badRecord(let file, let line, _) = error { #expect(file == path && line >= 1) }
            }
            _ = try? ResultsJournal.recover(path: path)
        }
    }

    @Test func damagedJudgementsAreReadOrRefusedByLine() throws {
        var random = Fuzz(seed: Self.seed &+ 9)
        let good = Judgement(candidate: "m:p", exampleID: "e1", repeatIndex: 0, grade: "pass", humanGrade: nil, output: "PASS",
                             error: nil, latencyMs: 12.5, attempts: 1, cached: false, costUSD: 0.0001)
        for _ in 0..<(2_000 * Self.scale) {
            if let read = Judgement(json: random.mutateValue(good.json)) {
                #expect(read.attempts >= 0 && read.repeatIndex >= 0 && read.latencyMs.isFinite && (read.costUSD?.isFinite ?? true))
            }
        }
        let dir = try Fixtures.temporaryDirectory()
        let lines = (0..<4).map { i -> String in
            var judgement = good
            judgement.exampleID = "e\(i)"
            return judgement.json.encoded()
        }.joined(separator: "\n") + "\n"
        for _ in 0..<(200 * Self.scale) {
            try Data(random.mutate(Array(lines.utf8))).write(to: URL(fileURLWithPath: dir + "/" + JudgementsFile.name))
            do { _ = try JudgementsFile.read(directory: dir) } catch {
                if case .badRecord(let file, let line, _) = error { #expect(file.hasSuffix(JudgementsFile.name) && line >= 1) }
            }
        }
    }

    // MARK: scorers

    @Test func scorersReadAnyOutputIntoScoresInRange() throws {
        var random = Fuzz(seed: Self.seed &+ 8)
        let target = JSON.object([("invoice", .string("INV-1")), ("total", .number(1234.5)), ("customer", .object([("name", .string("Ann"))])),
                                  ("tags", .array([.string("a"), .string("b")]))])
        let example = Example(id: "x", input: "", target: target.encoded(), alternatives: ["the answer", "1,000"])
        let context = ScorerContext(labels: [], parsing: LabelParsing())
        var synonyms = FieldMatchOptions()
        synonyms.synonyms = ["invoice": ["inv 1": "INV-1"]]
        let scorers: [any Scorer] = [FieldMatchOptions().makeScorer(context), synonyms.makeScorer(context),
                                     AnswerMatchOptions().makeScorer(context), OverlapOptions().makeScorer(context)]
        func check(_ output: String) {
            for scorer in scorers {
                let score = scorer.score(output: output, example: example)
                #expect(score.value >= 0 && score.value <= 1, "\(output)")
                #expect(score.parts.allSatisfy { $0.value >= 0 && $0.value <= 1 }, "\(output)")
            }
        }
        // Outputs near a right answer (damaged JSON, prose around it) and bytes from nowhere.
        let right = "Here: ```json\n" + target.encoded() + "\n``` done"
        for _ in 0..<(2_000 * Self.scale) {
            check(String(decoding: random.mutate(Array(right.utf8)), as: UTF8.self))
            check(random.mutateValue(target).encoded())
        }
        // Numbers written every which way go through the number reading without trapping.
        for text in [".", ",", ",.", "1,2", "1,234.5.6", "$", "%", "-", "1e400", "nan", "inf", "€1,000,000.00", "1,,000", "+", "e"] {
            _ = FieldMatchOptions.number(in: text)
            check(#"{"total": "\#(text)"}"#)
        }
        // A damaged schema reads or names its JSON path.
        let schema = try JSON.parse(#"{"type": "object", "properties": {"a": {"type": ["string", "null"], "enum": ["x", null]}, "b": {"type": "array", "items": {"type": "integer"}}}, "required": ["a"], "additionalProperties": false}"#)
        for _ in 0..<(2_000 * Self.scale) {
            let (read, issues) = JSONSchema.read(random.mutateValue(schema), path: "$.task.schema")
            #expect((read == nil) == !issues.isEmpty)
            #expect(issues.allSatisfy { $0.path.hasPrefix("$.task.schema") })
            if let read { _ = read.violations(of: random.mutateValue(target)) }
        }
    }

    // MARK: config

    @Test func damagedConfigsLoadOrNameTheJSONPath() throws {
        var random = Fuzz(seed: Self.seed &+ 7)
        let path = Fixtures.repositoryRoot + "/evalkit.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let config = try JSON.parse(text)
        for _ in 0..<(1_000 * Self.scale) {
            let damaged = random.mutateValue(config)
            do {
                _ = try ExperimentLoader.parse(damaged, configPath: path, baseDirectory: Fixtures.repositoryRoot, hash: "fuzz")
            } catch {
                #expect(error.description.contains("$") || error.description.contains("evalkit.json"), "\(error)")
            }
        }
        // An extraction task's config: schema and scorer options damaged the same way.
        let extraction = try JSON.parse(#"""
        {"name": "x", "task": {"type": "extraction", "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
          "scorer": {"type": "fields", "primary": "field_f1", "normalize": {"case": false}, "synonyms": {"a": {"x": "y"}}}},
         "dataset": {"train": "t.jsonl", "test": "t.jsonl", "fields": {"input": "text", "target": "fields"}},
         "prompts": [{"id": "p", "user": "p.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}]}
        """#)
        for _ in 0..<(1_000 * Self.scale) {
            do {
                _ = try ExperimentLoader.parse(random.mutateValue(extraction), configPath: path, baseDirectory: Fixtures.repositoryRoot, hash: "fuzz")
            } catch {
                #expect(error.description.contains("$"), "\(error)")
            }
        }
        let dir = try Fixtures.temporaryDirectory()
        for _ in 0..<(300 * Self.scale) {
            let file = dir + "/evalkit.json"
            try Data(random.mutate(Array(text.utf8))).write(to: URL(fileURLWithPath: file))
            do { _ = try ExperimentLoader.load(path: file) } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }
}

/// The fuzzers' source of inputs: a seeded generator with helpers for the shapes under test.
struct Fuzz: RandomNumberGenerator {
    var base: SeededRandom
    init(seed: UInt64) { base = SeededRandom(seed: seed) }
    mutating func next() -> UInt64 { base.next() }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ oneIn: Int) -> Bool { int(1...oneIn) == 1 }

    /// Text mixing the characters parsers trip on: quotes, escapes, controls, separators, non-ASCII.
    mutating func text(maxLength: Int = 12) -> String {
        let pieces: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\r\n", "\t", ",", "'", "=", "+", "-", "@",
                                "\u{0}", "\u{1F}", "\u{7F}", "é", "\u{2028}", "\u{FEFF}", "\u{202E}", "😀", "{", "}", "[", "]", ":"]
        return (0..<int(0...maxLength)).map { _ in pieces[int(0...pieces.count - 1)] }.joined()
    }

    mutating func number() -> Double {
        switch int(0...7) {
        case 0: return Double(int(-1000...1000))
        case 1: return Double.random(in: -1...1, using: &self)
        case 2: return Double.random(in: -1e300...1e300, using: &self)
        case 3: return [0.1 + 0.2, 1e-7, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 1e15, 1e16 + 2, 123456789.123456789][int(0...7)]
        case 4: return Double(Int64.random(in: Int64.min...Int64.max, using: &self))
        case 5: return Double(sign: chance(2) ? .minus : .plus, exponent: int(-1074...1023), significand: 1 + Double.random(in: 0..<1, using: &self))
        default: return Double(int(0...100)) / 8
        }
    }

    mutating func json(depth: Int) -> JSON {
        switch depth <= 0 ? int(0...3) : int(0...5) {
        case 0: return .null
        case 1: return .bool(chance(2))
        case 2: return .number(number())
        case 3: return .string(text())
        case 4: return .array((0..<int(0...4)).map { _ in json(depth: depth - 1) })
        default:
            // Names unique, as RFC 8259 asks: evalkit keeps the last of repeated names, as JavaScript does.
            var members: [(String, JSON)] = []
            for _ in 0..<int(0...4) {
                let name = text(maxLength: 6)
                if !members.contains(where: { $0.0 == name }) { members.append((name, json(depth: depth - 1))) }
            }
            return .object(members)
        }
    }

    /// A field for a CSV cell: anything, including what needs quoting or a formula guard.
    mutating func csvField() -> String { chance(8) ? "" : text() }

    /// Byte-level damage: flips, inserts, deletions, repeats and truncation, a few at a time.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = [0, 0x0A, 0x0D, 0x22, 0x5C, 0x2C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x30, 0x39, 0x2D, 0x65, 0x2E, 0x7F, 0x80, 0xC3, 0xED, 0xF0, 0xFF]
        for _ in 0..<int(1...4) {
            let position = bytes.isEmpty ? 0 : int(0...bytes.count - 1)
            switch int(0...6) {
            case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << int(0...7))
            case 1: bytes.insert(interesting[int(0...interesting.count - 1)], at: min(position, bytes.count))
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + int(1...16))
                bytes.insert(contentsOf: bytes[position..<end], at: end)
            case 4 where !bytes.isEmpty: bytes = Array(bytes[..<position])
            case 5 where !bytes.isEmpty: bytes[position] = interesting[int(0...interesting.count - 1)]
            default: bytes.insert(contentsOf: Array("9999999999999999999999".utf8).prefix(int(1...22)), at: min(position, bytes.count))
            }
        }
        return bytes
    }

    /// Value-level damage to a JSON document: a node replaced (by another type, an extreme number, an
    /// empty container), a member dropped or an unknown one added.
    mutating func mutateValue(_ value: JSON) -> JSON {
        switch value {
        case .object(let members) where !members.isEmpty && !chance(6):
            var changed = members
            let index = int(0...members.count - 1)
            switch int(0...5) {
            case 0: changed.remove(at: index)
            case 1: changed.append((text(maxLength: 5), json(depth: 1)))
            default: changed[index].1 = mutateValue(members[index].1)
            }
            return .object(changed)
        case .array(let items) where !items.isEmpty && !chance(6):
            var changed = items
            let index = int(0...items.count - 1)
            if chance(4) { changed.remove(at: index) } else { changed[index] = mutateValue(items[index]) }
            return .array(changed)
        default:
            let extremes: [JSON] = [.number(1e19), .number(-1), .number(1e300), .number(-1e300), .number(0.5), .number(9.3e18),
                                    .string(""), .string(text()), .null, .bool(true), .array([]), .object([])]
            return chance(3) ? json(depth: 2) : extremes[int(0...extremes.count - 1)]
        }
    }

    /// A valid HTTP/1.1 200 response carrying `body`, framed one of the ways the protocol allows;
    /// `closes` says whether the body ends only when the connection does.
    mutating func httpResponse(body: [UInt8]) -> (bytes: [UInt8], closes: Bool) {
        var head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if chance(3) { head += "X-Extra-\(int(0...9)):  \(text(maxLength: 4).filter { !$0.isNewline && $0 != "\r\n" })\r\n" }
        if chance(5) { head = "HTTP/1.1 100 Continue\r\n\r\n" + head }
        switch int(0...2) {
        case 0:
            return (Array((head + "Content-Length: \(body.count)\r\n\r\n").utf8) + body, false)
        case 1:
            var out = Array((head + "Transfer-Encoding: chunked\r\n\r\n").utf8)
            var rest = body[...]
            while !rest.isEmpty {
                let size = min(rest.count, int(1...64))
                out += Array((String(size, radix: 16, uppercase: chance(2)) + (chance(4) ? ";ext=1" : "") + "\r\n").utf8)
                out += rest.prefix(size) + Array("\r\n".utf8)
                rest = rest.dropFirst(size)
            }
            out += Array(("0\r\n" + (chance(3) ? "X-Trailer: t\r\n" : "") + "\r\n").utf8)
            return (out, false)
        default:
            return (Array((head + "Connection: close\r\n\r\n").utf8) + body, true)
        }
    }

    /// The bytes cut into the pieces a socket might deliver.
    mutating func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let size = chance(3) ? int(1...3) : int(1...max(1, rest.count))
            pieces.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return pieces
    }
}
