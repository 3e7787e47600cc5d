import Axon
import CoreMetrics
import Foundation
import Hiredis
import InMemoryTracing
import MetricsTestKit
import Testing
import TestSupport
import Tracing

@Suite("Metrics and spans of the memory layer and the primitives")
struct MemoryTelemetryTests {
    @Test func memoryOperationsAreTimedCountedAndTraced() async throws {
        let metrics = TestMetrics()
        let tracer = InMemoryTracer()
        let telemetry = Telemetry(metrics: metrics, tracer: tracer)
        let adapter = try RedisAdapter(configuration: Backend.redisConfiguration, namespace: UUID().uuidString, maxConnections: 2, telemetry: telemetry)
        let memory = try MemorySystem(
            config: MemoryConfig(session: try SessionPolicy(maxEntries: 10)), redis: adapter, telemetry: telemetry)
        for index in 0..<12 { _ = try await memory.store("note \(index)", tier: .session, tags: ["t"]) }
        _ = try await memory.recall("note", tier: .session)
        _ = try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["t"]))
        _ = try await memory.get("absent", tier: .session)
        _ = try await memory.sweep(tier: .session)
        func timer(_ pairs: [(String, String)]) -> TestTimer? {
            metrics.timers(label: "axon.memory.operation.duration").first { timer in
                pairs.allSatisfy { pair in timer.dimensions.contains { $0 == pair } }
            }
        }
        #expect(timer([("axon.memory.operation", "store"), ("axon.memory.tier", "session")])?.values.count == 12)
        #expect(timer([("axon.memory.operation", "recall"), ("axon.memory.recall.kind", "text")])?.values.count == 1)
        #expect(timer([("axon.memory.operation", "recall"), ("axon.memory.recall.kind", "tag")])?.values.count == 1)
        #expect(timer([("axon.memory.operation", "get")]) != nil)
        #expect(metrics.counterTotal(label: "axon.memory.evictions") == 2)
        #expect(metrics.counterTotal(label: "axon.memory.sweeps") == 1)
        // Commands underneath are measured too.
        #expect(!metrics.timers(label: "db.client.operation.duration").isEmpty)
        let names = Set(tracer.finishedSpans.map(\.operationName))
        #expect(names.isSuperset(of: ["memory.store", "memory.recall", "memory.get", "memory.sweep", "EVALSHA"]))
        _ = try await memory.clear(tier: .session)
        await memory.close()
    }

    @Test func limiterDecisionsAndLockEventsAreCounted() async throws {
        let metrics = TestMetrics()
        let telemetry = Telemetry(metrics: metrics, tracer: NoOpTracer())
        let pool = try RedisConnectionPool(configuration: Backend.redisConfiguration, maxConnections: 2)
        let limiter = try RedisRateLimiter(
            client: pool, namespace: UUID().uuidString, name: "api", limit: 2, period: .seconds(3600), telemetry: telemetry)
        for _ in 0..<3 { _ = try await limiter.check("u") }
        #expect(metrics.counterTotal(label: "axon.ratelimit.decisions", dimensions: [("axon.ratelimit.name", "api"), ("outcome", "allowed")]) == 2)
        #expect(metrics.counterTotal(label: "axon.ratelimit.decisions", dimensions: [("axon.ratelimit.name", "api"), ("outcome", "denied")]) == 1)
        let lock = RedisDistributedLock(client: pool, namespace: UUID().uuidString, telemetry: telemetry)
        let lease = try #require(try await lock.tryAcquire("l", ttl: .seconds(60)))
        #expect(try await lock.tryAcquire("l", ttl: .seconds(60)) == nil)
        #expect(try await lock.release(lease))
        #expect(try await !lock.release(lease))
        #expect(metrics.counterTotal(label: "axon.lock.events", dimensions: [("outcome", "acquired")]) == 1)
        #expect(metrics.counterTotal(label: "axon.lock.events", dimensions: [("outcome", "contended")]) == 1)
        #expect(metrics.counterTotal(label: "axon.lock.events", dimensions: [("outcome", "expired")]) == 1)
        let local = try InMemoryRateLimiter(limit: 1, period: .seconds(3600), name: "local", telemetry: telemetry)
        _ = try await local.check("u")
        _ = try await local.check("u")
        #expect(metrics.counterTotal(label: "axon.ratelimit.decisions", dimensions: [("axon.ratelimit.name", "local"), ("outcome", "denied")]) == 1)
        await pool.close()
    }
}

@Suite("Diagnostics")
struct DiagnosticsTests {
    @Test func diagnosticsReportTheServerAndEachTier() async throws {
        let memory = try Backend.redis.system()
        for index in 0..<5 { _ = try await memory.store("note \(index)", tier: .session, tags: ["a"]) }
        let diagnostics = try await memory.diagnostics()
        let server = try #require(diagnostics.server)
        #expect(server.version.hasPrefix("7.") && server.role == "master")
        #expect(server.usedMemory > 0 && server.maxMemoryPolicy == "noeviction" && !server.evictsKeys)
        let session = try #require(diagnostics.tiers.first { $0.tier == .session })
        #expect(session.liveEntries == 5 && session.adapter == .redis)
        #expect(session.indexMembers["i"] == 5 && session.indexMembers["r"] == 5 && (session.indexMembers["x"] ?? 0) >= 15)
        _ = try await memory.clear(tier: .session)
        await memory.close()
        let local = try Backend.inMemory.system()
        _ = try await local.store("x", tier: .ephemeral)
        let localDiagnostics = try await local.diagnostics()
        #expect(localDiagnostics.server == nil)
        #expect(localDiagnostics.tiers.first { $0.tier == .ephemeral }?.liveEntries == 1)
    }
}
