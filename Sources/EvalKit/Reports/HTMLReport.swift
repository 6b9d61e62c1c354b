import Foundation

/// report.html: report.md as one self-contained page (inline style, script and charts; a
/// Content-Security-Policy that allows nothing from elsewhere), with sortable tables, an example browser
/// and a pair view over the run's results. Every string from the data reaches the page as JSON and is
/// put into the document as text by the script, never as markup.
public enum HTMLReport {
    public static let fileName = "report.html"
    /// Stands for the example's input in a prompt rendered once per prompt (the page puts each input in).
    public static let inputMarker = "\u{E000}evalkit-input\u{E001}"

    /// Writes the page for `summary` to `path` (through a temporary file renamed into place); `charts` maps
    /// the file names report.md links (e.g. latency.svg) to their SVG. The data goes out as it is encoded,
    /// a megabyte at a time: a run of a million results never holds its page in memory.
    public static func write(_ summary: RunSummary, markdown: String, charts: [String: String], to path: String) throws(ReportError) {
        let (head, tail) = frame(summary, markdown: markdown, charts: charts)
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw .cannotWrite(path: path, reason: "cannot create \(temporary)")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var failure: String? = nil
        func flush(_ bytes: inout [UInt8]) {
            guard failure == nil, !bytes.isEmpty else { bytes.removeAll(keepingCapacity: true); return }
            do { try handle.write(contentsOf: bytes) } catch { failure = error.localizedDescription }
            bytes.removeAll(keepingCapacity: true)
        }
        buffer.append(contentsOf: head.utf8)
        writeData(summary, into: &buffer) { flush(&$0) }
        buffer.append(contentsOf: tail.utf8)
        flush(&buffer)
        try? handle.close()
        if let failure {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .cannotWrite(path: path, reason: failure)
        }
        guard rename(temporary, path) == 0 else {
            throw .cannotWrite(path: path, reason: "cannot move \(temporary) into place: \(String(cString: strerror(errno)))")
        }
    }

