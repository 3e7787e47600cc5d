import ArgumentParser
import Foundation
import Hiredis
import Histogram
import Testing
import TestSupport
@testable import axon_bench

@Suite("axon-bench options and output")
struct BenchOptionsTests {
    @Test func parsesConcurrencyAndFilters() throws {
        let options = try BenchOptions.parse(["--concurrency", "1, 8,64", "--filter", "connection.get,pool", "--duration", "0.5"])
        #expect(options.concurrencyLevels == [1, 8, 64])
        #expect(options.filters == ["connection.get", "pool"])
        #expect(options.limits.duration == .milliseconds(500))
        #expect(options.selects("connection.get.fast") && options.selects("pool.set") && !options.selects("memory.get"))
        let exact = try BenchOptions.parse(["--filter", "=connection.get"])
        #expect(exact.selects("connection.get") && !exact.selects("connection.get.fast") && !exact.selects("shape.connection.get"))
    }

    @Test(arguments: [
        ["--concurrency", "0"], ["--concurrency", "a,b"], ["--duration", "-1"], ["--port", "70000"],
        ["--value-size", "-3"], ["--operations", "0"], ["--host", ""],
    ])
    func rejectsBadOptions(arguments: [String]) {
        #expect(throws: (any Error).self) { try BenchOptions.parse(arguments) }
    }

    @Test func parsesRedisBenchmarkCSV() throws {
        let csv = """
        "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        "GET","35842.29","0.025","0.008","0.023","0.031","0.047","0.295"
        """
        let result = try RedisBenchmarkBaseline.parse(csv: csv, name: "redis-benchmark.get", concurrency: 1, requests: 1000)
        #expect(result.opsPerSecond == 35842.29)
        #expect(result.p50Microseconds == 23)
        #expect(result.p99Microseconds == 47)
        #expect(result.maxMicroseconds == 295)
        #expect(result.p90Microseconds == nil)
    }

    @Test func markdownHasOneRowPerResultAndDashesForMissingFigures() {
        let results = [
            BenchResult(group: "connection", workload: "connection.get", concurrency: 1, ops: 10, p50: 30.25, p99: 50, max: 120, opsPerSecond: 31000),
            BenchResult(group: "baseline", workload: "redis-benchmark.get", concurrency: 1, ops: 10, p50: 23, p99: 47, max: 295, opsPerSecond: 35842),
        ]
        let table = Report.markdown(results)
        #expect(table.contains("### connection"))
        #expect(table.contains("### baseline"))
        #expect(table.contains("| connection.get | 1 | 10 | 30.2 | – | 50.0 | – | 120 | 31000 | – | – |"))
    }

    @Test func baselinesAreTheSyncLoopAtOneAndTheCeilingForConnectionRows() {
        let (get, _, _) = BaselineCommand.standard(value: [1])
        #expect(BaselinePlan.plans(for: get, group: "connection", concurrency: 1, redisBenchmark: true).map(\.name) == ["hiredis-sync.get"])
        let ceiling = BaselinePlan.plans(for: get, group: "pool", concurrency: 64, redisBenchmark: true)
        #expect(ceiling.map(\.name) == ["redis-benchmark.P64.get", "redis-benchmark.get"])
        #expect(ceiling.map(\.kind) == [.redisBenchmark(clients: 1, pipeline: 64), .redisBenchmark(clients: 64, pipeline: 1)])
        #expect(ceiling.allSatisfy { $0.concurrency == 64 })
        #expect(BaselinePlan.plans(for: get, group: "memory", concurrency: 8, redisBenchmark: true).map(\.name) == ["redis-benchmark.get"])
        #expect(BaselinePlan.plans(for: get, group: "pool", concurrency: 8, redisBenchmark: false).map(\.kind) == [.sync(threads: 8)])
        let pair = BaselineCommand(key: "p", commands: [RedisCommand("SET", "k", "v"), RedisCommand("GET", "k")], pipelined: true)
        #expect(BaselinePlan.plans(for: pair, group: "connection", concurrency: 64, redisBenchmark: true).map(\.kind) == [.sync(threads: 64)])
    }

