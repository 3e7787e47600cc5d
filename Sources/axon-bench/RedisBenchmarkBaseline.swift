import Foundation

/// The server's ceiling: `redis-benchmark` (from redis-tools) for the same command and concurrency.
struct RedisBenchmarkBaseline {
    let executable: URL
    let host: String
    let port: Int

    /// `redis-benchmark` from `PATH`, or `nil` when it is not installed.
    init?(host: String, port: Int) {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let found = path.split(separator: ":").map({ URL(fileURLWithPath: String($0)).appendingPathComponent("redis-benchmark") })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) })
        else { return nil }
        executable = found
        self.host = host
        self.port = port
    }

    /// Runs `redis-benchmark` with `command` (`requests` in total, `-c concurrency -P pipeline`) and parses its CSV
    /// line; the row's concurrency is the requests in flight (`concurrency × pipeline`). With `unique`, every request
    /// gets its own random number where the command says `__rand_int__` (`-r`). A failure carries what
    /// redis-benchmark printed.
    func run(name: String, command: [String], concurrency: Int, requests: Int, pipeline: Int = 1, unique: Bool = false, valueSize: Int)
        throws(BenchError) -> BenchResult
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "-h", host, "-p", "\(port)", "-c", "\(concurrency)", "-n", "\(requests)", "-P", "\(pipeline)",
            "-d", "\(valueSize)", "--csv",
        ] + (unique ? ["-r", "1000000000000"] : []) + command
        let output = Pipe()
        process.standardOutput = output
        // A file, not a pipe: nothing blocks however much it prints while stdout is read.
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("axon-bench-\(UUID().uuidString).stderr")
        guard FileManager.default.createFile(atPath: errorPath.path, contents: nil), let errors = try? FileHandle(forWritingTo: errorPath) else {
            throw BenchError("could not create \(errorPath.path) for redis-benchmark's messages")
        }
        defer {
            try? errors.close()
            try? FileManager.default.removeItem(at: errorPath)
        }
        process.standardError = errors
        do { try process.run() } catch { throw BenchError("could not run redis-benchmark: \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let printed = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let message = ((try? String(contentsOf: errorPath, encoding: .utf8)) ?? "") + printed
            throw BenchError("redis-benchmark exited with status \(process.terminationStatus): \(Self.summary(of: message))")
        }
        do {
            return try Self.parse(csv: printed, name: name, concurrency: concurrency * pipeline, requests: requests)
        } catch {
            let message = (try? String(contentsOf: errorPath, encoding: .utf8)) ?? ""
            throw message.isEmpty ? error : BenchError("\(error.description): \(Self.summary(of: message))")
        }
    }

    /// The last non-empty lines of what a tool printed, on one line and at most 300 characters.
    static func summary(of text: String) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { return "it printed nothing" }
        let joined = lines.suffix(3).joined(separator: " / ")
        return joined.count > 300 ? String(joined.prefix(300)) + "…" : joined
    }

    /// Parses redis-benchmark 7's `--csv` output: a header line, then
    /// `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"`.
    static func parse(csv: String, name: String, concurrency: Int, requests: Int) throws(BenchError) -> BenchResult {
        let lines = csv.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("\"test\"") && !$0.isEmpty }
        guard let line = lines.last else { throw BenchError("redis-benchmark printed no result") }
        let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        guard fields.count >= 8, let rps = Double(fields[1]) else { throw BenchError("unexpected redis-benchmark output: \(line)") }
        func us(_ index: Int) -> Double? { Double(fields[index]).map { $0 * 1000 } }
        return BenchResult(
            group: "baseline", workload: name, concurrency: concurrency, ops: requests,
            p50: us(4), p99: us(6), max: us(7), opsPerSecond: rps)
    }
}

/// A bench failure with a one-line message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