    /// The page before and after its data.
    static func frame(_ summary: RunSummary, markdown: String, charts: [String: String]) -> (String, String) {
        var images: [String: String] = [:]
        for (name, svg) in charts { images[name] = "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString() }
        let body = MarkdownHTML.html(markdown, images: images)
        let csp = "default-src 'none'; script-src '\(hash(script))'; style-src '\(hash(style))'; img-src data:; base-uri 'none'; form-action 'none'"
        let title = MarkdownHTML.escape(summary.experiment.name + ": decision report")
        let head = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="\(csp)">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>\(title)</title>
        <style>\(style)</style>
        </head>
        <body>
        <nav class="tabs"><a href="#report" data-tab="report">Report</a> <a href="#examples" data-tab="examples">Examples</a> <a href="#pairs" data-tab="pairs">Pair view</a></nav>
        <main>
        <section id="report-view">
        \(body)</section>
        <section id="examples-view" hidden>
        <h2>Examples</h2>
        <form id="filters" class="controls" autocomplete="off">
        <label>Candidate <select id="f-candidate"></select></label>
        <label>Outcome <select id="f-outcome"><option value="">any</option><option value="right">right</option><option value="wrong">wrong</option><option value="invalid">no answer read</option><option value="failed">failed call</option></select></label>
        <label>Against the reference <select id="f-flip"><option value="">any</option><option value="fixed">fixed: reference wrong, this right</option><option value="broken">broken: reference right, this wrong</option></select></label>
        <label>Target <select id="f-target"><option value="">any</option></select></label>
        <label>Score part below 1 <select id="f-part"><option value="">any</option></select></label>
        <label>Search <input id="f-search" type="search" placeholder="input, output or id"></label>
        </form>
        <p id="examples-count" class="count"></p>
        <div id="examples-list"></div>
        <p class="pager"><button type="button" id="prev">Previous</button> <span id="page"></span> <button type="button" id="next">Next</button></p>
        </section>
        <section id="pairs-view" hidden>
        <h2>Pair view</h2>
        <p>Two candidates side by side on the examples where their answers differ (first repeat).</p>
        <form class="controls" autocomplete="off"><label>A <select id="p-a"></select></label> <label>B <select id="p-b"></select></label></form>
        <p id="pairs-count" class="count"></p>
        <table id="pairs-table" class="pairs"><thead><tr><th>example</th><th>input</th><th>target</th><th id="pairs-a">A</th><th id="pairs-b">B</th></tr></thead><tbody></tbody></table>
        <p class="pager"><button type="button" id="p-prev">Previous</button> <span id="p-page"></span> <button type="button" id="p-next">Next</button></p>
        </section>
        </main>
        <script type="application/json" id="evalkit-data">
        """
        let tail = """
        </script>
        <script>\(script)</script>
        </body>
        </html>

        """
        return (head, tail)
    }

    /// The rendered prompt of each prompt with `inputMarker` for the input (fixed few-shot prompts show their
    /// examples; a similar-example prompt's examples are chosen per input and shown as the template has them).
    public static func promptPreviews(_ builders: [String: PromptBuilder]) -> [String: RenderedPrompt] {
        builders.mapValues { $0.render(input: inputMarker) }
    }

    /// The run's examples and results as compact JSON, appended to `out` (handed to `flush` whenever it
    /// passes a megabyte): each result a row of numbers, its strings (outputs, answers, errors) stored once
    /// in `strings`. JSON strings are written with "<" escaped, so nothing in them can close the element.
    static func writeData(_ s: RunSummary, into out: inout [UInt8], flush: (inout [UInt8]) -> Void) {
        func ascii(_ text: String) { out.append(contentsOf: text.utf8) }
        func number(_ v: Double) { JSON.appendNumber(v, to: &out) }
        func quoted(_ text: String) { JSON.appendQuoted(text, to: &out) }
        func optional(_ text: String?) { if let text { quoted(text) } else { ascii("null") } }
        var strings: [String] = [], stringIndex: [String: Int] = [:]
        func interned(_ value: String?) {
            guard let value else { ascii("null"); return }
            if let i = stringIndex[value] { ascii(String(i)); return }
            stringIndex[value] = strings.count
            ascii(String(strings.count))
            strings.append(value)
        }
        var exampleIndex: [String: Int] = [:]
        for e in s.examples where exampleIndex[e.id] == nil { exampleIndex[e.id] = exampleIndex.count }
        // Score parts (extraction fields, F1 parts, the judge's grade) by name, each row listing its own.
        var parts: [String] = [], partIndex: [String: Int] = [:]
        // Examples only the results name (re-rendered without the dataset): their id and target.
        var extra: [(id: String, target: String)] = []
        let e = s.experiment

        ascii("{\"schema\":1,\"task\":"); quoted(e.task.type.rawValue)
        ascii(",\"labels\":["); for (i, label) in e.task.labels.enumerated() { if i > 0 { ascii(",") }; quoted(label) }
        ascii("],\"reference\":"); optional(s.analysis.referenceID)
        ascii(",\"recommended\":"); optional(s.analysis.recommended?.id)
        ascii(",\"marker\":"); quoted(inputMarker)
        ascii(",\"candidates\":[")
        for (c, candidate) in e.candidates.enumerated() {
            let prompt = candidate.promptID.flatMap { s.promptPreviews[$0] }
            let dynamic = candidate.promptID.flatMap { e.prompt($0)?.examples.isDynamic } ?? false
            if c > 0 { ascii(",") }
            ascii("{\"id\":"); quoted(candidate.id)
            ascii(",\"model\":"); quoted(candidate.modelID)
            ascii(",\"prompt\":"); optional(candidate.promptID)
            ascii(",\"kind\":"); quoted(e.model(candidate.modelID).map(kind) ?? "")
            ascii(",\"system\":"); optional(prompt?.system)
            ascii(",\"user\":"); optional(prompt?.user)
            ascii(",\"similar\":"); ascii(dynamic ? "true}" : "false}")
        }
        ascii("],\"columns\":[\"candidate\",\"example\",\"repeat\",\"outcome\",\"score\",\"output\",\"answer\",\"error\",\"latency_ms\",\"cost_usd\",\"parts\"]")
        ascii(",\"results\":[")
        var first = true
        for (c, column) in s.results.enumerated() where c < e.candidates.count {
            for r in column {
                let x: Int
                if let known = exampleIndex[r.exampleID] { x = known } else {
                    x = exampleIndex.count
                    exampleIndex[r.exampleID] = x
                    extra.append((r.exampleID, r.target))
                }
                // Outcome: 0 wrong, 1 right, 2 no answer read, 3 failed call.
                let outcome = r.error != nil ? 3 : (r.label == nil ? 2 : (r.score >= 1 ? 1 : 0))
                ascii(first ? "[" : ",["); first = false
                ascii("\(c),\(x),\(r.repeatIndex),\(outcome),")
                number(r.score); ascii(",")
                interned(r.output); ascii(",")
                interned(r.label); ascii(",")
                interned(r.error); ascii(",")
                number(ExampleResult.roundLatency(r.latencyMs)); ascii(",")
                if let cost = r.costUSD { number(cost) } else { ascii("null") }
                if !r.scoreParts.isEmpty {
                    ascii(",[")
                    for (k, part) in r.scoreParts.enumerated() {
                        let index: Int
                        if let known = partIndex[part.name] { index = known } else {
                            index = parts.count
                            partIndex[part.name] = index
                            parts.append(part.name)
                        }
                        ascii(k > 0 ? ",[" : "["); ascii(String(index)); ascii(","); number(part.value); ascii("]")
                    }
                    ascii("]")
                }
                ascii("]")
                if out.count >= 1 << 20 { flush(&out) }
            }
        }
        ascii("],\"examples\":[")
        for (i, example) in s.examples.enumerated() {
            if i > 0 { ascii(",") }
            ascii("["); quoted(example.id); ascii(","); quoted(example.input); ascii(","); quoted(example.target); ascii("]")
            if out.count >= 1 << 20 { flush(&out) }
        }
        for (i, example) in extra.enumerated() {
            if i > 0 || !s.examples.isEmpty { ascii(",") }
            ascii("["); quoted(example.id); ascii(",null,"); quoted(example.target); ascii("]")
        }
        ascii("],\"parts\":[")
        for (i, name) in parts.enumerated() { if i > 0 { ascii(",") }; quoted(name) }
        ascii("],\"strings\":[")
        for (i, text) in strings.enumerated() {
            if i > 0 { ascii(",") }
            quoted(text)
            if out.count >= 1 << 20 { flush(&out) }
        }
        ascii("]}")
    }

    /// What kind of model a candidate is, in words a reviewer needs (a trained classifier is no fine-tuned LLM).
    static func kind(_ model: ModelSpec) -> String {
        if model.provider.name == "builtin" { return "trained classifier (evalkit builtin)" }
        switch model.role {
        case .foundation: return "foundation model, prompted"
        case .small: return "small model, prompted"
        case .fineTuned: return "fine-tuned model"
        }
    }

    /// The CSP source of an inline element: its SHA-256, base64.
    static func hash(_ text: String) -> String {
        "sha256-" + Data(SHA256.digest(Array(text.utf8))).base64EncodedString()
    }

    static let style = """
    :root{color-scheme:light;--fg:#1b1b1b;--muted:#555;--line:#ccc;--accent:#0060a8;--ok:#1a7f37;--bad:#b3261e}
    body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0}
    main{max-width:1200px;margin:0 auto;padding:0 1.2em 3em}
    .tabs{position:sticky;top:0;background:#f4f6f8;border-bottom:1px solid var(--line);padding:.5em 1.2em;z-index:1}
    .tabs a{margin-right:1.2em;color:var(--accent);text-decoration:none;font-weight:600}
    .tabs a.active{color:var(--fg);border-bottom:2px solid var(--fg)}
    table{border-collapse:collapse;margin:.8em 0;font-size:13px;display:block;overflow-x:auto}
    th,td{border:1px solid var(--line);padding:.25em .5em;vertical-align:top;text-align:left}
    th.num,td.num{text-align:right;white-space:nowrap}
    table.sortable th{cursor:pointer;background:#f4f6f8}
    th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
    code{background:#f0f0f0;padding:0 .2em}
    figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{color:var(--muted);font-size:13px}
    .controls{display:flex;flex-wrap:wrap;gap:.6em 1.2em;margin:.6em 0}
    .controls label{font-size:13px;color:var(--muted)}
    .count{color:var(--muted)}
    .example{border:1px solid var(--line);border-radius:4px;padding:.6em .8em;margin:.8em 0}
    .example h3{font-size:15px;margin:0 0 .3em}
    .text{white-space:pre-wrap;word-break:break-word;background:#fafafa;border:1px solid #eee;padding:.3em .5em;margin:.2em 0}
    .right{color:var(--ok);font-weight:600}.wrong{color:var(--bad);font-weight:600}
    .pairs td{max-width:28em}
    details{margin:.3em 0}summary{cursor:pointer;color:var(--accent)}
    @media print{.tabs,.controls,.pager{display:none}section[hidden]{display:block}table{display:table;overflow:visible}.example{break-inside:avoid}}
    """

    static let script = #"""
    "use strict";
    (function () {
      const data = JSON.parse(document.getElementById("evalkit-data").textContent);
      const S = data.strings, C = data.candidates, X = data.examples, R = data.results;
      const str = (i) => (i === null || i === undefined ? null : S[i]);
      const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
      const PAGE = 50;
      // Results by candidate and example; the first repeat is what comparisons use.
      const byCandidate = C.map(() => new Map());
      for (const r of R) { const m = byCandidate[r[0]]; if (!m.has(r[1])) m.set(r[1], []); m.get(r[1]).push(r); }
      const first = (c, x) => { const rs = byCandidate[c] && byCandidate[c].get(x); return rs ? rs.find((r) => r[2] === 0) || rs[0] : null; };
      const candidateIndex = (id) => C.findIndex((c) => c.id === id);
      const reference = candidateIndex(data.reference);
      const outcomeName = ["wrong", "right", "no answer read", "failed call"];

      // Tabs, driven by the address's fragment so a view can be linked: #examples?candidate=…&outcome=wrong
      const state = {};
      function readHash() {
        const [tab, query] = location.hash.slice(1).split("?");
        for (const k of Object.keys(state)) delete state[k];
        new URLSearchParams(query || "").forEach((v, k) => { state[k] = v; });
        return tab || "report";
      }
      function writeHash(tab) {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(state)) if (v !== "" && v !== undefined) q.set(k, v);
        const text = q.toString();
        history.replaceState(null, "", "#" + tab + (text ? "?" + text : ""));
      }
      function show(tab) {
        for (const name of ["report", "examples", "pairs"]) {
          document.getElementById(name + "-view").hidden = name !== tab;
          const link = document.querySelector('.tabs a[data-tab="' + name + '"]');
          link.classList.toggle("active", name === tab);
        }
        if (tab === "examples") renderExamples();
        if (tab === "pairs") renderPairs();
      }

      // Sortable tables: a click on a heading sorts by that column (numbers by value, the rest as text).
      const numeric = (t) => { const m = t.replace(/[−–]/g, "-").replace(/[,$%]/g, "").match(/^[<>≥≤ ]*(-?\d+(\.\d+)?)/); return m ? parseFloat(m[1]) : null; };
      for (const table of document.querySelectorAll("table.sortable")) {
        const heads = table.tHead ? Array.from(table.tHead.rows[0].cells) : [];
        heads.forEach((th, col) => th.addEventListener("click", () => {
          const body = table.tBodies[0];
          const rows = Array.from(body.rows);
          const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
          heads.forEach((h) => h.removeAttribute("aria-sort"));
          th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
          const key = (row) => (row.cells[col] ? row.cells[col].textContent.trim() : "");
          const allNumbers = rows.every((r) => key(r) === "–" || key(r) === "" || numeric(key(r)) !== null);
          rows.sort((a, b) => {
            const x = key(a), y = key(b);
            if (allNumbers) { const p = numeric(x), q = numeric(y); return dir * ((p === null ? -Infinity : p) - (q === null ? -Infinity : q)); }
            return dir * x.localeCompare(y);
          });
          for (const r of rows) body.appendChild(r);
        }));
      }

      // Example browser.
      const fc = document.getElementById("f-candidate"), fo = document.getElementById("f-outcome"), ff = document.getElementById("f-flip");
      const ft = document.getElementById("f-target"), fs = document.getElementById("f-search"), fp = document.getElementById("f-part");
      const P = data.parts || [];
      // A result's score part by index, or null when it has none of that name.
      const part = (r, k) => { const list = r[10] || []; const hit = list.find((p) => p[0] === k); return hit ? hit[1] : null; };
      for (const [k, name] of P.entries()) { const o = el("option", name); o.value = name; fp.appendChild(o); }
      if (!P.length) fp.parentElement.hidden = true;
      for (const [i, c] of C.entries()) { const o = el("option", c.id + (c.kind ? " — " + c.kind : "")); o.value = c.id; fc.appendChild(o); }
      const targets = Array.from(new Set(X.map((x) => x[2]))).sort();
      if (targets.length <= 60) for (const t of targets) { const o = el("option", t); o.value = t; ft.appendChild(o); } else ft.parentElement.hidden = true;
      if (reference < 0) ff.parentElement.hidden = true;

      function matches() {
        const c = candidateIndex(state.candidate || data.recommended || (C[0] && C[0].id));
        const q = (state.q || "").toLowerCase();
        const out = [];
        for (let x = 0; x < X.length; x++) {
          const r = first(c, x);
          if (!r) continue;
          if (state.outcome === "right" && r[3] !== 1) continue;
          if (state.outcome === "wrong" && r[3] !== 0) continue;
          if (state.outcome === "invalid" && r[3] !== 2) continue;
          if (state.outcome === "failed" && r[3] !== 3) continue;
          if (state.target && X[x][2] !== state.target) continue;
          if (state.part) { const v = part(r, P.indexOf(state.part)); if (v === null || v >= 1) continue; }
          if (state.flip && reference >= 0) {
            const ref = first(reference, x);
            if (!ref) continue;
            const good = (t) => t[4] >= 1;
            if (state.flip === "fixed" && !(good(r) && !good(ref))) continue;
            if (state.flip === "broken" && !(!good(r) && good(ref))) continue;
          }
          if (q) {
            const hay = [X[x][0], X[x][1] || "", str(r[5]) || "", str(r[6]) || ""].join("\n").toLowerCase();
            if (!hay.includes(q)) continue;
          }
          out.push(x);
        }
        return { c, list: out };
      }

      function promptFor(c, input) {
        const cand = C[c];
        if (cand.user === null) return null;
        const put = (t) => t.split(data.marker).join(input === null ? "(input not available)" : input);
        return (cand.system ? put(cand.system) + "\n\n" : "") + put(cand.user);
      }

      // The current page of `list`, its count and page number written into the page.
      function paged(list, countId, countText, pageId) {
        const pages = Math.max(1, Math.ceil(list.length / PAGE));
        const page = Math.min(Math.max(1, parseInt(state.page || "1", 10) || 1), pages);
        document.getElementById(countId).textContent = list.length + " of " + X.length + countText;
        document.getElementById(pageId).textContent = "page " + page + " of " + pages;
        return list.slice((page - 1) * PAGE, page * PAGE);
      }

      function renderExamples() {
        fc.value = state.candidate || data.recommended || (C[0] && C[0].id) || "";
        fo.value = state.outcome || ""; ff.value = state.flip || ""; ft.value = state.target || ""; fs.value = state.q || ""; fp.value = state.part || "";
        const { c, list } = matches();
        const holder = document.getElementById("examples-list");
        holder.replaceChildren();
        for (const x of paged(list, "examples-count", " examples match", "page")) holder.appendChild(exampleCard(c, x));
        document.body.dataset.ready = "examples";
      }

      function exampleCard(c, x) {
        const [id, input, target] = X[x];
        const card = el("article", null, "example");
        card.dataset.example = id;
        card.appendChild(el("h3", id));
        card.appendChild(el("div", "target: " + target));
        card.appendChild(el("div", input === null ? "(input not available: the dataset was not found when this page was written)" : input, "text"));
        const prompt = promptFor(c, input);
        if (prompt !== null) {
          const d = el("details"); d.appendChild(el("summary", "prompt sent by " + C[c].id + (C[c].similar ? " (its similar examples are chosen per input and not stored; the template shows where they go)" : "")));
          d.appendChild(el("div", prompt, "text")); card.appendChild(d);
        }
        const table = el("table"); const head = el("tr");
        for (const h of ["candidate", "answer", "outcome", "score", "latency", "cost", "raw output"]) head.appendChild(el("th", h));
        table.appendChild(head);
        C.forEach((cand, i) => {
          const rs = (byCandidate[i] && byCandidate[i].get(x)) || [];
          for (const r of rs) {
            const tr = el("tr"); if (i === c) tr.className = "selected";
            tr.appendChild(el("td", cand.id + (rs.length > 1 ? " #" + (r[2] + 1) : "") + (i === reference ? " (reference)" : "")));
            tr.appendChild(el("td", str(r[6]) === null ? "–" : str(r[6])));
            const below = (r[10] || []).filter((p) => p[1] < 1).map((p) => P[p[0]] + " " + p[1].toFixed(2));
            tr.appendChild(el("td", outcomeName[r[3]] + (below.length ? " (" + below.join(", ") + ")" : ""), r[3] === 1 ? "right" : "wrong"));
            tr.appendChild(el("td", r[4].toFixed(3), "num"));
            tr.appendChild(el("td", r[8].toFixed(1) + " ms", "num"));
            tr.appendChild(el("td", r[9] === null ? "–" : "$" + r[9].toPrecision(3), "num"));
            const raw = str(r[7]) !== null ? "error: " + str(r[7]) : (str(r[5]) || "");
            tr.appendChild(el("td", raw, "text"));
            table.appendChild(tr);
          }
        });
        card.appendChild(table);
        return card;
      }

      // Pair view.
      const pa = document.getElementById("p-a"), pb = document.getElementById("p-b");
      for (const sel of [pa, pb]) for (const c of C) { const o = el("option", c.id); o.value = c.id; sel.appendChild(o); }
      function renderPairs() {
        const a = candidateIndex(state.a || (reference >= 0 ? data.reference : C[0] && C[0].id));
        const b = candidateIndex(state.b || data.recommended || (C[1] && C[1].id) || (C[0] && C[0].id));
        pa.value = a >= 0 ? C[a].id : ""; pb.value = b >= 0 ? C[b].id : "";
        document.getElementById("pairs-a").textContent = a >= 0 ? C[a].id : "A";
        document.getElementById("pairs-b").textContent = b >= 0 ? C[b].id : "B";
        const list = [];
        for (let x = 0; x < X.length; x++) {
          const p = first(a, x), q = first(b, x);
          if (!p || !q) continue;
          if (str(p[6]) !== str(q[6]) || p[3] !== q[3]) list.push(x);
        }
        const shown = paged(list, "pairs-count", " examples answered differently", "p-page");
        const body = document.querySelector("#pairs-table tbody");
        body.replaceChildren();
        const cell = (r) => { const td = el("td"); td.appendChild(el("span", outcomeName[r[3]], r[3] === 1 ? "right" : "wrong")); td.appendChild(el("div", str(r[7]) !== null ? "error: " + str(r[7]) : (str(r[5]) || ""), "text")); return td; };
        for (const x of shown) {
          const tr = el("tr"); tr.dataset.example = X[x][0];
          tr.appendChild(el("td", X[x][0])); tr.appendChild(el("td", X[x][1] === null ? "–" : X[x][1], "text")); tr.appendChild(el("td", X[x][2]));
          tr.appendChild(cell(first(a, x))); tr.appendChild(cell(first(b, x)));
          body.appendChild(tr);
        }
        document.body.dataset.ready = "pairs";
      }

      const currentTab = () => location.hash.slice(1).split("?")[0] || "report";
      const update = (key, value) => { state[key] = value; if (key !== "page") state.page = ""; writeHash(currentTab()); show(currentTab()); };
      fc.addEventListener("change", () => update("candidate", fc.value));
      fo.addEventListener("change", () => update("outcome", fo.value));
      ff.addEventListener("change", () => update("flip", ff.value));
      ft.addEventListener("change", () => update("target", ft.value));
      fp.addEventListener("change", () => update("part", fp.value));
      fs.addEventListener("input", () => update("q", fs.value));
      pa.addEventListener("change", () => update("a", pa.value));
      pb.addEventListener("change", () => update("b", pb.value));
      const step = (delta) => () => update("page", String(Math.max(1, (parseInt(state.page || "1", 10) || 1) + delta)));
      document.getElementById("prev").addEventListener("click", step(-1));
      document.getElementById("next").addEventListener("click", step(1));
      document.getElementById("p-prev").addEventListener("click", step(-1));
      document.getElementById("p-next").addEventListener("click", step(1));
      for (const a of document.querySelectorAll(".tabs a")) a.addEventListener("click", (ev) => { ev.preventDefault(); for (const k of Object.keys(state)) delete state[k]; writeHash(a.dataset.tab); show(a.dataset.tab); });
      // Other fragments are the report's own headings: the report shows, and the browser scrolls to them.
      window.addEventListener("hashchange", () => { const t = readHash(); show(["examples", "pairs"].includes(t) ? t : "report"); });
      const tab = readHash();
      show(["report", "examples", "pairs"].includes(tab) ? tab : "report");
      if (!document.body.dataset.ready) document.body.dataset.ready = "report";
    })();
    """#
}
