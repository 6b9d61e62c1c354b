import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import EvalKit

/// report.html opened in headless Chromium (Debian's `chromium`, installed here when missing): what the
/// page shows is read back from the DOM Chromium serialises after the page's script ran.
@Suite(.serialized) struct HTMLReportTests {
    /// The Chromium binary, installed with apt-get when the machine has none.
    static func chromium() async throws -> String {
        let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        let install = try TestProcess("/usr/bin/env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "chromium"])
        _ = await install.finished()
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw FixtureError("headless Chromium is needed for the report.html tests and `apt-get install chromium` failed: \(install.errorOutput.suffix(400))")
        }
        return found
    }

    /// The DOM of `file` (with `fragment`) after its script ran.
    static func dom(_ file: String, fragment: String = "") async throws -> String {
        let profile = try Fixtures.temporaryDirectory()
        let browser = try TestProcess(try await chromium(), [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--user-data-dir=\(profile)", "--virtual-time-budget=10000", "--dump-dom",
            URL(fileURLWithPath: file).absoluteString + fragment,
        ])
        let status = await browser.finished()
        guard status == 0 else { throw FixtureError("chromium exited \(status): \(browser.errorOutput.suffix(600))") }
        return browser.output
    }

    /// The values of `attribute` on the elements of `dom` that carry it, in document order.
    static func attributeValues(_ attribute: String, in dom: String) -> [String] {
        dom.components(separatedBy: " \(attribute)=\"").dropFirst().compactMap { $0.split(separator: "\"", maxSplits: 1).first.map(String.init) }
    }

    @Test func markdownBecomesEscapedHTML() {
        let html = MarkdownHTML.html("""
        # Title <b>
        <!-- run-header: hidden -->
        Text with **bold**, `code <x>`, \\| a pipe, &lt;script&gt; and [a file](latency.svg), [bad](javascript:alert(1)), [out](../x).

        - one
          - nested <i>
        - two

        | a | b |
        | --- | ---: |
        | x \\| y | 1.5 |

        ![chart](latency.svg)
        """, images: ["latency.svg": "data:image/svg+xml;base64,AAAA"])
        #expect(html.contains("<h1 id=\"title-b\">Title &lt;b&gt;</h1>"))
        #expect(!html.contains("run-header") && !html.contains("<!--"))
        #expect(html.contains("<strong>bold</strong>") && html.contains("<code>code &lt;x&gt;</code>"))
        // A link to a scheme keeps its words and loses its target (the target ends at its first ")").
        #expect(html.contains("| a pipe, &lt;script&gt; and <a href=\"latency.svg\">a file</a>, bad), out."))
        #expect(html.contains("<ul><li>one<ul><li>nested &lt;i&gt;</li></ul></li><li>two</li></ul>"))
        #expect(html.contains("<td>x | y</td><td class=\"num\">1.5</td>"))
        #expect(html.contains("<figure><img src=\"data:image/svg+xml;base64,AAAA\" alt=\"chart\">"))
    }

