import Foundation

/// Renders results: Markdown tables per group (stdout), JSON (`--json`), an SVG percentile plot (`--svg`).
enum Report {
    /// Ratios between rows of one run that the memory layer's targets are stated in: recall p50 as a multiple of
    /// `connection.get` p50 at one caller, stores with the word index against without, store p99 while 8 tasks
    /// recall against store p99 alone. Empty when the rows are missing.
    static func targets(_ results: [BenchResult]) -> String {
        func row(_ name: String, _ concurrency: Int) -> BenchResult? {
            results.first { $0.workload == name && $0.concurrency == concurrency }
        }
        var lines: [String] = []
        // Recall over connection.get: measured in the same rounds (drift-proof), and over the connection.get row of the run.
        let get = row("connection.get", 1)?.p50Microseconds
        for result in results where result.workload.hasPrefix("memory.recall.") && !result.workload.hasSuffix(".command") && result.concurrency == 1 {
            if let ratio = result.referenceRatio {
                let spread = (result.referenceRatios ?? []).map { String(format: "%.2f", $0) }.joined(separator: ", ")
                lines.append(String(format: "| %@ p50 / connection.get p50 in the same rounds (1 caller; rounds: %@) | %.2f |", result.workload, spread, ratio))
            }
            if let p50 = result.p50Microseconds, let get, get > 0 {
                lines.append(String(format: "| %@ p50 / the connection.get row's p50 (1 caller) | %.2f |", result.workload, p50 / get))
            }
        }
        for result in results where (result.group == "connection" || result.group == "pool") && result.concurrency > 1 {
            if let ceiling = row("redis-benchmark.P\(result.concurrency).get", result.concurrency), result.workload.hasSuffix(".get"),
               ceiling.opsPerSecond > 0 {
                lines.append(String(
                    format: "| %@ ops/s / redis-benchmark -P %d -c 1 (%d callers) | %.2f |", result.workload, result.concurrency,
                    result.concurrency, result.opsPerSecond / ceiling.opsPerSecond))
            }
        }
        if let batch = row("memory.storeBatch.100", 1), let single = row("memory.store", 1), single.opsPerSecond > 0 {
            lines.append(String(
                format: "| memory.storeBatch.100 entries/s / memory.store ops/s (1 caller) | %.2f |", batch.opsPerSecond * 100 / single.opsPerSecond))
        }
        for concurrency in Set(results.map(\.concurrency)).sorted() {
            if let indexed = row("memory.store.words10", concurrency), let plain = row("memory.store.words10.noindex", concurrency),
               plain.opsPerSecond > 0 {
                lines.append(String(
                    format: "| memory.store.words10 ops/s / without the word index (%d callers) | %.2f |", concurrency,
                    indexed.opsPerSecond / plain.opsPerSecond))
            }
            for (cluster, single) in [
                ("cluster.get", "cluster.direct.get"), ("cluster.set", "cluster.direct.set"), ("cluster.get", "pool.get"),
                ("cluster.set", "pool.set"), ("cluster.memory.store", "memory.store"),
            ] {
                if let routed = row(cluster, concurrency), let direct = row(single, concurrency), direct.opsPerSecond > 0 {
                    lines.append(String(
                        format: "| %@ ops/s / %@ (%d callers) | %.2f |", cluster, single, concurrency,
                        routed.opsPerSecond / direct.opsPerSecond))
                }
            }
            for (secure, plain) in [("tls.get", "tls.plain.get"), ("tls.set", "tls.plain.set"), ("tls.get", "connection.get")] {
                if let over = row(secure, concurrency), let under = row(plain, concurrency), under.opsPerSecond > 0 {
                    lines.append(String(
                        format: "| %@ ops/s / %@ (%d callers) | %.2f |", secure, plain, concurrency, over.opsPerSecond / under.opsPerSecond))
                }
            }
            if let beside = row("pool.mixed.get.beside-1mib", concurrency)?.p99Microseconds,
               let alone = row("pool.mixed.get.alone", concurrency)?.p99Microseconds, alone > 0 {
                lines.append(String(
                    format: "| pool GET p99 beside a task moving 1 MiB values / alone (%d callers, default pool) | %.2f |", concurrency, beside / alone))
                if let apart = row("pool.mixed.get.beside-1mib.apart", concurrency)?.p99Microseconds {
                    lines.append(String(
                        format: "| pool GET p99 beside a task moving 1 MiB values through a pool of its own / alone (%d callers) | %.2f |",
                        concurrency, apart / alone))
                }
            }
            if let during = row("memory.store.during-recall", concurrency)?.p99Microseconds,
               let alone = (row("memory.store.before-recall", concurrency) ?? row("memory.store", concurrency))?.p99Microseconds, alone > 0 {
                lines.append(String(
                    format: "| memory.store p99 while 8 tasks recall by text / right before (%d callers) | %.2f |", concurrency, during / alone))
            }
        }
        guard !lines.isEmpty else { return "" }
        return "### targets\n\n| ratio within this run | value |\n|---|---:|\n" + lines.joined(separator: "\n") + "\n\n"
    }

