import EvalKit
import Foundation
import Testing

@Suite struct PromptTests {
    func experiment(in dir: String, prompt: String) throws -> Experiment {
        try Fixtures.write(Fixtures.jsonl([("t1", "great day", "positive"), ("t2", "awful day", "negative"), ("t3", "a day", "neutral")]),
                           to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("x", "some day", "neutral")]), to: "test.jsonl", in: dir)
        return try Fixtures.experiment("""
        {"name": "p", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "prompts": [\(prompt)],
         "models": [{"id": "clf", "provider": "builtin", "role": "small"}]}
        """, in: dir)
    }

    @Test func rendersSystemUserLabelsAndFixedExamples() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write("You classify {{labels}}.\n", to: "prompts/system.txt", in: dir)
        try Fixtures.write("{{examples}}\n\nText: {{ input }}\nLabel:\n", to: "prompts/user.txt", in: dir)
        let e = try experiment(in: dir, prompt: """
        {"id": "few", "system": "prompts/system.txt", "user": "prompts/user.txt",
         "examples": {"kind": "fixed", "ids": ["t2", "t1"]}, "example_template": "Text: {{input}}\\nLabel: {{label}}"}
        """)
        let train = try DatasetLoader.load(e).train
        let builder = try PromptBuilder(spec: e.prompts[0], experiment: e, train: train)
        let rendered = builder.render(input: "what a day")
        #expect(rendered.system == "You classify negative, neutral, positive.")
        #expect(rendered.user == "Text: awful day\nLabel: negative\n\nText: great day\nLabel: positive\n\nText: what a day\nLabel:")
        #expect(rendered.completionText == "You classify negative, neutral, positive.\n\n" + rendered.user)
    }

    @Test func firstKExamplesComeFromTheTrainingSplit() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write("{{examples}}|{{input}}", to: "u.txt", in: dir)
        let e = try experiment(in: dir, prompt: "{\"id\": \"k\", \"user\": \"u.txt\", \"examples\": {\"kind\": \"first\", \"k\": 2}, \"example_template\": \"{{label}}\", \"example_separator\": \",\"}")
        let builder = try PromptBuilder(spec: e.prompts[0], experiment: e, train: try DatasetLoader.load(e).train)
        #expect(builder.render(input: "z").user == "positive,negative|z")
    }

    @Test func unknownPlaceholderNamesFileAndLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write("line one\nline two {{input}}\nline three {{exmaples}}\n", to: "u.txt", in: dir)
        let e = try experiment(in: dir, prompt: "{\"id\": \"bad\", \"user\": \"u.txt\"}")
        #expect { try PromptBuilder(spec: e.prompts[0], experiment: e, train: []) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("u.txt:3: unknown placeholder {{exmaples}}") && text.contains("did you mean {{examples}}")
        }
    }

    @Test func preparationCollectsPromptAndDataProblemsTogether() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write("no input here", to: "a.txt", in: dir)
        try Fixtures.write("{{input}} {{nope}}", to: "b.txt", in: dir)
        _ = try experiment(in: dir, prompt: "{\"id\": \"a\", \"user\": \"a.txt\"}, {\"id\": \"b\", \"user\": \"b.txt\"}, {\"id\": \"c\", \"user\": \"missing.txt\"}")
        #expect { try Preparation.prepare(configPath: dir + "/evalkit.json") } throws: { error in
            guard case .problems(_, let problems) = error as? PreparationError else { return false }
            return problems.count == 3 && problems[0].contains("never uses {{input}}") && problems[1].contains("b.txt:1")
                && problems[2].contains("missing.txt: no such template file")
        }
    }
}

@Suite struct LabelParserTests {
    let labels = ["negative", "neutral", "positive"]

    @Test func exactIsCaseAndWhitespaceInsensitive() {
        let parser = LabelParser(labels: labels, parsing: LabelParsing(method: .exact))
        #expect(parser.parse("  Positive \n") == "positive")
        #expect(parser.parse("NEGATIVE.") == "negative")
        #expect(parser.parse("It is positive") == nil)
        #expect(parser.parse("") == nil)
    }

    @Test func firstFindsTheEarliestWholeWordLabel() {
        let parser = LabelParser(labels: labels, parsing: LabelParsing(method: .first))
        #expect(parser.parse("I'd say neutral, maybe positive") == "neutral")
        #expect(parser.parse("Sentiment: Positive!") == "positive")
        #expect(parser.parse("nonneutral positivity") == nil)
        #expect(parser.parse("I'm glad you asked") == nil)
    }

    @Test func synonymsMapToLabels() {
        let parser = LabelParser(labels: labels, parsing: LabelParsing(method: .first, synonyms: ["pos": "positive", "so-so": "neutral"]))
        #expect(parser.parse("pos") == "positive")
        #expect(parser.parse("It's so-so really") == "neutral")
        #expect(parser.parse("position") == nil)
    }

    @Test func regexCaptureWithNumericRanges() {
        let ranges = [NumericRange(min: 1, max: 4, label: "negative"), NumericRange(min: 5, max: 6, label: "neutral"),
                      NumericRange(min: 7, max: 10, label: "positive")]
        let parser = LabelParser(labels: labels, parsing: LabelParsing(method: .regex("\\b(10|[1-9])\\b"), numericRanges: ranges))
        #expect(parser.parse("8") == "positive")
        #expect(parser.parse("I would rate it 3 out of 10") == "negative")
        #expect(parser.parse("Rating: 10") == "positive")
        #expect(parser.parse("5/10") == "neutral")
        #expect(parser.parse("no number") == nil)
        let captured = LabelParser(labels: labels, parsing: LabelParsing(method: .regex("Answer: (\\w+)")))
        #expect(captured.parse("Thinking... Answer: Neutral") == "neutral")
    }
}