    @Test func reportPageShowsTheRunAndKeepsHostileTextAsText() async throws {
        let server = try await FakeLLMServer()
        defer { Task { await server.stop() } }
        // Anything that loads from this port would be a request leaving the page.
        let watcher = boundSocket(listening: true)
        defer { close(watcher.fd) }
        _ = fcntl(watcher.fd, F_SETFL, fcntl(watcher.fd, F_GETFL) | O_NONBLOCK)
        let leak = "http://127.0.0.1:\(watcher.port)"
        let hostile = ["ECHO <img src=\"\(leak)/img\" onerror=\"document.body.dataset.pwned=1\">",
                       "ECHO </script><script>document.body.dataset.pwned=1;fetch('\(leak)/script')</script>",
                       "ECHO <link rel=stylesheet href=\"\(leak)/css\"> <iframe src=\"\(leak)/frame\"></iframe> \u{202E}x",
                       "love it", "hate it", "meh", "ECHO [click](javascript:alert(1)) <!-- ]]>", "great", "awful", "fine"]
        let dir = try Fixtures.temporaryDirectory()
        let config = try ReliabilityTests.writeExperiment(in: dir, url: server.baseURL, n: hostile.count, inputs: { hostile[$0] })
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let page = dir + "/run/" + HTMLReport.fileName
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-"))
        #expect(!html.contains("<img src=\"http") && !html.contains("</script><script>document"))

        // The report as the page shows it: the decision and every candidate row of Step 3.
        let report = try await Self.dom(page)
        #expect(report.contains("data-ready=\"report\""))
        #expect(report.contains("<h2 id=\"decision\">Decision</h2>"))
        let summary = try RunFolderCommands.summary(of: dir + "/run")
        let decisionLine = try #require(DecisionReport.markdown(summary).split(separator: "\n").first { $0.hasPrefix("**") })
        let verdict = String(decisionLine.dropFirst(2).prefix { $0 != "*" })
        #expect(report.contains("<strong>" + MarkdownHTML.escape(verdict) + "</strong>"), "verdict \(verdict)")
        // Step 3's table has the candidate's row, with the accuracy summary.csv holds.
        let row = try #require(summary.metrics.first)
        #expect(report.contains("<tr><td>\(MarkdownHTML.escape(row.candidate))"))
        #expect(report.contains("<td class=\"num\">\(Format.percent(row.accuracy))</td>"))

        // The example browser filtered to wrong answers lists exactly the examples results.jsonl says.
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        let wrong = results.filter { $0.error == nil && $0.label != nil && $0.score < 1 }.map(\.exampleID)
        #expect(!wrong.isEmpty)
        let filtered = try await Self.dom(page, fragment: "#examples?candidate=api:p&outcome=wrong")
        #expect(filtered.contains("data-ready=\"examples\""))
        #expect(Self.attributeValues("data-example", in: filtered) == wrong.sorted())
        let searched = try await Self.dom(page, fragment: "#examples?q=hate")
        #expect(Self.attributeValues("data-example", in: searched) == results.filter { $0.output?.contains("hate") == true || hostile[Int($0.exampleID.dropFirst()) ?? 0].contains("hate") }.map(\.exampleID).sorted())

        // Hostile inputs and outputs are text: no element, script or request came from them.
        let everything = try await Self.dom(page, fragment: "#examples")
        #expect(Self.attributeValues("data-example", in: everything).count == hostile.count)
        #expect(everything.contains("&lt;img src=\"\(leak)/img\""))
        #expect(everything.contains("&lt;/script&gt;&lt;script&gt;document.body.dataset.pwned=1"))
        for shown in [everything, report, filtered] {
            #expect(!shown.contains("data-pwned"))
            #expect(!shown.contains("<img src=\"\(leak)") && !shown.contains("<iframe") && !shown.contains("<link rel=\"stylesheet\" href=\"\(leak)"))
        }
        let pairs = try await Self.dom(page, fragment: "#pairs")
        #expect(pairs.contains("data-ready=\"pairs\""))
        #expect(accept(watcher.fd, nil, nil) < 0, "a request left the page")
    }

    @Test func anExtractionRunFiltersByTheFieldThatWasWrong() async throws {
        let server = try await FakeLLMServer()
        defer { Task { await server.stop() } }
        let dir = try Fixtures.temporaryDirectory()
        // Echoed, each input's JSON is the answer: the total is right for even ids and wrong for odd ones.
        let rows = (0..<6).map { i -> String in
            let target = JSON.object([("name", .string("Person \(i)")), ("total", .number(Double(i * 10)))])
            let answer = JSON.object([("name", .string("person \(i)")), ("total", .string(i % 2 == 0 ? "\(i * 10)" : "999"))])
            return JSON.object([("id", .string("e\(i)")), ("text", .string("ECHO " + answer.encoded())), ("fields", target)]).encoded()
        }
        _ = try Fixtures.write(rows.joined(separator: "\n"), to: "data.jsonl", in: dir)
        _ = try Fixtures.write("{{input}}\nJSON:", to: "echo.txt", in: dir)
        let config = try Fixtures.write("""
        {"name": "people", "task": {"type": "extraction"},
         "dataset": {"train": "data.jsonl", "test": "data.jsonl", "fields": {"input": "text", "target": "fields", "id": "id"}},
         "prompts": [{"id": "echo", "user": "echo.txt"}],
         "models": [{"id": "m", "provider": "openai", "role": "foundation", "options": {"base_url": "\(server.baseURL)", "model": "m", "endpoint": "completions"}}]}
        """, to: "evalkit.json", in: dir)
        var options = CompareOptions()
        options.outDirectory = dir + "/run"
        _ = try await CompareRun.run(try Preparation.prepare(configPath: config), options: options)
        let results = try ResultsJournal.read(path: dir + "/run/results.jsonl")
        let wrongTotal = results.filter { $0.scoreParts.contains { $0.name == "field.total" && $0.value < 1 } }.map(\.exampleID).sorted()
        #expect(wrongTotal == ["e1", "e3", "e5"])
        let dom = try await Self.dom(dir + "/run/" + HTMLReport.fileName, fragment: "#examples?part=field.total")
        #expect(Self.attributeValues("data-example", in: dom) == wrongTotal)
        #expect(dom.contains("field.total 0.00"))
        let names = try await Self.dom(dir + "/run/" + HTMLReport.fileName, fragment: "#examples?part=field.name")
        #expect(Self.attributeValues("data-example", in: names).isEmpty)
    }