    /// One Markdown table per group, in first-seen order.
    static func markdown(_ results: [BenchResult]) -> String {
        var groups: [String] = []
        for result in results where !groups.contains(result.group) { groups.append(result.group) }
        var out = ""
        for group in groups {
            out += "### \(group)\n\n"
            out += "| workload | conc | ops | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | ops/s | baseline | ×baseline p50 (rounds' range) |\n"
            out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n"
            for r in results where r.group == group {
                let cells = [
                    r.workload, "\(r.concurrency)", "\(r.ops)", number(r.p50Microseconds), number(r.p90Microseconds),
                    number(r.p99Microseconds), number(r.p999Microseconds), number(r.maxMicroseconds),
                    number(r.opsPerSecond, decimals: 0), r.baseline ?? (r.baselineError != nil ? "failed" : "–"), ratio(r),
                ]
                out += "| " + cells.joined(separator: " | ") + " |\n"
            }
            // What failed, under its table: the row keeps the figures of the rounds that finished.
            for r in results where r.group == group {
                if let error = r.error { out += "\n- \(r.workload) c=\(r.concurrency) failed: \(error)" }
                if let error = r.baselineError, r.baseline == nil { out += "\n- \(r.workload) c=\(r.concurrency) has no baseline: \(error)" }
            }
            out += results.contains { $0.group == group && ($0.error != nil || ($0.baselineError != nil && $0.baseline == nil)) } ? "\n\n" : "\n"
        }
        return out
    }

    /// The ratio cell: the median over the rounds, with the smallest and largest round's ratio when they differ.
    static func ratio(_ row: BenchResult) -> String {
        guard let median = row.baselineRatio else { return "–" }
        guard let low = row.baselineRatioMin, let high = row.baselineRatioMax, (row.baselineRatios?.count ?? 0) > 1 else {
            return String(format: "%.2f", median)
        }
        return String(format: "%.2f (%.2f–%.2f)", median, low, high)
    }

    /// A number with one decimal below 100 and none above; an en dash for a missing one.
    static func number(_ value: Double?, decimals: Int? = nil) -> String {
        guard let value, value.isFinite else { return "–" }
        let places = decimals ?? (value < 100 ? 1 : 0)
        return String(format: "%.\(places)f", value)
    }