    @Test func roundsSplitTheBudgetAndRatiosAreMedians() {
        let limits = RunLimits(duration: .milliseconds(900), warmup: .milliseconds(200), maxOperations: 30)
        let first = Interleaver.limits(of: limits, round: 0, rounds: 3)
        let later = Interleaver.limits(of: limits, round: 2, rounds: 3)
        #expect(first.duration == .milliseconds(300) && first.warmup == .milliseconds(200) && first.maxOperations == 10)
        #expect(later.warmup == .zero)
        #expect(Interleaver.median([3, 1, 2]) == 2 && Interleaver.median([4, 1, 2, 3]) == 2.5 && Interleaver.median([]) == nil)
    }

    @Test func aFailingRowKeepsItsErrorAndAFailingBaselineSaysWhy() async throws {
        let options = try BenchOptions.parse(["--duration", "0.01", "--warmup", "0", "--rounds", "2"])
        var interleaver = Interleaver(options: options, endpoint: .tcp(host: "127.0.0.1", port: 1))
        let failing = Workload(group: "g", name: "w.fails", baseline: nil) { _, _ in throw BenchError("the server said no") }
        let row = await interleaver.measure(failing, concurrency: 1)
        #expect(row.error == "the server said no" && row.ops == 0 && row.p50Microseconds == nil)
        #expect(Report.markdown([row]).contains("- w.fails c=1 failed: the server said no"))
        // Its baseline cannot be prepared: the row keeps its figures and says why.
        let unprepared = Workload(group: "g", name: "w.ok", baseline: nil) { concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in }
        }.comparedWith("w.ok") { throw BenchError("no data") }
        let kept = await interleaver.measure(unprepared, concurrency: 1)
        #expect(kept.error == nil && kept.ops > 0 && kept.rounds == 2 && kept.baselineRatio == nil)
        #expect(kept.baselineError?.contains("no data") == true)
        #expect(Report.markdown([kept]).contains("| failed | – |"))
    }

    @Test func baselineCommandsCarryEveryStepAndTheUniqueMarker() {
        let store = BaselineCommand(key: "s", commands: [RedisCommand("HSET", "e:\(BaselineCommand.uniqueMarker)", "f", "v")])
        #expect(store.single == [Array("HSET".utf8), Array("e:__rand_int__".utf8), Array("f".utf8), Array("v".utf8)])
        #expect(store.hasUniqueMarker && !store.pipelined)
        #expect(store.command == RedisCommand("HSET", "e:__rand_int__", "f", "v"))
        let pair = BaselineCommand(key: "p", commands: [RedisCommand("SET", "k", "v"), RedisCommand("GET", "k")], pipelined: true)
        #expect(pair.single == nil && pair.steps.count == 2 && !pair.hasUniqueMarker && pair.pipelined)
    }

    @Test func jsonUsesTheDocumentedKeysAndCarriesTheRunsMetadata() throws {
        var result = BenchResult(group: "g", workload: "w", concurrency: 1, ops: 1, p50: 1, p99: 2, max: 3, opsPerSecond: 4)
        result.baselineRatios = [1, 2]
        let metadata = RunMetadata(
            date: "2026-11-28T00:00:00Z", hostCPUs: 2, system: "Linux", swift: "6.2", hiredis: "0.14.1", redisServer: "7.0.15",
            arguments: ["--duration", "2"], rounds: 3)
        let data = try Report.json([result], metadata: metadata)
        let text = String(decoding: data, as: UTF8.self)
        for key in ["group", "workload", "concurrency", "ops", "p50_us", "p99_us", "max_us", "ops_per_sec", "baseline_ratios", "host_cpus", "redis_server"] {
            #expect(text.contains("\"\(key)\""))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("axon-bench-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try data.write(to: URL(fileURLWithPath: path))
        let file = try BenchFile.load(path)
        #expect(file.metadata == metadata && file.results == [result])
        // Files written before the metadata existed: a bare array.
        try Data("[\(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))]".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try BenchFile.load(path).results == [result])
    }

    @Test func compareSetsTwoRunsSideBySide() {
        let a = BenchFile(metadata: nil, results: [
            BenchResult(group: "g", workload: "connection.get", concurrency: 1, ops: 1, p50: 50, p99: 60, max: 70, opsPerSecond: 20_000),
            BenchResult(group: "g", workload: "gone", concurrency: 1, ops: 1, p50: 1, p99: 1, max: 1, opsPerSecond: 1),
        ])
        let b = BenchFile(metadata: nil, results: [
            BenchResult(group: "g", workload: "connection.get", concurrency: 1, ops: 1, p50: 40, p99: 60, max: 70, opsPerSecond: 25_000),
        ])
        let table = Compare.table(a, b, names: ("a.json", "b.json"))
        #expect(table.contains("| connection.get | 1 | 50.0 | 40.0 | 0.80 | 20000 | 25000 | 1.25 | – | – |"))
        #expect(table.contains("Only in A: gone c=1"))
    }

    @Test func outputPathsAreCheckedBeforeMeasuring() throws {
        #expect(throws: BenchError.self) { try OutputFile.checkWritable("/nonexistent-dir/out.json") }
        #expect(throws: BenchError.self) { try OutputFile.checkWritable(FileManager.default.temporaryDirectory.path) }
        try OutputFile.checkWritable(FileManager.default.temporaryDirectory.appendingPathComponent("new.json").path)
    }

    @Test func negativeNumbersReachValidation() {
        #expect(AxonBench.joiningNegativeNumbers(["--duration", "-1", "--filter", "x", "--no-baselines"])
            == ["--duration=-1", "--filter", "x", "--no-baselines"])
    }

    @Test func svgDrawsALinePerMeasuredRowInOnePanelPerGroup() {
        var histogram = WorkloadRunner.newHistogram()
        for value in [10_000, 20_000, 30_000] as [UInt64] { _ = histogram.record(value) }
        let row = BenchResult(group: "g", workload: "connection.get", concurrency: 1, histogram: histogram, elapsedNanoseconds: 1_000_000)
        let other = BenchResult(group: "h", workload: "memory.get", concurrency: 1, histogram: histogram, elapsedNanoseconds: 1_000_000)
        let svg = Report.svg([row, row, other] + Array(repeating: other, count: 9), title: "t")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<polyline").count == 13)
        // g, then h in two panels (8 lines at most each).
        #expect(svg.components(separatedBy: "<g transform").count == 4)
        #expect(svg.contains(">h (2 of 2)</text>"))
    }
}

