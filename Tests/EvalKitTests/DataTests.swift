import EvalKit
import Foundation
import Testing

@Suite struct DataTests {
    let fields = FieldMapping(input: "text", target: "label", id: "id", confidence: "confidence")
    let labels = ["negative", "neutral", "positive"]

    @Test func jsonlLoadsAndCanonicalisesLabels() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = try Fixtures.write("""
        {"id": "a", "text": "I love it", "label": "Positive", "confidence": 0.9}

        {"id": "b", "text": "meh", "label": "neutral", "confidence": null}
        """, to: "d.jsonl", in: dir)
        let rows = try DatasetLoader.loadFile(path, fields: fields, labels: labels)
        #expect(rows.map { $0.example.id } == ["a", "b"])
        #expect(rows[0].example.target == "positive")
        #expect(rows[0].example.confidence == 0.9)
        #expect(rows[1].example.confidence == nil)
        #expect(rows[1].line == 3)
        #expect(rows[1].example.location == "d.jsonl:3")
    }

    @Test func badJSONLLinesNameFileAndLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cases: [(String, String)] = [
            ("{\"id\": \"a\", \"text\": \"x\", \"label\": \"neutral\"}\n{\"id\": \"b\", \"text\": \"y\"", "not a JSON object"),
            ("{\"id\": \"a\", \"text\": \"x\", \"label\": \"neutral\"}\n{\"id\": \"b\", \"text\": \"y\"}", "missing field \"label\""),
            ("{\"id\": \"a\", \"text\": \"x\", \"label\": \"neutral\"}\n{\"id\": \"b\", \"text\": \"y\", \"label\": \"angry\"}", "not in the task's label set"),
            ("{\"id\": \"a\", \"text\": \"x\", \"label\": \"neutral\"}\n[1, 2]", "expected a JSON object"),
        ]
        for (text, message) in cases {
            let path = try Fixtures.write(text, to: "bad.jsonl", in: dir)
            #expect { try DatasetLoader.loadFile(path, fields: fields, labels: labels) } throws: { error in
                "\(error)".hasPrefix("\(path):2: ") && "\(error)".contains(message)
            }
        }
    }

    @Test func invalidUTF8IsReportedWithItsLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir + "/latin1.jsonl"
        var bytes = Array("{\"id\": \"a\", \"text\": \"ok\", \"label\": \"neutral\"}\n{\"id\": \"b\", \"text\": \"caf".utf8)
        bytes += [0xE9] + Array("\", \"label\": \"neutral\"}\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        #expect { try DatasetLoader.loadFile(path, fields: fields, labels: labels) } throws: { error in
            (error as? DataError)?.description == "\(path):2: not valid UTF-8 (re-encode the file as UTF-8)"
        }
    }

    @Test func csvWithQuotesCommasAndNewlinesLoads() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = try Fixtures.write("id,text,label,confidence\r\n1,\"Hello, \"\"world\"\"\",positive,1\r\n2,\"two\nlines\",negative,\r\n", to: "d.csv", in: dir)
        let rows = try DatasetLoader.loadFile(path, fields: fields, labels: labels)
        #expect(rows.map { $0.example.input } == ["Hello, \"world\"", "two\nlines"])
        #expect(rows.map { $0.line } == [2, 3])
        #expect(rows[1].example.confidence == nil)
    }

    @Test func raggedAndBadlyQuotedCSVIsRejectedWithLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        let ragged = try Fixtures.write("id,text,label\n1,fine,neutral\n2,one, two,neutral\n", to: "r.csv", in: dir)
        #expect { try DatasetLoader.loadFile(ragged, fields: fields, labels: labels) } throws: { error in
            "\(error)".hasPrefix("\(ragged):3: 4 fields where the header has 3")
        }
        let quoted = try Fixtures.write("id,text,label\n1,say \"hi\",neutral\n", to: "q.csv", in: dir)
        #expect { try DatasetLoader.loadFile(quoted, fields: fields, labels: labels) } throws: { error in
            "\(error)".hasPrefix("\(quoted):2: a quote inside an unquoted field")
        }
        let unclosed = try Fixtures.write("id,text,label\n1,\"never closed,neutral\n", to: "u.csv", in: dir)
        #expect { try DatasetLoader.loadFile(unclosed, fields: fields, labels: labels) } throws: { error in
            "\(error)".hasPrefix("\(unclosed):2: a quoted field is never closed")
        }
    }

    @Test func splitFieldAndSeededRatioSplits() throws {
        let dir = try Fixtures.temporaryDirectory()
        var csv = "id,text,label,split\n"
        for i in 0..<40 { csv += "\(i),text \(i),\(labels[i % 3]),\(i < 30 ? "train" : (i < 35 ? "dev" : "test"))\n" }
        try Fixtures.write(csv, to: "all.csv", in: dir)
        let config = """
        {"name": "s", "task": {"labels": ["negative", "neutral", "positive"]},
         "dataset": {"path": "all.csv", "split_field": "split", "split_values": {"validation": "dev"},
                     "fields": {"input": "text", "target": "label", "id": "id"}},
         "models": [{"id": "clf", "provider": "builtin", "role": "small"}]}
        """
        let dataset = try DatasetLoader.load(try Fixtures.experiment(config, in: dir))
        #expect((dataset.train.count, dataset.validation.count, dataset.test.count) == (30, 5, 5))

        let ratioConfig = config.replacingOccurrences(of: "\"split_field\": \"split\", \"split_values\": {\"validation\": \"dev\"}",
                                                      with: "\"split_ratios\": {\"train\": 0.5, \"validation\": 0.25, \"test\": 0.25}, \"seed\": 3")
        let first = try DatasetLoader.load(try Fixtures.experiment(ratioConfig, in: dir))
        let second = try DatasetLoader.load(try Fixtures.experiment(ratioConfig, in: dir))
        #expect((first.train.count, first.validation.count, first.test.count) == (20, 10, 10))
        #expect(first.test.map(\.id) == second.test.map(\.id))
        #expect(Set(first.train.map(\.id) + first.validation.map(\.id) + first.test.map(\.id)).count == 40)
    }

    @Test func emptyTestSplitIsAnError() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(Fixtures.jsonl([("1", "a", "neutral")]), to: "train.jsonl", in: dir)
        try Fixtures.write("\n", to: "test.jsonl", in: dir)
        let config = """
        {"name": "s", "task": {"labels": ["neutral"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label"}},
         "models": [{"id": "clf", "provider": "builtin", "role": "small"}]}
        """
        #expect { try DatasetLoader.load(try Fixtures.experiment(config, in: dir)) } throws: { error in
            "\(error)".contains("the test split is empty")
        }
    }

    @Test func aDuplicatedExampleIdIsAnErrorWithBothLines() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write(Fixtures.jsonl([("1", "a", "neutral")]), to: "train.jsonl", in: dir)
        try Fixtures.write(Fixtures.jsonl([("x", "first", "neutral"), ("y", "other", "neutral"), ("x", "second", "neutral")]), to: "test.jsonl", in: dir)
        let config = """
        {"name": "s", "task": {"labels": ["neutral"]},
         "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
         "models": [{"id": "clf", "provider": "builtin", "role": "small"}]}
        """
        #expect { try DatasetLoader.load(try Fixtures.experiment(config, in: dir)) } throws: { error in
            "\(error)" == "test.jsonl:3: example id \"x\" again (first at test.jsonl:1); ids must be unique within a split, as results are keyed by them"
        }
    }

    @Test func aByteOrderMarkIsNotPartOfTheFirstField() throws {
        let dir = try Fixtures.temporaryDirectory()
        let csv = try Fixtures.write("\u{FEFF}id,text,label\r\n1,hello,neutral\r\n", to: "excel.csv", in: dir)
        #expect(try DatasetLoader.loadFile(csv, fields: fields, labels: labels).map(\.example.id) == ["1"])
        let jsonl = try Fixtures.write("\u{FEFF}{\"id\": \"a\", \"text\": \"x\", \"label\": \"neutral\"}\n", to: "bom.jsonl", in: dir)
        #expect(try DatasetLoader.loadFile(jsonl, fields: fields, labels: labels).map(\.example.id) == ["a"])
    }

    @Test func everyBadLineOfEveryFileIsReportedAtOnce() throws {
        let dir = try Fixtures.temporaryDirectory()
        try Fixtures.write("{\"id\": \"1\", \"text\": \"a\", \"label\": \"neutral\"}\n{\"id\": \"2\"}\n{\"id\": \"3\", \"text\": \"c\", \"label\": \"angry\"}\n",
                           to: "train.jsonl", in: dir)
        try Fixtures.write("id,text,label\n1,x,neutral\n2,y\n", to: "test.csv", in: dir)
        let config = """
        {"name": "s", "task": {"labels": ["neutral"]},
         "dataset": {"train": "train.jsonl", "test": "test.csv", "fields": {"input": "text", "target": "label", "id": "id"}},
         "models": [{"id": "clf", "provider": "builtin", "role": "small"}]}
        """
        #expect { try DatasetLoader.load(try Fixtures.experiment(config, in: dir)) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("3 problems in the data:") && text.contains("train.jsonl:2: missing field \"text\"")
                && text.contains("train.jsonl:3: label \"angry\"") && text.contains("test.csv:3: 2 fields where the header has 3")
        }
        // A long list shows the first twenty and counts the rest.
        try Fixtures.write((0..<30).map { "{\"id\": \"\($0)\"}" }.joined(separator: "\n"), to: "train.jsonl", in: dir)
        #expect { try DatasetLoader.load(try Fixtures.experiment(config, in: dir)) } throws: { "\($0)".contains("… and 11 more") }
    }
}
