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

    @Test func ratiosPickTheSyncLoopAtOneAndRedisBenchmarkAbove() {
        var rows = [
            BenchResult(group: "connection", workload: "connection.get.fast", concurrency: 1, ops: 1, p50: 30, p99: 40, max: 50, opsPerSecond: 1),
            BenchResult(group: "connection", workload: "connection.get", concurrency: 64, ops: 1, p50: 200, p99: 300, max: 400, opsPerSecond: 1),
        ]
        rows[0].baselineKey = "get"
        rows[1].baselineKey = "get"
        let baselines = [
            BenchResult(group: "baseline", workload: "hiredis-sync.get", concurrency: 1, ops: 1, p50: 20, p99: 30, max: 40, opsPerSecond: 1),
            BenchResult(group: "baseline", workload: "redis-benchmark.get", concurrency: 64, ops: 1, p50: 100, p99: 30, max: 40, opsPerSecond: 1),
        ]
        let attached = BenchSuite.attachRatios(rows, baselines: baselines)
        #expect(attached[0].baseline == "hiredis-sync.get")
        #expect(attached[0].baselineRatio == 1.5)
        #expect(attached[1].baseline == "redis-benchmark.get")
        #expect(attached[1].baselineRatio == 2)
    }

    @Test func baselineCommandsCarryEveryStepAndTheUniqueMarker() {
        let store = BaselineCommand(key: "s", commands: [RedisCommand("HSET", "e:\(BaselineCommand.uniqueMarker)", "f", "v")])
        #expect(store.single == [Array("HSET".utf8), Array("e:__rand_int__".utf8), Array("f".utf8), Array("v".utf8)])
        #expect(store.hasUniqueMarker && !store.pipelined)
        #expect(store.command == RedisCommand("HSET", "e:__rand_int__", "f", "v"))
        let pair = BaselineCommand(key: "p", commands: [RedisCommand("SET", "k", "v"), RedisCommand("GET", "k")], pipelined: true)
        #expect(pair.single == nil && pair.steps.count == 2 && !pair.hasUniqueMarker && pair.pipelined)
    }

    @Test func jsonUsesTheDocumentedKeys() throws {
        let result = BenchResult(group: "g", workload: "w", concurrency: 1, ops: 1, p50: 1, p99: 2, max: 3, opsPerSecond: 4)
        let text = String(decoding: try Report.json([result]), as: UTF8.self)
        for key in ["group", "workload", "concurrency", "ops", "p50_us", "p99_us", "max_us", "ops_per_sec"] {
            #expect(text.contains("\"\(key)\""))
        }
    }

    @Test func svgDrawsALinePerMeasuredRow() {
        var histogram = WorkloadRunner.newHistogram()
        for value in [10_000, 20_000, 30_000] as [UInt64] { _ = histogram.record(value) }
        let row = BenchResult(group: "g", workload: "connection.get", concurrency: 1, histogram: histogram, elapsedNanoseconds: 1_000_000)
        let svg = Report.svg([row, row], title: "t")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
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
            "pool.get", "pool.set", "pool.del", "shape.connection.get", "shape.pool20.get", "shape.pool16.get",
            "memory.store", "memory.store.words10", "memory.store.words10.noindex", "memory.store.during-recall", "memory.get",
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
        // The tls rows are compared with their plaintext twins on the same server (the C clients have no TLS here).
        for row in results where row.group != "baseline" && row.group != "tls" {
            #expect((row.baselineRatio ?? 0) > 0, "\(row.workload) c=\(row.concurrency) has no ratio (group \(row.group))")
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

    /// The axon-bench executable next to the test bundle, if it was built.
    static func benchBinary() -> URL? {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidate = bundle.appendingPathComponent("axon-bench")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }
}
