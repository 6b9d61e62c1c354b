import Foundation

/// SVG charts beside report.md. Plain SVG 1.1 (no scripts, no external fonts) so browsers and
/// GitHub render them; every label is XML-escaped.
public enum Charts {
    /// Okabe and Ito's colours, told apart with the common colour-vision deficiencies; each point also
    /// carries its number and each line its dash, so a greyscale print still reads.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"]

    static func n(_ v: Double) -> String { Format.fixed(v, digits: 1) }

    /// The width a text takes in the charts' sans-serif at `size` px: an estimate on the wide side (0.6 em
    /// a character), used to keep labels inside the picture and apart from each other.
    static func textWidth(_ text: String, size: Double = 12) -> Double { Double(text.count) * size * 0.6 }

    /// The top of a chart; a title wider than the picture is split over lines. `titleHeight(…)` says how far
    /// down the plot must start.
    static func header(width: Int, height: Int, title: String) -> String {
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <title>\(Text.xmlEscaped(title))</title>
        <rect x="0" y="0" width="\(width)" height="\(height)" fill="#ffffff"/>

        """
        for (i, line) in titleLines(title, width: width).enumerated() {
            svg += "<text x=\"\(width / 2)\" y=\"\(22 + 18 * i)\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(Text.xmlEscaped(line))</text>\n"
        }
        return svg
    }

    /// The title broken at spaces (or anywhere, for one long word) into lines that fit `width`.
    static func titleLines(_ title: String, width: Int) -> [String] {
        let fits = max(10, Int((Double(width) - 20) / (15 * 0.6)))
        var lines: [String] = [], current = ""
        for word in title.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            var word = word
            while word.count > fits {
                if !current.isEmpty { lines.append(current); current = "" }
                lines.append(String(word.prefix(fits)))
                word = String(word.dropFirst(fits))
            }
            if current.isEmpty { current = word } else if current.count + 1 + word.count <= fits { current += " " + word } else {
                lines.append(current); current = word
            }
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        return lines
    }

    /// The extra room a title of more than one line needs above the plot.
    static func titleExtra(_ title: String, width: Int) -> Double { Double(titleLines(title, width: width).count - 1) * 18 }

    /// At most this many ticks on an axis, whatever the data (a hostile results file can hold any number).
    static let maxTicks = 60

    /// About `count` ticks at round values (1, 2 or 5 times a power of ten) covering [low, high].
    static func niceTicks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low, low.isFinite, high.isFinite, (high - low).isFinite else { return low.isFinite ? [low] : [] }
        let raw = (high - low) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        // The round step whose number of intervals is nearest the count asked for.
        let steps = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }
        let step = steps.min { abs((high - low) / $0 - Double(count)) < abs((high - low) / $1 - Double(count)) } ?? raw
        guard step > 0, step.isFinite else { return [low] }
        // Multiples of the step counted, not added up (a step below the values' precision would never advance),
        // and snapped to the step's decimals so that 6 × 0.2 is 1.2.
        let firstMultiple = ceil(low / step - 1e-9)
        let decimals = pow(10, min(20, max(0, -floor(log10(step))) + 1))
        var ticks: [Double] = []
        for i in 0..<maxTicks {
            let v = ((firstMultiple + Double(i)) * step * decimals).rounded() / decimals
            guard v <= high + step * 1e-9 else { break }
            let tick = abs(v) < step * 1e-9 ? 0 : v
            if ticks.last != tick { ticks.append(tick) }
        }
        return ticks
    }

    /// A round tick value as text: no more decimals than the step between ticks needs.
    static func niceLabel(_ v: Double, step: Double) -> String {
        guard step > 0, step.isFinite else { return Format.fixed(v, digits: 0) }
        let digits = min(20, max(0, Int(-floor(log10(step) + 1e-9)) + (step / pow(10, floor(log10(step))) == 2.5 ? 1 : 0)))
        return Format.fixed(v, digits: digits)
    }

    /// Ticks at powers of ten (and 2 and 5 between them when the range is narrow) covering [low, high]; none
    /// when the range is not a positive, finite one.
    static func logTicks(_ low: Double, _ high: Double) -> [Double] {
        guard low > 0, low.isFinite, high.isFinite, high >= low else { return [] }
        var ticks: [Double] = []
        var decade = pow(10, floor(log10(low)))
        let narrow = log10(high / low) < 2.5
        while decade <= high * 1.0001, decade.isFinite, ticks.count < maxTicks {
            for m in (narrow ? [1.0, 2, 5] : [1.0]) where decade * m >= low * 0.9999 && decade * m <= high * 1.0001 {
                ticks.append(decade * m)
            }
            decade *= 10
        }
        return ticks
    }

    static func tickLabel(_ v: Double, prefix: String = "") -> String {
        if v >= 1 || !(v > 0) || !v.isFinite { return prefix + JSON.formatNumber(v.rounded() == v || !v.isFinite ? v : (v * 100).rounded() / 100) }
        // Plain decimals (0.0001, not 1e-04): enough places to show the tick's first digit.
        return prefix + Format.fixed(v, digits: min(20, Int(-floor(log10(v)))))
    }

    /// A point of the accuracy–cost chart.
    public struct CostPoint: Sendable {
        public var label: String
        public var costPer1k: Double
        public var accuracy: Double
        public var low: Double
        public var high: Double
        public init(label: String, costPer1k: Double, accuracy: Double, low: Double, high: Double) {
            self.label = label; self.costPer1k = costPer1k; self.accuracy = accuracy; self.low = low; self.high = high
        }
    }

    /// Indices of the points on the Pareto frontier: no other point is at least as cheap and as accurate, and better in one.
    public static func paretoFrontier(_ points: [CostPoint]) -> [Int] {
        points.indices.filter { i in
            !points.indices.contains { j in
                j != i && points[j].costPer1k <= points[i].costPer1k && points[j].accuracy >= points[i].accuracy
                    && (points[j].costPer1k < points[i].costPer1k || points[j].accuracy > points[i].accuracy)
            }
        }.sorted { points[$0].costPer1k < points[$1].costPer1k }
    }

    /// Accuracy with its 95% interval against cost per 1,000 requests (log axis), Pareto frontier drawn.
    public static func accuracyVersusCost(_ points: [CostPoint], title: String) -> String {
        // The legend is as wide as its longest name: names are never cut.
        let legendWidth = max(200, (points.enumerated().map { textWidth("\($0.offset + 1). \($0.element.label) ■") }.max() ?? 0) + 30)
        let plotWidth = 500.0
        let left = 70.0, right = legendWidth, bottom = 60.0
        let width = Int(left + plotWidth + right)
        let top = 45 + titleExtra(title, width: width)
        let height = Int(top + 375 + bottom)
        let plotW = plotWidth, plotH = Double(height) - top - bottom
        var svg = header(width: width, height: height, title: title)
        guard !points.isEmpty else {
            return svg + "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">No candidate has both an accuracy and a known cost.</text>\n</svg>\n"
        }
        let costs = points.map(\.costPer1k)
        let minCost = pow(10, floor(log10(costs.min() ?? 1))), maxCost = pow(10, ceil(log10(costs.max() ?? 1)) + (costs.min() == costs.max() ? 1 : 0))
        let lowAcc = max(0, floor(((points.map(\.low).min() ?? 0) - 0.05) * 10) / 10)
        let highAcc = min(1, ceil(((points.map(\.high).max() ?? 1) + 0.02) * 10) / 10)
        func x(_ cost: Double) -> Double { left + (log10(cost) - log10(minCost)) / (log10(maxCost) - log10(minCost)) * plotW }
        func y(_ acc: Double) -> Double { top + (1 - (acc - lowAcc) / max(highAcc - lowAcc, 0.01)) * plotH }

        svg += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"#444\"/>\n"
        for tick in logTicks(minCost, maxCost) {
            svg += "<line x1=\"\(n(x(tick)))\" y1=\"\(n(top))\" x2=\"\(n(x(tick)))\" y2=\"\(n(top + plotH))\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(n(x(tick)))\" y=\"\(n(top + plotH + 16))\" text-anchor=\"middle\">\(Text.xmlEscaped(tickLabel(tick, prefix: "$")))</text>\n"
        }
        let accTicks = niceTicks(lowAcc * 100, highAcc * 100, count: 6)
        for tick in accTicks {
            let acc = tick / 100
            svg += "<line x1=\"\(n(left))\" y1=\"\(n(y(acc)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(acc)))\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(n(left - 6))\" y=\"\(n(y(acc) + 4))\" text-anchor=\"end\">\(niceLabel(tick, step: accTicks.count > 1 ? accTicks[1] - accTicks[0] : 10))%</text>\n"
        }
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(height - 18)\" text-anchor=\"middle\">cost per 1,000 requests (USD, log scale)</text>\n"
        svg += "<text x=\"18\" y=\"\(n(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(top + plotH / 2)))\">accuracy (95% interval)</text>\n"

        let frontier = paretoFrontier(points)
        if frontier.count > 1 {
            let path = frontier.map { "\(n(x(points[$0].costPer1k))),\(n(y(points[$0].accuracy)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        }
        // Number labels placed where they overlap no other label and no point: each tries spots around its
        // point, nearest first, and takes the first free one.
        var taken: [(x0: Double, y0: Double, x1: Double, y1: Double)] = points.map { p in
            (x(p.costPer1k) - 6, y(p.accuracy) - 6, x(p.costPer1k) + 6, y(p.accuracy) + 6)
        }
        func free(_ box: (x0: Double, y0: Double, x1: Double, y1: Double)) -> Bool {
            box.x0 >= left && box.x1 <= left + plotW && box.y0 >= top && box.y1 <= top + plotH
                && !taken.contains { $0.x0 < box.x1 && box.x0 < $0.x1 && $0.y0 < box.y1 && box.y0 < $0.y1 }
        }
        for (i, p) in points.enumerated() {
            let color = palette[i % palette.count]
            let px = x(p.costPer1k), py = y(p.accuracy)
            svg += "<line x1=\"\(n(px))\" y1=\"\(n(y(p.low)))\" x2=\"\(n(px))\" y2=\"\(n(y(p.high)))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            let shape = frontier.contains(i) ? "<rect x=\"\(n(px - 5))\" y=\"\(n(py - 5))\" width=\"10\" height=\"10\" fill=\"\(color)\" stroke=\"#000\" stroke-width=\"1\"/>"
                                             : "<circle cx=\"\(n(px))\" cy=\"\(n(py))\" r=\"5\" fill=\"\(color)\"/>"
            svg += shape + "\n"
            let label = "\(i + 1)", w = textWidth(label, size: 11) + 2, h = 12.0
            var spot: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil
            search: for distance in stride(from: 8.0, through: 80, by: 8) {
                for (dx, dy) in [(1.0, -1.0), (1, 1), (-1, -1), (-1, 1), (0, -1.5), (0, 1.5), (1.5, 0), (-1.5, 0)] {
                    let cx = px + dx * distance + (dx < 0 ? -w : (dx == 0 ? -w / 2 : 0)), cy = py + dy * distance - (dy <= 0 ? h : 0)
                    let box = (x0: cx, y0: cy, x1: cx + w, y1: cy + h)
                    if free(box) { spot = box; break search }
                }
            }
            let box = spot ?? (px + 8, py - 18, px + 8 + w, py - 6)
            taken.append(box)
            if spot != nil, hypot((box.x0 + box.x1) / 2 - px, (box.y0 + box.y1) / 2 - py) > 20 {
                svg += "<line x1=\"\(n(px))\" y1=\"\(n(py))\" x2=\"\(n((box.x0 + box.x1) / 2))\" y2=\"\(n((box.y0 + box.y1) / 2))\" stroke=\"#999\" stroke-width=\"0.75\"/>\n"
            }
            svg += "<text x=\"\(n(box.x0 + 1))\" y=\"\(n(box.y1 - 2))\" font-size=\"11\">\(label)</text>\n"
        }
        // Legend: numbered points, squares on the frontier; whole names.
        var ly = top + 4
        let lx = left + plotW + 16
        svg += "<text x=\"\(n(lx))\" y=\"\(n(ly))\" font-weight=\"bold\">candidates</text>\n"
        for (i, p) in points.enumerated() {
            ly += 18
            let mark = frontier.contains(i) ? " ■" : ""
            svg += "<text x=\"\(n(lx))\" y=\"\(n(ly))\" fill=\"\(palette[i % palette.count])\">\(i + 1). \(Text.xmlEscaped(p.label))\(mark)</text>\n"
        }
        svg += "<text x=\"\(n(lx))\" y=\"\(n(ly + 26))\" font-size=\"11\" fill=\"#555\">■ and dashed line: Pareto frontier</text>\n"
        return svg + "</svg>\n"
    }

    /// One bar pair of the latency chart.
    public struct LatencyBar: Sendable {
        public var label: String
        public var p50: Double
        public var p95: Double
        public init(label: String, p50: Double, p95: Double) { self.label = label; self.p50 = p50; self.p95 = p95 }
    }

    /// p50 and p95 latency per candidate as horizontal bars on a log axis.
    public static func latency(_ bars: [LatencyBar], title: String) -> String {
        // Names are never cut: the label column is as wide as the longest one.
        let left = max(120, (bars.map { textWidth($0.label) }.max() ?? 0) + 20)
        // Each bar's figures sit right of it: the margin there fits the widest of them.
        let values = bars.map { Format.fixed($0.p50, digits: 2) + " / " + Format.fixed($0.p95, digits: 2) }
        let rowH = 34.0, right = max(40, (values.map { textWidth($0, size: 10) }.max() ?? 0) + 12), plotW = 540.0
        let width = Int(left + plotW + right)
        let top = 50 + titleExtra(title, width: width)
        let height = Int(top + rowH * Double(max(bars.count, 1)) + 60)
        var svg = header(width: width, height: height, title: title)
        guard !bars.isEmpty else {
            return svg + "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">No candidate produced answers.</text>\n</svg>\n"
        }
        let positive = bars.flatMap { [$0.p50, $0.p95] }.filter { $0 > 0 && $0.isFinite }
        let minV = pow(10, floor(log10(positive.min() ?? 1))), maxV = pow(10, ceil(log10(positive.max() ?? 10)))
        let span = max(log10(maxV) - log10(minV), 1)
        func x(_ v: Double) -> Double { left + (log10(max(v, minV)) - log10(minV)) / span * plotW }
        let bottom = top + rowH * Double(bars.count)
        for tick in logTicks(minV, max(maxV, minV * 10)) {
            svg += "<line x1=\"\(n(x(tick)))\" y1=\"\(n(top))\" x2=\"\(n(x(tick)))\" y2=\"\(n(bottom))\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(n(x(tick)))\" y=\"\(n(bottom + 16))\" text-anchor=\"middle\">\(Text.xmlEscaped(tickLabel(tick)))</text>\n"
        }
        for (i, bar) in bars.enumerated() {
            let rowY = top + rowH * Double(i)
            svg += "<text x=\"\(n(left - 8))\" y=\"\(n(rowY + rowH / 2 + 4))\" text-anchor=\"end\">\(Text.xmlEscaped(bar.label))</text>\n"
            svg += "<rect x=\"\(n(left))\" y=\"\(n(rowY + 5))\" width=\"\(n(max(1, x(bar.p95) - left)))\" height=\"\(n(rowH - 10))\" fill=\"#9ecae1\"/>\n"
            svg += "<rect x=\"\(n(left))\" y=\"\(n(rowY + 10))\" width=\"\(n(max(1, x(bar.p50) - left)))\" height=\"\(n(rowH - 20))\" fill=\"#08519c\"/>\n"
            svg += "<text x=\"\(n(x(bar.p95) + 4))\" y=\"\(n(rowY + rowH / 2 + 4))\" font-size=\"10\" fill=\"#333\">\(Text.xmlEscaped(values[i]))</text>\n"
        }
        svg += "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(bottom))\" stroke=\"#444\"/>\n"
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(bottom + 36))\" text-anchor=\"middle\">milliseconds per request (log scale): dark p50, light p95</text>\n"
        return svg + "</svg>\n"
    }

    /// One curve of the data-efficiency chart: accuracy (with its interval) at each training-set size.
    public struct SizeCurve: Sendable {
        public var name: String
        public var points: [(examples: Int, accuracy: Double, low: Double, high: Double)]
        public init(name: String, points: [(examples: Int, accuracy: Double, low: Double, high: Double)]) { self.name = name; self.points = points }
    }

    /// Accuracy against the number of training examples (log axis), each size's interval drawn, with the
    /// reference's accuracy and the non-inferiority line (reference − margin) across.
    public static func dataEfficiency(_ curves: [SizeCurve], reference: (label: String, accuracy: Double)?, margin: Double, title: String) -> String {
        let all = curves.flatMap(\.points)
        let names = curves.map(\.name) + (reference.map { ["reference: \($0.label)", "reference − margin"] } ?? [])
        let right = max(200, (names.map { textWidth($0) }.max() ?? 0) + 60)
        let left = 70.0, plotW = 480.0, width = Int(left + plotW + right)
        let top = 45 + titleExtra(title, width: width), plotH = 300.0, height = Int(top + plotH + 60)
        var svg = header(width: width, height: height, title: title)
        guard let minN = all.map(\.examples).min(), let maxN = all.map(\.examples).max(), minN > 0 else {
            return svg + "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">No trained candidate has a known training-set size.</text>\n</svg>\n"
        }
        let lowX = pow(10, floor(log10(Double(minN)))), highX = max(pow(10, ceil(log10(Double(maxN)))), lowX * 10)
        let ys = all.flatMap { [$0.low, $0.high] } + (reference.map { [$0.accuracy, $0.accuracy - margin] } ?? [])
        let lowY = max(0, floor(((ys.min() ?? 0) - 0.05) * 10) / 10), highY = min(1, ceil(((ys.max() ?? 1) + 0.02) * 10) / 10)
        func x(_ n: Double) -> Double { left + (log10(n) - log10(lowX)) / (log10(highX) - log10(lowX)) * plotW }
        func y(_ a: Double) -> Double { top + (1 - (a - lowY) / max(highY - lowY, 0.01)) * plotH }
        svg += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"#444\"/>\n"
        for tick in logTicks(lowX, highX) {
            svg += "<line x1=\"\(n(x(tick)))\" y1=\"\(n(top))\" x2=\"\(n(x(tick)))\" y2=\"\(n(top + plotH))\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(n(x(tick)))\" y=\"\(n(top + plotH + 16))\" text-anchor=\"middle\">\(Text.xmlEscaped(tickLabel(tick)))</text>\n"
        }
        let yTicks = niceTicks(lowY * 100, highY * 100, count: 5)
        for tick in yTicks {
            svg += "<line x1=\"\(n(left))\" y1=\"\(n(y(tick / 100)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(tick / 100)))\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(n(left - 6))\" y=\"\(n(y(tick / 100) + 4))\" text-anchor=\"end\">\(niceLabel(tick, step: yTicks.count > 1 ? yTicks[1] - yTicks[0] : 10))%</text>\n"
        }
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(height - 18)\" text-anchor=\"middle\">labelled training examples (log scale)</text>\n"
        svg += "<text x=\"18\" y=\"\(n(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(top + plotH / 2)))\">accuracy (95% interval)</text>\n"
        var legendY = top + 10
        let legendX = left + plotW + 12
        if let reference {
            for (value, dash, name) in [(reference.accuracy, "", "reference: \(reference.label)"), (reference.accuracy - margin, " stroke-dasharray=\"2 3\"", "reference − margin")] {
                svg += "<line x1=\"\(n(left))\" y1=\"\(n(y(value)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(value)))\" stroke=\"#555\" stroke-width=\"1.5\"\(dash)/>\n"
                svg += "<line x1=\"\(n(legendX))\" y1=\"\(n(legendY))\" x2=\"\(n(legendX + 24))\" y2=\"\(n(legendY))\" stroke=\"#555\" stroke-width=\"1.5\"\(dash)/>\n"
                svg += "<text x=\"\(n(legendX + 30))\" y=\"\(n(legendY + 4))\">\(Text.xmlEscaped(name))</text>\n"
                legendY += 18
            }
        }
        for (i, curve) in curves.enumerated() {
            let color = palette[i % palette.count], dash = i % 2 == 1 ? " stroke-dasharray=\"6 4\"" : ""
            let sorted = curve.points.sorted { $0.examples < $1.examples }
            let path = sorted.map { "\(n(x(Double($0.examples)))),\(n(y($0.accuracy)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            for p in sorted {
                let px = x(Double(p.examples))
                svg += "<line x1=\"\(n(px))\" y1=\"\(n(y(p.low)))\" x2=\"\(n(px))\" y2=\"\(n(y(p.high)))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
                svg += "<circle cx=\"\(n(px))\" cy=\"\(n(y(p.accuracy)))\" r=\"4\" fill=\"\(color)\"/>\n"
            }
            svg += "<line x1=\"\(n(legendX))\" y1=\"\(n(legendY))\" x2=\"\(n(legendX + 24))\" y2=\"\(n(legendY))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(n(legendX + 30))\" y=\"\(n(legendY + 4))\">\(Text.xmlEscaped(curve.name))</text>\n"
            legendY += 18
        }
        return svg + "</svg>\n"
    }

    /// One line of a line chart.
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var dashed: Bool
        public var points: [(x: Double, y: Double)]
        public init(name: String, color: String, dashed: Bool, points: [(x: Double, y: Double)]) {
            self.name = name; self.color = color; self.dashed = dashed; self.points = points
        }
    }

    /// Training curves: loss on top, accuracy below (when logged), training solid and validation dashed.
    public static func trainingCurves(_ points: [TrainingPoint], title: String, unit: String, markStep: Double?) -> String {
        let width = 760
        let loss = [Series(name: "training loss", color: palette[0], dashed: false, points: points.compactMap { p in p.trainLoss.map { (p.step, $0) } }),
                    Series(name: "validation loss", color: palette[1], dashed: true, points: points.compactMap { p in p.validationLoss.map { (p.step, $0) } })]
        let accuracy = [Series(name: "training accuracy", color: palette[0], dashed: false, points: points.compactMap { p in p.trainAccuracy.map { (p.step, $0) } }),
                        Series(name: "validation accuracy", color: palette[1], dashed: true, points: points.compactMap { p in p.validationAccuracy.map { (p.step, $0) } })]
        // Only panels with something logged are drawn: a trainer that logs no accuracy gets one panel.
        let panels = [(loss, "loss", 210.0), (accuracy, "accuracy", 190.0)].filter { !$0.0.allSatisfy(\.points.isEmpty) }
        var top = 45 + titleExtra(title, width: width)
        let height = Int(top + panels.reduce(0) { $0 + $1.2 + 55 } + (panels.isEmpty ? 60 : 0))
        var svg = header(width: width, height: height, title: title)
        if panels.isEmpty { svg += "<text x=\"70\" y=\"\(n(top + 20))\">no loss or accuracy was logged</text>\n" }
        for (series, label, panelHeight) in panels {
            svg += panel(series, top: top, height: panelHeight, width: width, yLabel: label, unit: unit, markStep: markStep)
            top += panelHeight + 55
        }
        return svg + "</svg>\n"
    }

    /// One panel of lines: `series` against a shared x axis.
    public static func lines(_ series: [Series], title: String, xLabel: String, yLabel: String) -> String {
        let width = 760, extra = titleExtra(title, width: width), height = Int(320 + extra)
        return header(width: width, height: height, title: title)
            + panel(series, top: 45 + extra, height: 220, width: width, yLabel: yLabel, unit: xLabel, markStep: nil) + "</svg>\n"
    }

    static func panel(_ series: [Series], top: Double, height: Double, width: Int, yLabel: String, unit: String, markStep: Double?) -> String {
        // The legend right of the plot is as wide as its longest name (within half the picture).
        let left = 70.0, right = min(Double(width) / 2, max(190, (series.map { textWidth($0.name) }.max() ?? 0) + 56))
        let plotW = Double(width) - left - right
        let all = series.flatMap(\.points)
        guard !all.isEmpty else {
            return "<text x=\"\(n(left))\" y=\"\(n(top + height / 2))\">no \(Text.xmlEscaped(yLabel)) was logged</text>\n"
        }
        let xs = all.map(\.x), ys = all.map(\.y)
        let minX = xs.min() ?? 0, maxX = max(xs.max() ?? 1, (xs.min() ?? 0) + 1)
        var minY = ys.min() ?? 0, maxY = ys.max() ?? 1
        if maxY - minY < 1e-9 { minY -= 0.5; maxY += 0.5 }
        let pad = (maxY - minY) * 0.08
        minY -= pad; maxY += pad
        func x(_ v: Double) -> Double { left + (v - minX) / (maxX - minX) * plotW }
        func y(_ v: Double) -> Double { top + (1 - (v - minY) / (maxY - minY)) * height }
        var svg = "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(height))\" fill=\"none\" stroke=\"#444\"/>\n"
        // Ticks at round values (0.2, 0.5, 1.0), never at the data's own odd ends.
        let yTicks = niceTicks(minY, maxY, count: 4)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        for v in yTicks {
            svg += "<line x1=\"\(n(left))\" y1=\"\(n(y(v)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(v)))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(n(left - 6))\" y=\"\(n(y(v) + 4))\" text-anchor=\"end\">\(niceLabel(v, step: yStep))</text>\n"
        }
        let xTicks = niceTicks(minX, maxX, count: 5)
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        for v in xTicks {
            svg += "<text x=\"\(n(x(v)))\" y=\"\(n(top + height + 16))\" text-anchor=\"middle\">\(Text.xmlEscaped(niceLabel(v, step: xStep)))</text>\n"
        }
        svg += "<text x=\"18\" y=\"\(n(top + height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(top + height / 2)))\">\(Text.xmlEscaped(yLabel))</text>\n"
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(top + height + 34))\" text-anchor=\"middle\">\(Text.xmlEscaped(unit))</text>\n"
        if let markStep {
            svg += "<line x1=\"\(n(x(markStep)))\" y1=\"\(n(top))\" x2=\"\(n(x(markStep)))\" y2=\"\(n(top + height))\" stroke=\"\(palette[2])\" stroke-dasharray=\"3 3\"/>\n"
        }
        var legendY = top + 10
        for s in series where !s.points.isEmpty {
            let path = s.points.map { "\(n(x($0.x))),\(n(y($0.y)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            if s.points.count <= 60 {
                for p in s.points { svg += "<circle cx=\"\(n(x(p.x)))\" cy=\"\(n(y(p.y)))\" r=\"2.5\" fill=\"\(s.color)\"/>\n" }
            }
            svg += "<line x1=\"\(n(left + plotW + 12))\" y1=\"\(n(legendY))\" x2=\"\(n(left + plotW + 36))\" y2=\"\(n(legendY))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            svg += "<text x=\"\(n(left + plotW + 42))\" y=\"\(n(legendY + 4))\">\(Text.xmlEscaped(s.name))</text>\n"
            legendY += 18
        }
        if markStep != nil {
            svg += "<text x=\"\(n(left + plotW + 12))\" y=\"\(n(legendY + 4))\" fill=\"\(palette[2])\">kept \(Text.xmlEscaped(unit))</text>\n"
        }
        return svg
    }
}