@Suite("axon-bench against the test server")
struct BenchSmokeTests {
    @Test func tinySuiteHasEveryRowWithSaneNumbers() async throws {
        let options = try BenchOptions.parse([
            "--duration", "0.05", "--warmup", "0", "--operations", "300", "--concurrency", "1,4", "--recall-sizes", "1000,2000",
        ])
        // One at a time with the other heavy tests (see HeavyTestGate).
        let results = try await HeavyTestGate.shared.run { try await BenchSuite(options: options).measure() }
        let names = Set(results.map(\.workload))
        for expected in [
            "connection.get", "connection.get.fast", "connection.set", "connection.del", "connection.pipeline.setget100",
            "pool.get", "pool.set", "pool.del", "shape.connection.get", "redis-benchmark.P4.get", "shape.pool20.get", "shape.pool16.get",
            "memory.store", "memory.store.words10", "memory.store.words10.noindex", "memory.store.before-recall", "memory.store.during-recall", "memory.get",
            "memory.forget", "memory.recall.tag.1k", "memory.recall.tag.every.2k", "memory.recall.tag.unrelated100k",
            "memory.recall.text.1k", "memory.recall.text.every.2k", "memory.recall.session.2k", "ratelimit.check", "lock.acquire-release", "hiredis-sync.get", "redis-benchmark.get",
            "hiredis-sync.memory.store", "hiredis-sync.memory.get", "hiredis-sync.memory.recall.tag.1k", "hiredis-sync.lock.acquire-release",
            "hiredis-sync.pipeline.setget100", "redis-benchmark.memory.get", "redis-benchmark.ratelimit.check",
        ] {
            #expect(names.contains(expected), "missing row \(expected)")
        }
        // Every row of ours is compared with the same request(s): the sync hiredis loop at one caller, then
        // redis-benchmark, or the sync loop on a thread per connection for a sequence or a mixed pipeline.
        if ProcessInfo.processInfo.environment["REDIS_CLUSTER_NODES"] != nil {
            for expected in ["cluster.get", "cluster.set", "cluster.direct.get", "cluster.memory.store"] {
                #expect(names.contains(expected), "missing row \(expected)")
            }
        }
        if ProcessInfo.processInfo.environment["REDIS_TLS_TEST_PORT"] != nil {
            for expected in ["tls.get", "tls.plain.get", "tls.set", "tls.plain.set"] {
                #expect(names.contains(expected), "missing row \(expected)")
            }
            #expect(Report.targets(results).contains("tls.get ops/s / tls.plain.get"))
        }
        // The tls rows are compared with their plaintext twins on the same server (the C clients have no TLS here), the
        // mixed pool rows with each other (the targets table).
        for name in ["pool.mixed.get.alone", "pool.mixed.get.beside-1mib", "pool.mixed.get.beside-1mib.apart"] {
            #expect(names.contains(name), "missing row \(name)")
        }
        #expect(Report.targets(results).contains("pool GET p99 beside a task moving 1 MiB values / alone"))
        for row in results where row.group != "baseline" && row.group != "tls" && !row.workload.hasPrefix("pool.mixed.") {
            #expect((row.baselineRatio ?? 0) > 0, "\(row.workload) c=\(row.concurrency) has no ratio (group \(row.group)): \(row.baselineError ?? "no error")")
            if row.concurrency == 1 { #expect(row.baseline?.hasPrefix("hiredis-sync.") == true) }
        }
        #expect(results.contains { $0.workload == "hiredis-sync.lock.acquire-release" && $0.concurrency == 4 })
        for row in results where row.ops > 0 {
            let p50 = try #require(row.p50Microseconds)
            let p99 = try #require(row.p99Microseconds)
            let max = try #require(row.maxMicroseconds)
            #expect(p50 > 0 && p50 <= p99 && p99 <= max, "\(row.workload)")
            #expect(row.opsPerSecond > 0, "\(row.workload)")
        }
        #expect(results.filter { $0.group != "baseline" }.allSatisfy { $0.ops > 0 })
        let table = Report.markdown(results)
        #expect(table.components(separatedBy: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| workload") }.count == results.count)
    }
}

@Suite("axon-bench failures")
struct BenchFailureTests {
    @Test func unreachableServerIsOneLineAndExitCodeOne() throws {
        let binary = try #require(Self.benchBinary())
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--host", "127.0.0.1", "--port", "1", "--duration", "0.1"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1)
        #expect(text.split(separator: "\n").count == 1)
        #expect(text.contains("cannot reach Redis at 127.0.0.1:1"))
    }