    /// The results and the run's metadata as a JSON object, `{"metadata": …, "results": [rows]}` (row keys:
    /// `BenchResult.CodingKeys`; metadata keys: `RunMetadata.CodingKeys`).
    static func json(_ results: [BenchResult], metadata: RunMetadata?) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(BenchFile(metadata: metadata, results: results))
    }

    /// Latency-by-percentile plots, small multiples: one per group (a group with more than `perPanel` rows gets one per
    /// `perPanel` of them), two a row; x is log-scaled in 1/(1-p) like HdrHistogram's plots, y is log-scaled µs.
    static func svg(_ results: [BenchResult], title: String, perPanel: Int = 8) -> String {
        let plotted = results.filter { !$0.curve.isEmpty }
        var panels: [(title: String, rows: [BenchResult])] = []
        var groups: [String] = []
        for result in plotted where !groups.contains(result.group) { groups.append(result.group) }
        for group in groups {
            let rows = plotted.filter { $0.group == group }
            let chunks = stride(from: 0, to: rows.count, by: perPanel).map { Array(rows[$0..<min($0 + perPanel, rows.count)]) }
            for (index, chunk) in chunks.enumerated() {
                panels.append((chunks.count == 1 ? group : "\(group) (\(index + 1) of \(chunks.count))", chunk))
            }
        }
        let panelWidth = 620.0, panelHeight = 300.0, header = 36.0, columns = 2
        let width = panelWidth * Double(columns)
        let height = header + panelHeight * Double(max(1, (panels.count + columns - 1) / columns))
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="16" y="24" font-size="15">\(escape(title))</text>

        """
        for (index, panel) in panels.enumerated() {
            let x = panelWidth * Double(index % columns), y = header + panelHeight * Double(index / columns)
            svg += "<g transform=\"translate(\(x),\(y))\">\n" + self.panel(panel.rows, title: panel.title, width: panelWidth, height: panelHeight) + "</g>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// One small plot with its legend on the right.
    private static func panel(_ rows: [BenchResult], title: String, width: Double, height: Double) -> String {
        let left = 62.0, right = 230.0, top = 28.0, bottom = 36.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maxX = log10(1 / (1 - 0.99999))
        func x(_ percentile: Double) -> Double {
            let p = min(percentile / 100, 0.99999)
            return left + plotWidth * log10(1 / (1 - p)) / maxX
        }
        let values = rows.flatMap { $0.curve.map(\.microseconds) }.filter { $0 > 0 }
        let low = floor(log10(max(values.min() ?? 1, 1))), high = log10(max(values.max() ?? 10, 10))
        let span = max(ceil(high) - low, 1)
        func y(_ microseconds: Double) -> Double {
            top + plotHeight * (1 - (log10(max(microseconds, 1)) - low) / span)
        }
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var svg = "<text x=\"\(left)\" y=\"16\" font-size=\"13\">\(escape(title))</text>\n"
        for (label, percentile) in [("0%", 0.0), ("90%", 90), ("99%", 99), ("99.9%", 99.9), ("99.99%", 99.99)] {
            svg += "<line x1=\"\(x(percentile))\" y1=\"\(top)\" x2=\"\(x(percentile))\" y2=\"\(top + plotHeight)\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(x(percentile))\" y=\"\(top + plotHeight + 14)\" text-anchor=\"middle\">\(label)</text>\n"
        }
        var decade = low
        while decade <= low + span {
            let value = pow(10, decade)
            svg += "<line x1=\"\(left)\" y1=\"\(y(value))\" x2=\"\(left + plotWidth)\" y2=\"\(y(value))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 5)\" y=\"\(y(value) + 4)\" text-anchor=\"end\">\(Int(value)) µs</text>\n"
            decade += 1
        }
        svg += "<text x=\"\(left + plotWidth / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">percentile</text>\n"
        for (index, result) in rows.enumerated() {
            let color = colors[index % colors.count]
            let points = result.curve.map { "\(String(format: "%.1f", x($0.percentile))),\(String(format: "%.1f", y($0.microseconds)))" }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
            let legendY = top + 6 + Double(index) * 15
            svg += "<line x1=\"\(width - right + 10)\" y1=\"\(legendY)\" x2=\"\(width - right + 28)\" y2=\"\(legendY)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(width - right + 33)\" y=\"\(legendY + 4)\">\(escape(result.workload)) c=\(result.concurrency)</text>\n"
        }
        return svg
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
