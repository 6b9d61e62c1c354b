import EvalKit
import Foundation
import Testing

@Suite struct SupportTests {
    @Test func sha256MatchesFIPSVectors() {
        // FIPS 180-2 appendix B test vectors.
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // The same million bytes fed in uneven pieces, contiguous and not, across block boundaries.
        var pieces = SHA256()
        var fed = 0
        for (i, size) in [1, 63, 64, 65, 127, 500, 7].cycled(until: 1_000_000).enumerated() {
            let count = min(size, 1_000_000 - fed)
            if i % 2 == 0 { pieces.update([UInt8](repeating: UInt8(ascii: "a"), count: count)) } else { pieces.update((0..<count).lazy.map { _ in UInt8(ascii: "a") }) }
            fed += count
        }
        #expect(pieces.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func jsonRoundTripKeepsKeyOrderAndEscapes() throws {
        let text = #"{"b":1,"a":[true,null,-2.5,"x\"y\n\u00e9\ud83d\ude00"],"c":{}}"#
        let value = try JSON.parse(text)
        #expect(value["a"]?.arrayValue?[3].stringValue == "x\"y\né😀")
        #expect(value.encoded() == #"{"b":1,"a":[true,null,-2.5,"x\"y\né😀"],"c":{}}"#)
        #expect(try JSON.parse(value.encoded()) == value)
        #expect(JSON.string("<script>").encoded() == #""\u003cscript>""#)
    }

    @Test func jsonErrorsGiveLineAndColumn() {
        #expect { try JSON.parse("{\n  \"a\": tru\n}") } throws: { error in
            guard let e = error as? JSONParseError else { return false }
            return e.line == 2 && e.column == 8
        }
        #expect(throws: JSONParseError.self) { try JSON.parse("[1, 2") }
        #expect(throws: JSONParseError.self) { try JSON.parse("{\"a\": 1} x") }
    }

    @Test func csvCellsQuoteAndNeutraliseFormulas() throws {
        #expect(CSV.cell("plain") == "plain")
        #expect(CSV.cell("a,b") == "\"a,b\"")
        #expect(CSV.cell("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSV.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSV.cell("-0.5") == "-0.5")
        let row = CSV.row(["a,b", "line\nbreak", "=1+1", "x"])
        let parsed = try CSV.parse(row)
        #expect(parsed.first?.fields == ["a,b", "line\nbreak", "'=1+1", "x"])
    }

    @Test func argumentsParseOptionsFlagsAndPositionals() throws {
        let spec = ArgumentSpec(valueOptions: ["out", "limit"], flags: ["dry-run"])
        let parsed = try spec.parse(["cfg.json", "--out", "dir", "--limit=5", "--dry-run"])
        #expect(parsed.positionals == ["cfg.json"])
        #expect(parsed.options == ["out": "dir", "limit": "5"])
        #expect(parsed.flags == ["dry-run"])
        #expect(try parsed.positiveInt("limit") == 5)
        #expect { try spec.parse(["--lmit", "3"]) } throws: { "\($0)" == "unknown option --lmit (did you mean --limit?)" }
        #expect { try spec.parse(["--out"]) } throws: { "\($0)" == "--out needs a value" }
        #expect { try spec.parse(["a", "b"]) } throws: { "\($0)" == "unexpected argument \"b\"" }
        #expect { try spec.parse(["--limit", "zero"]).positiveInt("limit") } throws: { "\($0)".contains("positive whole number") }
    }

    @Test func markdownCellsCannotBreakTables() {
        #expect(Markdown.cell("a|b\nc <img src=x>") == "a\\|b c &lt;img src=x&gt;")
        let table = Markdown.table(["h"], [["x|y"]])
        #expect(table == "| h |\n| --- |\n| x\\|y |\n")
    }

    @Test func csvKeepsQuotedEmptyRowsAndEndsRecordsAtALoneCR() throws {
        #expect(try CSV.parse("a\n\"\"\nb\n").map(\.fields) == [["a"], [""], ["b"]])
        #expect(try CSV.parse("a,b\r1,2\r3,4").map(\.fields) == [["a", "b"], ["1", "2"], ["3", "4"]])
        #expect(try CSV.parse("a,b\r\n1,2\r\n\r\n").map(\.fields) == [["a", "b"], ["1", "2"]])
        #expect(try CSV.parse("\"x\r\ny\",z\n").map(\.fields) == [["x\r\ny", "z"]])
    }

    @Test func jsonFollowsTheGrammarAndKeepsEveryCharacter() throws {
        // A lone high surrogate becomes U+FFFD and the escape after it is kept.
        #expect(try JSON.parse(#""\uD800\u0041""#) == .string("\u{FFFD}A"))
        #expect(try JSON.parse(#""\uD83D\uDE00""#) == .string("😀"))
        for bad in ["007", "1.", "-.5", "1e400", "-", "1e", "01.5", "+1"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSON.parse(bad) }
        }
        for good in ["0", "-0", "1.5", "-2.25e-3", "10E+2", "123456789"] { #expect(throws: Never.self) { _ = try JSON.parse(good) } }
        #expect(JSON.number(1.5).intValue == nil && JSON.number(1e300).intValue == nil && JSON.number(-3).countValue == nil && JSON.number(7).countValue == 7)
    }
}

extension Array where Element == Int {
    /// The sizes repeated until they add up to at least `total`.
    func cycled(until total: Int) -> [Int] {
        var out: [Int] = []
        var sum = 0
        while sum < total { for size in self where sum < total { out.append(size); sum += size } }
        return out
    }
}