    @Test func aFilterThatMatchesNothingIsAnError() async throws {
        let options = try BenchOptions.parse(["--filter", "no-such-workload", "--duration", "0.01"])
        await #expect { try await BenchSuite(options: options).measure() } throws: { error in
            (error as? BenchError)?.description.contains("--filter 'no-such-workload' matches no workload; the workloads are: connection.get") == true
        }
    }

    /// A redis-benchmark that fails the way a real one does (its message on stderr, status 1): the run keeps every
    /// row, says why in the rows that needed it, and writes its table, JSON and SVG.
    @Test func aFailingBaselineLosesNoRow() throws {
        let binary = try #require(Self.benchBinary())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("axon-bench-fake-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = directory.appendingPathComponent("redis-benchmark")
        try "#!/bin/sh\necho 'Could not connect to Redis at 127.0.0.1:6379: Connection refused' >&2\nexit 1\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let json = directory.appendingPathComponent("out.json"), svg = directory.appendingPathComponent("out.svg")
        let process = Process()
        process.executableURL = binary
        let server = SharedServer.configuration()
        guard case .tcp(let host, let port) = server.endpoint else { return }
        process.arguments = [
            "--host", host, "--port", "\(port)", "--filter", "=connection.get", "--concurrency", "1,4", "--duration", "0.05",
            "--warmup", "0", "--rounds", "2", "--json", json.path, "--svg", svg.path,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = directory.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        for name in ["REDIS_CLUSTER_NODES", "REDIS_TLS_TEST_PORT"] { environment[name] = nil }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let table = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(table.contains("| connection.get | 1 |") && table.contains("| connection.get | 4 |"))
        #expect(table.contains("redis-benchmark exited with status 1: Could not connect to Redis at 127.0.0.1:6379: Connection refused"))
        let file = try BenchFile.load(json.path)
        let one = try #require(file.results.first { $0.workload == "connection.get" && $0.concurrency == 1 })
        let four = try #require(file.results.first { $0.workload == "connection.get" && $0.concurrency == 4 })
        #expect(one.baseline == "hiredis-sync.get" && (one.baselineRatio ?? 0) > 0 && one.rounds == 2)
        #expect(four.ops > 0 && four.baseline == nil && four.baselineError?.contains("Connection refused") == true)
        #expect(file.metadata?.rounds == 2)
        #expect(FileManager.default.fileExists(atPath: svg.path))
    }

    /// The axon-bench executable next to the test bundle, if it was built.
    static func benchBinary() -> URL? {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidate = bundle.appendingPathComponent("axon-bench")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }
}
