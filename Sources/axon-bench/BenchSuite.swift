import Foundation
import Hiredis

/// Runs the selected workloads at each concurrency, then the baselines, and prints the report.
struct BenchSuite {
    let options: BenchOptions

    func run() async throws {
        let (results, notes) = try await measureWithNotes()
        print(Report.markdown(results) + Report.targets(results) + notes.map { $0 + "\n" }.joined(), terminator: "")
        if let path = options.json { try write(Report.json(results), to: path) }
        if let path = options.svg {
            try write(Data(Report.svg(results, title: "axon-bench latency by percentile").utf8), to: path)
        }
    }

    /// Runs the selected workloads and baselines and returns every row.
    func measure() async throws -> [BenchResult] {
        try await measureWithNotes().results
    }

    /// Every row, and what the run found beside them (Redis memory per entry, slow scripts) as Markdown.
    func measureWithNotes() async throws -> (results: [BenchResult], notes: [String]) {
        let configuration = try options.redisConfiguration()
        let connection: RedisConnection
        do {
            connection = try await RedisConnection.connect(configuration)
        } catch {
            throw BenchError("cannot reach Redis at \(configuration.endpoint): \(error.message)")
        }
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: options.valueSize)
        _ = try await connection.send("SET", "bench:{axon}:key", value)

