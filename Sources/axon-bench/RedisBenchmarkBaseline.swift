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

    /// Runs `redis-benchmark` with `command` and parses its CSV line. With `unique`, every request gets its own
    /// random number where the command says `__rand_int__` (`-r`).
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
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw BenchError("could not run redis-benchmark: \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("redis-benchmark exited with status \(process.terminationStatus)") }
        return try Self.parse(csv: String(decoding: data, as: UTF8.self), name: name, concurrency: concurrency, requests: requests * pipeline)
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
