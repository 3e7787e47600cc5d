import Axon
import Foundation
import Hiredis
import Synchronization

/// Runs the selected workloads at each concurrency, each beside its baselines in interleaved rounds, and prints the report.
struct BenchSuite {
    let options: BenchOptions

    func run() async throws {
        // Before measuring: a run must not end in a path it cannot write.
        for path in [options.json, options.svg].compactMap({ $0 }) { try OutputFile.checkWritable(path) }
        let run = try await measureRun()
        let failures = run.results.compactMap { row in row.error.map { "\(row.workload) c=\(row.concurrency): \($0)" } }
        print(Report.markdown(run.results) + Report.targets(run.results) + run.notes.map { $0 + "\n" }.joined(), terminator: "")
        if let path = options.json { try OutputFile.write(Report.json(run.results, metadata: run.metadata), to: path) }
        if let path = options.svg {
            try OutputFile.write(Data(Report.svg(run.results, title: "axon-bench latency by percentile").utf8), to: path)
        }
        // Everything measured is written first; then a row of ours that failed fails the run.
        if !failures.isEmpty {
            throw BenchError("\(failures.count) row(s) failed (the table, JSON and SVG have the rest): \(failures.joined(separator: "; "))")
        }
    }

    /// Runs the selected workloads and baselines and returns every row.
    func measure() async throws -> [BenchResult] {
        try await measureRun().results
    }

    /// Every row, what the run found beside them (Redis memory per entry, slow scripts, failed baselines) as
    /// Markdown, and the run's metadata.
    func measureRun() async throws -> (results: [BenchResult], notes: [String], metadata: RunMetadata) {
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
        let all = ConnectionWorkloads.make(connection: connection, value: value)
            + (try PoolWorkloads.make(configuration: configuration, value: value)) + memory.workloads + cluster.workloads + tls.workloads
            + (try PrimitiveWorkloads.make(configuration: configuration, namespace: "bench-\(UUID().uuidString.prefix(8))"))
        let workloads = all.filter { workload in options.selects(workload.name) }
        let cleanUp = { @Sendable in
            await memory.setup.cleanUp()
            await cluster.close()
            await tls.close()
            await connection.close()
        }
        guard !workloads.isEmpty else {
            await cleanUp()
            throw BenchError("--filter '\(options.filter ?? "")' matches no workload; the workloads are: \(all.map(\.name).joined(separator: ", "))")
        }
        let metadata = await RunMetadata.collect(options: options, connection: connection)
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
        var interleaver = Interleaver(options: options, endpoint: configuration.endpoint, reference: all.first { $0.name == "connection.get" })
        var results: [BenchResult] = []
        for workload in workloads {
            for concurrency in workload.fixedConcurrency ?? options.concurrencyLevels {
                progress("\(workload.name) c=\(concurrency)")
                results.append(await interleaver.measure(workload, concurrency: concurrency))
            }
        }
        if watchesScripts {
            notes.append(await slowCommands(
                on: connection, beforeFills: memory.setup.slowBeforeFills.withLock { $0 }, duringFills: memory.setup.slowDuringFills.withLock { $0 }))
        }
        notes += interleaver.failureNotes
        await cleanUp()
        return (results + interleaver.baselineRows(), notes, metadata)
    }

    /// The slow log: every command that took 5 ms or more of server time during the measured rows (`beforeFills` and
    /// what is logged now), then those of the setup (filling the recall tiers).
    private func slowCommands(on connection: RedisConnection, beforeFills: [RedisReply], duringFills: [RedisReply]) async -> String {
        guard let entries = try? await connection.send("SLOWLOG", "GET", 128).array() else {
            return "Slow log: not available (CONFIG or SLOWLOG disabled on this server).\n"
        }
        // The memory scripts by digest (SCRIPT LOAD answers a script's SHA1 and loads nothing new for a known one).
        var names: [String: String] = [:]
        for (name, source) in RedisAdapter.scriptSources {
            if let digest = try? await connection.send("SCRIPT", "LOAD", source).string() { names[digest] = name }
        }
        func lines(_ entries: [RedisReply]) -> [String] {
            entries.compactMap { entry in
                guard let fields = try? entry.array(), fields.count >= 4, let micros = try? fields[2].int() else { return nil }
                let words = ((try? fields[3].array()) ?? []).prefix(2).compactMap { try? $0.string() }
                let script = words.count == 2 && words[0].uppercased() == "EVALSHA" ? names[words[1]].map { " (the \($0) script)" } : nil
                return "- \(micros) µs: `\(words.joined(separator: " "))`\(script ?? "")"
            }
        }
        let measured = lines(beforeFills + entries), setup = lines(duringFills)
        var out = measured.isEmpty
            ? "Slow log (commands of 5 ms or more of server time during the measured rows, ours and the baselines'): empty.\n"
            : "Slow log (commands of 5 ms or more of server time during the measured rows, ours and the baselines'):\n"
                + measured.joined(separator: "\n") + "\n"
        if !setup.isEmpty {
            out += "While filling the recall tiers (setup: 4 tasks storing batches of 250):\n" + setup.joined(separator: "\n") + "\n"
        }
        return out
    }

    private func progress(_ message: String) {
        Self.progress(message)
    }

    static func progress(_ message: String) {
        FileHandle.standardError.write(Data("axon-bench: \(message)\n".utf8))
    }
}