        let memory = try MemoryWorkloads.make(configuration: configuration, recallSizes: options.recallTierSizes) { Self.progress($0) }
        let cluster = try ClusterWorkloads.make(cluster: try options.clusterConfiguration(), singleNode: configuration, value: value)
        let tls = TLSWorkloads.make(server: try options.tlsServer(), value: value)
        let workloads = (ConnectionWorkloads.make(connection: connection, value: value)
            + (try PoolWorkloads.make(configuration: configuration, value: value)) + memory.workloads + cluster.workloads + tls.workloads
            + (try PrimitiveWorkloads.make(configuration: configuration, namespace: "bench-\(UUID().uuidString.prefix(8))")))
            .filter { workload in options.selects(workload.name) }
        let watchesScripts = workloads.contains { $0.group == "memory" }
        if watchesScripts {
            // Every command over 5 ms of server time is logged (a throwaway server; skipped where CONFIG is disabled).
            _ = try? await connection.send("CONFIG", "SET", "slowlog-log-slower-than", "5000")
            _ = try? await connection.send("SLOWLOG", "RESET")
        }
        var notes: [String] = []
        // Before the workloads: nothing else changes the database meanwhile.
        if workloads.contains(where: { $0.name == "memory.store.words10" }) {
            progress("measuring Redis memory per entry")
            do {
                let perEntry = try await memory.setup.footprint(count: min(5000, options.recallTierSizes.max() ?? 5000))
                notes.append(String(
                    format: "Redis memory per 10-word entry with one tag (%d entries, `used_memory` before and after): %.0f bytes with the word index, %.0f without.\n",
                    min(5000, options.recallTierSizes.max() ?? 5000), perEntry.indexed, perEntry.unindexed))
            } catch {
                notes.append("Redis memory per entry: not measured (\(error)).\n")
            }
        }
        var results: [BenchResult] = []
        for workload in workloads {
            for concurrency in workload.fixedConcurrency ?? options.concurrencyLevels {
                progress("\(workload.name) c=\(concurrency)")
                let measurement = try await workload.run(concurrency, options.limits)
                var result = BenchResult(
                    group: workload.group, workload: workload.name, concurrency: concurrency,
                    histogram: measurement.histogram, elapsedNanoseconds: measurement.elapsedNanoseconds)
                result.baselineKey = workload.baselineKey
                results.append(result)
            }
        }
        if watchesScripts { notes.append(try await slowCommands(on: connection)) }
        if !options.noBaselines {
            // Before the clean-up: prepared baselines call scripts on the data the workloads stored.
            let baselines = try await runBaselines(for: workloads, measured: results, endpoint: configuration.endpoint)
            results = Self.attachRatios(results, baselines: baselines) + baselines
        }
        await memory.setup.cleanUp()
        await cluster.close()
        await tls.close()
        await connection.close()
        return (results, notes)
    }

    /// The slow log of the measured rows: every command that took 5 ms or more of server time.
    private func slowCommands(on connection: RedisConnection) async throws -> String {
        guard let entries = try? await connection.send("SLOWLOG", "GET", 128).array() else {
            return "Slow log: not available (CONFIG or SLOWLOG disabled on this server).\n"
        }
        var lines: [String] = []
        for entry in entries {
            guard let fields = try? entry.array(), fields.count >= 4, let micros = try? fields[2].int() else { continue }
            let words = ((try? fields[3].array()) ?? []).prefix(2).compactMap { try? $0.string() }.joined(separator: " ")
            lines.append("- \(micros) µs: `\(words)`")
        }
        return lines.isEmpty
            ? "Slow log (commands of 5 ms or more of server time during the measured rows): empty.\n"
            : "Slow log (commands of 5 ms or more of server time during the measured rows):\n" + lines.joined(separator: "\n") + "\n"
    }

    /// Runs each baseline once per concurrency; `measured` sizes redis-benchmark's request count so that it
    /// takes about as long as our row did (a 25 ms text recall must not run 15,000 times).
    private func runBaselines(
        for workloads: [Workload], measured: [BenchResult], endpoint: RedisConfiguration.Endpoint
    ) async throws -> [BenchResult] {
        guard case .tcp(let host, let port) = endpoint else { return [] }
        var commands: [BaselineCommand] = []
        for workload in workloads {
            var command = workload.baseline
            if command == nil, let prepared = workload.prepared, !commands.contains(where: { $0.key == prepared.key }) {
                progress("preparing the \(prepared.key) baseline")
                command = try await prepared.make()
            }
            if let command, !commands.contains(command) { commands.append(command) }
        }
        var results: [BenchResult] = []
        let sync = HiredisSyncBaseline(host: host, port: port)
        for command in commands {
            // At one caller; for what redis-benchmark cannot run, also at each concurrency a row of ours needs.
            let levels = command.single != nil ? [1] : Set([1] + measured.filter { $0.baselineKey == command.key }.map(\.concurrency)).sorted()
            for concurrency in levels {
                progress("hiredis-sync.\(command.key) c=\(concurrency)")
                let measurement = try sync.run(command, concurrency: concurrency, limits: options.limits)
                results.append(BenchResult(
                    group: "baseline", workload: "hiredis-sync.\(command.key)", concurrency: concurrency,
                    histogram: measurement.histogram, elapsedNanoseconds: measurement.elapsedNanoseconds))
            }
        }
        guard let redisBenchmark = RedisBenchmarkBaseline(host: host, port: port) else {
            progress("redis-benchmark not installed: its baseline rows are skipped")
            return results
        }
        for command in commands {
            guard let single = command.single else { continue }  // a sequence: the sync loop only
            // At one caller (beside the sync loop) and at each concurrency one of our rows compares with it.
            let levels = Set([1] + measured.filter { $0.baselineKey == command.key }.map(\.concurrency))
            for concurrency in levels.sorted() {
                progress("redis-benchmark.\(command.key) c=\(concurrency)")
                var requests = options.operations ?? max(10_000, Int(options.duration * (concurrency == 1 ? 30_000 : 150_000)))
                let ours = measured.filter { $0.baselineKey == command.key && $0.concurrency == concurrency }.map(\.opsPerSecond).max()
                if let ours, ours > 0 { requests = min(requests, max(2 * concurrency, Int(ours * 1.5 * options.duration))) }
                results.append(try redisBenchmark.run(
                    name: "redis-benchmark.\(command.key)",
                    command: single.map { String(decoding: $0, as: UTF8.self) },
                    concurrency: concurrency, requests: requests, unique: command.hasUniqueMarker, valueSize: options.valueSize))
            }
        }
        return results
    }

    /// Each row's baseline: the sync hiredis loop at concurrency 1, redis-benchmark at the same concurrency above
    /// it, or the sync loop on that many threads where redis-benchmark cannot run the request.
    static func attachRatios(_ results: [BenchResult], baselines: [BenchResult]) -> [BenchResult] {
        results.map { result in
            var result = result
            guard let key = result.baselineKey else { return result }
            let candidates = result.concurrency == 1 ? ["hiredis-sync.\(key)"] : ["redis-benchmark.\(key)", "hiredis-sync.\(key)"]
            for wanted in candidates {
                if let baseline = baselines.first(where: { $0.workload == wanted && $0.concurrency == result.concurrency }),
                   let ours = result.p50Microseconds, let theirs = baseline.p50Microseconds, theirs > 0
                {
                    result.baseline = wanted
                    result.baselineRatio = ours / theirs
                    break
                }
            }
            return result
        }
    }

    private func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { throw BenchError("cannot write \(path): \(error.localizedDescription)") }
    }

    private func progress(_ message: String) {
        Self.progress(message)
    }

    static func progress(_ message: String) {
        FileHandle.standardError.write(Data("axon-bench: \(message)\n".utf8))
    }
}
