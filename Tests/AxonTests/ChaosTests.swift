@testable import Axon
import Foundation
import Hiredis
import Testing
import TestSupport

/// The standing fault suite (`make chaos`; also part of `make test`): against throwaway servers, kill -9 and
/// restart under load, SIGSTOP/SIGCONT, OOM, real eviction, maxclients, a listener that closes at once. Every
/// call returns within its documented bound, no acknowledged write is lost, the pool heals, and the raw layout
/// checks out (scripts/check-memory-layout.lua through redis-cli, not through the library).
@Suite("Chaos: faults against throwaway servers", .heavy)
struct ChaosTests {
    static let layoutChecker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/check-memory-layout.lua").standardized.path

    /// The layout problems of `namespace`'s `tier`, read with redis-cli; empty when consistent.
    static func layoutProblems(_ server: RedisServerProcess, namespace: String, tier: MemoryTier = .session) throws -> [String] {
        let prefix = RedisKeyspace(namespace: namespace).tierPrefix(tier)
        let output = try server.cli(["--eval", layoutChecker, ",", prefix])
        return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Calls that took longer than `bound` (plus what the machine stalled meanwhile).
    final class Timings: Sendable {
        private let slow = Locked<[String]>([])
        let bound: Duration
        init(bound: Duration) { self.bound = bound }
        func measure<T: Sendable>(_ what: String, _ body: () async throws -> T) async throws -> T {
            let stalls = StallMeter()
            let started = ContinuousClock.now
            defer {
                let took = ContinuousClock.now - started
                if took > bound + stalls.allowance { slow.withLock { $0.append("\(what) took \(took)") } }
            }
            return try await body()
        }
        var violations: [String] { slow.value }
    }

    @Test func killAndRestartUnderLoadLosesNoAcknowledgedStore() async throws {
        let server = try await RedisServerProcess.start(["--appendonly", "yes", "--appendfsync", "always"])
        defer { server.stop() }
        let namespace = "chaos-kill-\(UUID().uuidString)"
        let configuration = RedisConfiguration(
            host: "127.0.0.1", port: server.port, connectTimeout: .seconds(2), commandTimeout: .seconds(2))
        let memory = try MemorySystem(
            config: MemoryConfig(session: try SessionPolicy(ttl: .seconds(3600), maxEntries: 1_000_000)),
            redis: try RedisAdapter(configuration: configuration, namespace: namespace, maxConnections: 4))
        let acknowledged = Locked<[String]>([])
        let lastSuccess = Locked(ContinuousClock.now)
        let stop = Locked(false)
        // A call waits at most for a connect and a command: connectTimeout + commandTimeout.
        let timings = Timings(bound: .seconds(4))
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<64 {
                    group.addTask {
                        var round = 0
                        while !stop.value {
                            round += 1
                            do {
                                switch round % 10 {
                                case 0..<7:
                                    let id = try await timings.measure("store") {
                                        try await memory.store("worker \(worker) round \(round)", tier: .session, tags: ["w\(worker % 8)"])
                                    }
                                    acknowledged.withLock { $0.append(id) }
                                case 7, 8:
                                    let id = acknowledged.value.last ?? "none"
                                    _ = try await timings.measure("get") { try await memory.get(id, tier: .session) }
                                default:
                                    _ = try await timings.measure("recall") {
                                        try await memory.recall("round", tier: .session, filter: MemoryFilter(tags: ["w\(worker % 8)"]))
                                    }
                                }
                                lastSuccess.withLock { $0 = ContinuousClock.now }
                            } catch {
                                try? await Task.sleep(for: .milliseconds(10))  // failures are expected while the server is down
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(800))
        server.crash()
        try await Task.sleep(for: .milliseconds(300))
        try await server.restart()
        let restarted = ContinuousClock.now
        let stalls = StallMeter()
        try await Task.sleep(for: .milliseconds(2500))
        stop.withLock { $0 = true }
        await load.value
        #expect(timings.violations.isEmpty, "\(timings.violations.prefix(5))")
        // The pool healed: calls succeeded again soon after the restart (backoff is at most 1 s).
        #expect(lastSuccess.value > restarted)
        let ids = acknowledged.value
        #expect(ids.count > 100)
        var lost: [String] = []
        for id in ids where try await memory.get(id, tier: .session) == nil { lost.append(id) }
        #expect(lost.isEmpty, "\(lost.count) acknowledged stores lost")
        #expect(try Self.layoutProblems(server, namespace: namespace).isEmpty)
        _ = stalls
        await memory.close()
    }

    @Test func aPausedServerFailsCallsWithinTheCommandTimeoutAndThePoolHeals() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let configuration = RedisConfiguration(
            host: "127.0.0.1", port: server.port, connectTimeout: .milliseconds(300), commandTimeout: .milliseconds(200))
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 4)
        _ = try await pool.send("SET", "k", "v")
        let timings = Timings(bound: .milliseconds(500))
        let failures = Locked(0)
        server.pause()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for _ in 0..<5 {
                        do { _ = try await timings.measure("get") { try await pool.send("GET", "k") } } catch { failures.withLock { $0 += 1 } }
                    }
                }
            }
            try await group.waitForAll()
        }
        server.resume()
        #expect(failures.value > 0)
        #expect(timings.violations.isEmpty, "\(timings.violations.prefix(5))")
        // Healed: within the backoff (at most 1 s) and a reconnect.
        let healed = try await withDeadline(.seconds(10)) {
            while true {
                if (try? await pool.send("GET", "k").string()) == "v" { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(healed)
        await pool.close()
    }

    @Test func outOfMemoryFailsWritesCleanlyUnderNoEviction() async throws {
        let server = try await RedisServerProcess.start(["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"])
        defer { server.stop() }
        let namespace = "chaos-oom-\(UUID().uuidString)"
        let memory = try MemorySystem(
            config: MemoryConfig(session: try SessionPolicy(ttl: .seconds(3600), maxEntries: 1_000_000)),
            redis: try RedisAdapter(configuration: server.configuration(), namespace: namespace, maxConnections: 2))
        let text = String(repeating: "payload words ", count: 1000)
        var stored: [String] = []
        var oom: MemoryError?
        for index in 0..<2000 {
            do {
                stored.append(try await memory.store("\(index) \(text)", tier: .session, tags: ["big"]))
            } catch let error as MemoryError {
                oom = error
                break
            }
        }
        let error = try #require(oom)
        #expect(error.code == .storage)
        #expect(error.redisError?.serverErrorPrefix == "OOM", "\(error)")
        #expect(try Self.layoutProblems(server, namespace: namespace).isEmpty)
        #expect(try await memory.count(tier: .session) == stored.count)
        #expect(try await memory.get(stored[0], tier: .session) != nil)
        // A pipelined batch that runs out of memory part-way: the entries it wrote are removed again.
        for id in stored.suffix(20) { try await memory.forget(id, tier: .session) }
        let before = try await memory.count(tier: .session)
        let batch = (0..<50).map { MemorySystem.Input("batch \($0) \(text)", tier: .session, tags: ["big"]) }
        do {
            _ = try await memory.storeBatch(batch)
            Issue.record("the batch should have run out of memory")
        } catch let error as MemoryError {
            #expect(error.code == .storage)
            #expect(error.redisError?.serverErrorPrefix == "OOM", "\(error)")
            #expect(error.message.contains("storeBatch failed at entry") && error.message.contains("were removed"), "\(error)")
            #expect(!error.message.contains("failed at entry 1 of"), "some of the batch should have fit: \(error)")
        }
        #expect(try await memory.count(tier: .session) == before)
        #expect(try Self.layoutProblems(server, namespace: namespace).isEmpty)
        await memory.close()
    }

    @Test func realEvictionIsRepairedByRebuildAndSweep() async throws {
        let server = try await RedisServerProcess.start(["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"])
        defer { server.stop() }
        let namespace = "chaos-evict-\(UUID().uuidString)"
        let memory = try MemorySystem(
            config: MemoryConfig(session: try SessionPolicy(ttl: .seconds(3600), maxEntries: 1_000_000)),
            redis: try RedisAdapter(configuration: server.configuration(), namespace: namespace, maxConnections: 2, evictionRule: .tolerate))
        let text = String(repeating: "filler ", count: 200)
        for index in 0..<3000 { _ = try? await memory.store("entry \(index) \(text)", tier: .session, tags: ["t\(index % 5)"]) }
        let info = try server.cli(["INFO", "stats"])
        #expect(info.contains("evicted_keys:") && !info.contains("evicted_keys:0\r"), "nothing was evicted")
        // With the pressure gone, a rebuild and a sweep make the layout consistent again.
        _ = try server.cli(["CONFIG", "SET", "maxmemory", "0"])
        _ = try await memory.rebuildIndexes(tier: .session)
        _ = try await memory.sweep(tier: .session)
        let problems = try Self.layoutProblems(server, namespace: namespace)
        #expect(problems.isEmpty, "\(problems)")
        let count = try await memory.count(tier: .session)
        let listed = try await memory.recall("", tier: .session, limit: 100_000)
        #expect(count == listed.count || count > TierPolicy.defaultRecallBudget)
        await memory.close()
    }

    @Test func maxclientsReachedFailsFastWithTheServersMessage() async throws {
        let server = try await RedisServerProcess.start(["--maxclients", "1"])
        defer { server.stop() }
        // The start's readiness probe may hold the one slot for a moment after it returns.
        let holder = try await withDeadline(.seconds(5)) {
            while true {
                if let connection = try? await RedisConnection.connect(server.configuration()) { return connection }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let pool = try RedisConnectionPool(configuration: server.configuration(), maxConnections: 2)
        let stalls = StallMeter()
        let started = ContinuousClock.now
        do {
            _ = try await pool.send("PING")
            Issue.record("the second client must be refused")
        } catch let error as RedisError {
            #expect(error.message.contains("max number of clients"), "\(error)")
        }
        #expect(ContinuousClock.now - started < stalls.allowance)
        await holder.close()
        // The pool heals once a slot is free (after its backoff).
        let healed = try await withDeadline(.seconds(10)) {
            while true {
                if (try? await pool.send("PING")) != nil { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(healed)
        await pool.close()
    }

    @Test func aListenerThatClosesAtOnceFailsPoolCallsFast() async throws {
        let listener = try ClosingListener(.errorAtOnce)
        defer { listener.close() }
        let pool = try RedisConnectionPool(
            configuration: RedisConfiguration(host: "127.0.0.1", port: listener.port, connectTimeout: .seconds(20)), maxConnections: 4)
        for _ in 0..<20 {
            let stalls = StallMeter()
            let started = ContinuousClock.now
            await #expect(throws: RedisError.self) { _ = try await pool.send("GET", "k") }
            #expect(ContinuousClock.now - started < stalls.allowance)
        }
        await pool.close()
    }
}
