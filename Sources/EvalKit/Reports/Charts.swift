import Foundation

/// SVG charts beside report.md. Plain SVG 1.1 (no scripts, no external fonts) so browsers and
/// GitHub render them; every label is XML-escaped.
public enum Charts {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    static func n(_ v: Double) -> String { Format.fixed(v, digits: 1) }

    static func header(width: Int, height: Int, title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <title>\(Text.xmlEscaped(title))</title>
        <rect x="0" y="0" width="\(width)" height="\(height)" fill="#ffffff"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(Text.xmlEscaped(title))</text>

        """
    }

    /// Ticks at powers of ten (and 2 and 5 between them when the range is narrow) covering [low, high].
    static func logTicks(_ low: Double, _ high: Double) -> [Double] {
        var ticks: [Double] = []
        var decade = pow(10, floor(log10(low)))
        let narrow = log10(high / low) < 2.5
        while decade <= high * 1.0001 {
            for m in (narrow ? [1.0, 2, 5] : [1.0]) where decade * m >= low * 0.9999 && decade * m <= high * 1.0001 {
                ticks.append(decade * m)
            }
            decade *= 10
        }
        return ticks
    }

    static func tickLabel(_ v: Double, prefix: String = "") -> String {
        if v >= 1 { return prefix + JSON.formatNumber(v.rounded() == v ? v : (v * 100).rounded() / 100) }
        // Plain decimals (0.0001, not 1e-04): enough places to show the tick's first digit.
        return prefix + Format.fixed(v, digits: Int(-floor(log10(v))))
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
        let width = 760, height = 480
        let left = 70.0, right = 230.0, top = 45.0, bottom = 60.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
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
        var acc = lowAcc
        while acc <= highAcc + 1e-9 {
            svg += "<line x1=\"\(n(left))\" y1=\"\(n(y(acc)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(acc)))\" stroke=\"#e5e5e5\"/>\n"
            svg += "<text x=\"\(n(left - 6))\" y=\"\(n(y(acc) + 4))\" text-anchor=\"end\">\(Format.fixed(acc * 100, digits: 0))%</text>\n"
            acc += highAcc - lowAcc > 0.5 ? 0.1 : 0.05
        }
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(height - 18)\" text-anchor=\"middle\">cost per 1,000 requests (USD, log scale)</text>\n"
        svg += "<text x=\"18\" y=\"\(n(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(top + plotH / 2)))\">accuracy (95% interval)</text>\n"

        let frontier = paretoFrontier(points)
        if frontier.count > 1 {
            let path = frontier.map { "\(n(x(points[$0].costPer1k))),\(n(y(points[$0].accuracy)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        }
        for (i, p) in points.enumerated() {
            let color = palette[i % palette.count]
            let px = x(p.costPer1k)
            svg += "<line x1=\"\(n(px))\" y1=\"\(n(y(p.low)))\" x2=\"\(n(px))\" y2=\"\(n(y(p.high)))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            let shape = frontier.contains(i) ? "<rect x=\"\(n(px - 5))\" y=\"\(n(y(p.accuracy) - 5))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
                                             : "<circle cx=\"\(n(px))\" cy=\"\(n(y(p.accuracy)))\" r=\"5\" fill=\"\(color)\"/>"
            svg += shape + "\n"
            svg += "<text x=\"\(n(px + 8))\" y=\"\(n(y(p.accuracy) - 6))\" font-size=\"11\">\(i + 1)</text>\n"
        }
        // Legend: numbered points, squares on the frontier.
        var ly = top + 4
        svg += "<text x=\"\(n(left + plotW + 16))\" y=\"\(n(ly))\" font-weight=\"bold\">candidates</text>\n"
        for (i, p) in points.enumerated() {
            ly += 18
            let mark = frontier.contains(i) ? " ■" : ""
            svg += "<text x=\"\(n(left + plotW + 16))\" y=\"\(n(ly))\" fill=\"\(palette[i % palette.count])\">\(i + 1). \(Text.xmlEscaped(Text.preview(p.label, limit: 26)))\(mark)</text>\n"
        }
        svg += "<text x=\"\(n(left + plotW + 16))\" y=\"\(n(ly + 26))\" font-size=\"11\" fill=\"#555\">■ and dashed line: Pareto frontier</text>\n"
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
        let rowH = 34.0, left = 190.0, right = 40.0, top = 50.0
        let width = 760, height = Int(top + rowH * Double(max(bars.count, 1)) + 60)
        let plotW = Double(width) - left - right
        var svg = header(width: width, height: height, title: title)
        guard !bars.isEmpty else {
            return svg + "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">No candidate produced answers.</text>\n</svg>\n"
        }
        let positive = bars.flatMap { [$0.p50, $0.p95] }.filter { $0 > 0 }
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
            svg += "<text x=\"\(n(left - 8))\" y=\"\(n(rowY + rowH / 2 + 4))\" text-anchor=\"end\">\(Text.xmlEscaped(Text.preview(bar.label, limit: 28)))</text>\n"
            svg += "<rect x=\"\(n(left))\" y=\"\(n(rowY + 5))\" width=\"\(n(max(1, x(bar.p95) - left)))\" height=\"\(n(rowH - 10))\" fill=\"#9ecae1\"/>\n"
            svg += "<rect x=\"\(n(left))\" y=\"\(n(rowY + 10))\" width=\"\(n(max(1, x(bar.p50) - left)))\" height=\"\(n(rowH - 20))\" fill=\"#08519c\"/>\n"
            svg += "<text x=\"\(n(x(bar.p95) + 4))\" y=\"\(n(rowY + rowH / 2 + 4))\" font-size=\"10\" fill=\"#333\">\(Text.xmlEscaped(Format.fixed(bar.p50, digits: 2))) / \(Text.xmlEscaped(Format.fixed(bar.p95, digits: 2)))</text>\n"
        }
        svg += "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(bottom))\" stroke=\"#444\"/>\n"
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(bottom + 36))\" text-anchor=\"middle\">milliseconds per request (log scale): dark p50, light p95</text>\n"
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

    /// Training curves: loss on top, accuracy below, training solid and validation dashed.
    public static func trainingCurves(_ points: [TrainingPoint], title: String, unit: String, markStep: Double?) -> String {
        let width = 760, height = 560
        var svg = header(width: width, height: height, title: title)
        let loss = [Series(name: "training loss", color: "#1f77b4", dashed: false, points: points.compactMap { p in p.trainLoss.map { (p.step, $0) } }),
                    Series(name: "validation loss", color: "#d62728", dashed: true, points: points.compactMap { p in p.validationLoss.map { (p.step, $0) } })]
        let accuracy = [Series(name: "training accuracy", color: "#1f77b4", dashed: false, points: points.compactMap { p in p.trainAccuracy.map { (p.step, $0) } }),
                        Series(name: "validation accuracy", color: "#d62728", dashed: true, points: points.compactMap { p in p.validationAccuracy.map { (p.step, $0) } })]
        svg += panel(loss, top: 45, height: 210, width: width, yLabel: "loss", unit: unit, markStep: markStep)
        svg += panel(accuracy, top: 310, height: 190, width: width, yLabel: "accuracy", unit: unit, markStep: markStep)
        return svg + "</svg>\n"
    }

    /// One panel of lines: `series` against a shared x axis.
    public static func lines(_ series: [Series], title: String, xLabel: String, yLabel: String) -> String {
        let width = 760, height = 320
        return header(width: width, height: height, title: title)
            + panel(series, top: 45, height: 220, width: width, yLabel: yLabel, unit: xLabel, markStep: nil) + "</svg>\n"
    }

    static func panel(_ series: [Series], top: Double, height: Double, width: Int, yLabel: String, unit: String, markStep: Double?) -> String {
        let left = 70.0, right = 190.0
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
        for i in 0...4 {
            let v = minY + (maxY - minY) * Double(i) / 4
            svg += "<line x1=\"\(n(left))\" y1=\"\(n(y(v)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(v)))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(n(left - 6))\" y=\"\(n(y(v) + 4))\" text-anchor=\"end\">\(Format.fixed(v, digits: 3))</text>\n"
        }
        for i in 0...5 {
            let v = minX + (maxX - minX) * Double(i) / 5
            svg += "<text x=\"\(n(x(v)))\" y=\"\(n(top + height + 16))\" text-anchor=\"middle\">\(Text.xmlEscaped(JSON.formatNumber((v * 10).rounded() / 10)))</text>\n"
        }
        svg += "<text x=\"18\" y=\"\(n(top + height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(top + height / 2)))\">\(Text.xmlEscaped(yLabel))</text>\n"
        svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(top + height + 34))\" text-anchor=\"middle\">\(Text.xmlEscaped(unit))</text>\n"
        if let markStep {
            svg += "<line x1=\"\(n(x(markStep)))\" y1=\"\(n(top))\" x2=\"\(n(x(markStep)))\" y2=\"\(n(top + height))\" stroke=\"#2ca02c\" stroke-dasharray=\"3 3\"/>\n"
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
            svg += "<text x=\"\(n(left + plotW + 12))\" y=\"\(n(legendY + 4))\" fill=\"#2ca02c\">kept \(Text.xmlEscaped(unit))</text>\n"
        }
        return svg
    }
}