    /// The status line and body of a plain HTTP/1.1 request to 127.0.0.1 (the server closes after answering).
    static func fetch(_ method: String, _ path: String, port: Int) -> (status: String, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { return ("no connection", "") }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var answer: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        return (parts.first?.components(separatedBy: "\r\n").first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func viewServesTheFolderOnlyAndStopsOnInterrupt() async throws {
        let dir = try Fixtures.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        try "<!DOCTYPE html><p>page</p>".write(toFile: dir + "/run/report.html", atomically: true, encoding: .utf8)
        try "secret".write(toFile: dir + "/outside.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/run/link.txt", withDestinationPath: dir + "/outside.txt")
        let view = try TestProcess.evalkit(["view", dir + "/run"], in: dir)
        #expect(await eventually { view.output.contains("Ctrl-C stops") || view.hasFinished })
        let port = try #require(view.output.split(separator: ":").dropFirst(2).first.flatMap { Int($0.prefix { $0.isNumber }) }, "\(view.output)")
        let page = Self.fetch("GET", "/", port: port)
        #expect(page.status == "HTTP/1.1 200 OK" && page.body.contains("<p>page</p>"))
        #expect(Self.fetch("HEAD", "/report.html", port: port).status == "HTTP/1.1 200 OK")
        for escape in ["/../outside.txt", "/%2e%2e/outside.txt", "/link.txt", "/nothing.html"] {
            #expect(Self.fetch("GET", escape, port: port).status == "HTTP/1.1 404 Not Found", "\(escape)")
        }
        #expect(Self.fetch("POST", "/report.html", port: port).status == "HTTP/1.1 405 Method Not Allowed")
        view.signal(SIGINT)
        #expect(await view.finished() == 0)
        #expect(view.output.contains("Stopped."))
        #expect(Self.fetch("GET", "/", port: port).status == "no connection")

        let missing = try TestProcess.evalkit(["view", dir], in: dir)
        #expect(await missing.finished() == 2)
        #expect(missing.errorOutput.contains("not a run folder"))
    }
}

/// The charts: round ticks, whole names, labels inside the picture and apart, no empty panel.
struct ChartLayoutTests {
    /// Every <text> of an SVG with its x, y, anchor, size and content.
    static func texts(_ svg: String) -> [(x: Double, y: Double, anchor: String, size: Double, text: String)] {
        // Rotated axis titles are left out: their x and y are not where their text runs.
        svg.components(separatedBy: "<text ").dropFirst().filter { !$0.prefix { $0 != ">" }.contains("transform=") }.compactMap { chunk in
            func attribute(_ name: String) -> String? {
                let tag = " " + chunk.prefix { $0 != ">" }
                return tag.components(separatedBy: " \(name)=\"").dropFirst().first?.split(separator: "\"", maxSplits: 1).first.map(String.init)
            }
            guard let x = attribute("x").flatMap(Double.init), let y = attribute("y").flatMap(Double.init),
                  let body = chunk.split(separator: ">", maxSplits: 1).dropFirst().first?.components(separatedBy: "</text>").first else { return nil }
            return (x, y, attribute("text-anchor") ?? "start", attribute("font-size").flatMap(Double.init) ?? 12, body)
        }
    }

    static func width(_ svg: String) -> Double {
        Double(svg.components(separatedBy: "width=\"").dropFirst().first?.split(separator: "\"").first ?? "0") ?? 0
    }

    /// True when every text's estimated box (0.6 em a character) lies inside the picture.
    static func textsInside(_ svg: String) -> Bool {
        let w = width(svg)
        let outside = texts(svg).filter { t in
            let len = Charts.textWidth(t.text, size: t.size)
            let x0 = t.anchor == "end" ? t.x - len : (t.anchor == "middle" ? t.x - len / 2 : t.x)
            return x0 < -0.5 || x0 + len > w + 0.5
        }
        if !outside.isEmpty { Issue.record("outside the \(w)-px picture: \(outside.map { "\"\($0.text)\" at \($0.x)" })") }
        return outside.isEmpty
    }

    @Test func ticksAreRoundValues() {
        #expect(Charts.niceTicks(0.728, 1.313, count: 4) == [0.8, 1.0, 1.2])
        #expect(Charts.niceTicks(0, 30, count: 5) == [0, 5, 10, 15, 20, 25, 30])
        #expect(Charts.niceTicks(0, 1, count: 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { ($0 * 10).rounded() / 10 } || Charts.niceTicks(0, 1, count: 5).count == 6)
        #expect(Charts.niceTicks(0.2868, 2.39, count: 4).map { ($0 * 100).rounded() / 100 } == [0.5, 1.0, 1.5, 2.0])
        #expect(Charts.niceLabel(0.5, step: 0.5) == "0.5" && Charts.niceLabel(1.0, step: 0.5) == "1.0" && Charts.niceLabel(20, step: 5) == "20")
        let points = (1...8).map { TrainingPoint(step: Double($0 * 10), trainLoss: 2.3 / Double($0), validationLoss: 0.7 + 0.01 * Double($0)) }
        let svg = Charts.trainingCurves(points, title: "t", unit: "step", markStep: 50)
        let labels = Self.texts(svg).filter { $0.anchor == "end" }.map(\.text)
        #expect(labels.allSatisfy { Double($0).map { v in (v * 10).rounded() == v * 10 } ?? false }, "\(labels)")
    }

    @Test func aCurveWithoutAccuracyDrawsOnePanel() {
        let points = (1...5).map { TrainingPoint(step: Double($0), trainLoss: 1 / Double($0), validationLoss: 1.2 / Double($0)) }
        let svg = Charts.trainingCurves(points, title: "model: training curves (a/very/long/path/to/some/trainer_state.json of a run)", unit: "step", markStep: nil)
        #expect(!svg.contains("no accuracy was logged") && !svg.contains(">accuracy<"))
        #expect(svg.components(separatedBy: "fill=\"none\" stroke=\"#444\"").count - 1 == 1)
        #expect(Self.textsInside(svg), "a text leaves the picture")
        #expect(XMLParser(data: Data(svg.utf8)).parse())
    }

    @Test func namesAreWholeAndLabelsStayInsideAndApart() {
        let long = "gemma-270m-likelihood:raw-fewshot-with-a-longer-name"
        let bars = [Charts.LatencyBar(label: long, p50: 1800, p95: 9_900), .init(label: "b", p50: 0.07, p95: 0.09)]
        let latency = Charts.latency(bars, title: "latency")
        #expect(latency.contains(">\(long)<") && Self.textsInside(latency))
        // Points 3, 4 and 5 at almost the same place: their number labels must not overlap.
        let points = [Charts.CostPoint(label: long, costPer1k: 0.73, accuracy: 0.0, low: 0, high: 0.015),
                      .init(label: "b", costPer1k: 0.73, accuracy: 0.096, low: 0.065, high: 0.139),
                      .init(label: "c", costPer1k: 0.73, accuracy: 0.352, low: 0.295, high: 0.413),
                      .init(label: "d", costPer1k: 0.73, accuracy: 0.336, low: 0.28, high: 0.397),
                      .init(label: "e", costPer1k: 0.73, accuracy: 0.368, low: 0.311, high: 0.429),
                      .init(label: "f", costPer1k: 0.0001, accuracy: 0.69, low: 0.63, high: 0.75)]
        let chart = Charts.accuracyVersusCost(points, title: "accuracy vs cost")
        #expect(chart.contains(">1. \(long)<") && Self.textsInside(chart))
        let numbers = Self.texts(chart).filter { $0.size == 11 && Int($0.text) != nil }
        #expect(numbers.count == points.count)
        for (i, a) in numbers.enumerated() {
            for b in numbers.dropFirst(i + 1) {
                let apart = abs(a.x - b.x) >= Charts.textWidth(a.text, size: 11) || abs(a.y - b.y) >= 11
                #expect(apart, "labels \(a.text) and \(b.text) overlap")
            }
        }
    }
}
