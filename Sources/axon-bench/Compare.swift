import ArgumentParser
import Foundation

/// `axon-bench compare A.json B.json`: every row both files have, with B's p50 and throughput as multiples of A's.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prints per-row ratios between two --json files of axon-bench (B over A).")

    @Argument(help: "The reference run's JSON file (A).")
    var before: String

    @Argument(help: "The run compared with it (B).")
    var after: String

    func run() throws {
        do {
            let a = try BenchFile.load(before)
            let b = try BenchFile.load(after)
            print(Self.table(a, b, names: (before, after)), terminator: "")
        } catch {
            throw ValidationFailure(error.description)
        }
    }

    /// The Markdown comparison: the two runs' metadata, then one line per row present in both (rows only one file has
    /// are listed by name).
    static func table(_ a: BenchFile, _ b: BenchFile, names: (String, String)) -> String {
        var out = ""
        for (label, file, name) in [("A", a, names.0), ("B", b, names.1)] {
            if let meta = file.metadata {
                out += "- \(label) `\(name)`: \(meta.date), \(meta.hostCPUs) CPUs, \(meta.system), Swift \(meta.swift), "
                    + "hiredis \(meta.hiredis), redis-server \(meta.redisServer), \(meta.rounds) rounds, `\(meta.arguments.joined(separator: " "))`\n"
            } else {
                out += "- \(label) `\(name)`: no metadata (written before axon-bench recorded it)\n"
            }
        }
        out += "\n| workload | conc | A p50 µs | B p50 µs | B/A p50 | A ops/s | B ops/s | B/A ops/s | A ×baseline | B ×baseline |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        func key(_ row: BenchResult) -> String { "\(row.workload)@\(row.concurrency)" }
        let indexed = Dictionary(b.results.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        var matched = Set<String>()
        for row in a.results {
            guard let other = indexed[key(row)] else { continue }
            matched.insert(key(row))
            func ratio(_ x: Double?, _ y: Double?) -> String {
                guard let x, let y, x > 0 else { return "–" }
                return String(format: "%.2f", y / x)
            }
            let cells = [
                row.workload, "\(row.concurrency)", Report.number(row.p50Microseconds), Report.number(other.p50Microseconds),
                ratio(row.p50Microseconds, other.p50Microseconds), Report.number(row.opsPerSecond, decimals: 0),
                Report.number(other.opsPerSecond, decimals: 0), ratio(row.opsPerSecond, other.opsPerSecond),
                row.baselineRatio.map { String(format: "%.2f", $0) } ?? "–", other.baselineRatio.map { String(format: "%.2f", $0) } ?? "–",
            ]
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        let onlyA = a.results.filter { !matched.contains(key($0)) }.map { "\($0.workload) c=\($0.concurrency)" }
        let onlyB = b.results.filter { !matched.contains(key($0)) }.map { "\($0.workload) c=\($0.concurrency)" }
        if !onlyA.isEmpty { out += "\nOnly in A: \(onlyA.joined(separator: ", "))\n" }
        if !onlyB.isEmpty { out += "\nOnly in B: \(onlyB.joined(separator: ", "))\n" }
        return out
    }
}

/// A `--json` file: metadata and rows (files written before the metadata existed are a bare array of rows).
struct BenchFile: Codable, Sendable {
    var metadata: RunMetadata?
    var results: [BenchResult]

    static func load(_ path: String) throws(BenchError) -> BenchFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw BenchError("cannot read \(path): \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        if let file = try? decoder.decode(BenchFile.self, from: data) { return file }
        if let rows = try? decoder.decode([BenchResult].self, from: data) { return BenchFile(metadata: nil, results: rows) }
        throw BenchError("\(path) is not a JSON file of axon-bench (--json)")
    }
}
