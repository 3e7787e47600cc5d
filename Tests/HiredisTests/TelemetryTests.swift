import Foundation
@testable import Hiredis
import InMemoryTracing
import MetricsTestKit
import Testing
import TestSupport
import Tracing
import CoreMetrics

@Suite("Metrics and spans for commands and pools")
struct TelemetryTests {
    @Test func commandsAreTimedAndTracedWithOpenTelemetryNames() async throws {
        let metrics = TestMetrics()
        let tracer = InMemoryTracer()
        let telemetry = Telemetry(metrics: metrics, tracer: tracer)
        let connection = try await RedisConnection.connect(SharedServer.configuration(), telemetry: telemetry)
        let key = uniqueKey()
        _ = try await connection.send("SET", key, "v")
        _ = try await connection.send("get", key)
        _ = try await connection.pipeline([RedisCommand("GET", key), RedisCommand("GET", key)])
        await #expect(throws: RedisError.self) { _ = try await connection.send("INCR", key) }  // WRONGTYPE... a string
        let base = [("db.system.name", "redis")]
        let get = metrics.timers(label: "db.client.operation.duration").filter { timer in
            timer.dimensions.contains { $0 == ("db.operation.name", "GET") } && !timer.dimensions.contains { $0.0 == "error.type" }
        }
        #expect(get.count == 1 && get.first?.values.count == 1)
        #expect(get.first.map { timer in base.allSatisfy { pair in timer.dimensions.contains { $0 == pair } } } == true)
        #expect(get.first?.dimensions.contains { $0.0 == "server.address" && $0.1 == SharedServer.host } == true)
        let failed = metrics.timers(label: "db.client.operation.duration").filter { $0.dimensions.contains { $0 == ("error.type", "serverError") } }
        #expect(failed.first?.dimensions.contains { $0 == ("db.operation.name", "INCR") } == true)
        #expect(metrics.timers(label: "db.client.operation.duration").contains { $0.dimensions.contains { $0 == ("db.operation.name", "PIPELINE") } })
        let spans = tracer.finishedSpans
        #expect(spans.map(\.operationName) == ["SET", "GET", "PIPELINE", "INCR"])
        #expect(spans.allSatisfy { $0.kind == .client })
        #expect(spans[1].attributes["db.operation.name"]?.toSpanAttribute() == "GET".toSpanAttribute())
        #expect(spans[2].attributes["db.operation.batch.size"]?.toSpanAttribute() == 2.toSpanAttribute())
        #expect(spans[3].status?.code == .error && !spans[3].errors.isEmpty)
        await connection.close()
    }

    @Test func poolGaugesAndCountersFollowItsConnections() async throws {
        let metrics = TestMetrics()
        let pool = try RedisConnectionPool(
            configuration: SharedServer.configuration(), maxConnections: 3, telemetry: Telemetry(metrics: metrics, tracer: NoOpTracer()))
        _ = try await pool.send("PING")
        let name = ("db.client.connection.pool.name", SharedServer.configuration().endpoint.description)
        try await pool.withConnection { _ in
            let used = try metrics.expectGauge("db.client.connection.count", [name, ("db.system.name", "redis"), ("db.client.connection.state", "used")])
            #expect(used.lastValue == 1)
        }
        #expect(try metrics.expectTimer("db.client.connection.create_time", [name, ("db.system.name", "redis")]).values.count >= 1)
        #expect(try metrics.expectGauge("db.client.connection.max", [name, ("db.system.name", "redis")]).lastValue == 3)
        await pool.close()
        // A failed connect counts.
        let down = try RedisConnectionPool(
            configuration: RedisConfiguration(host: "127.0.0.1", port: try freePort()), telemetry: Telemetry(metrics: metrics, tracer: NoOpTracer()))
        _ = try? await down.send("PING")
        #expect(metrics.counters(label: "db.client.connection.failures").reduce(0) { $0 + $1.totalValue } >= 1)
        await down.close()
    }

    @Test func withoutABackendTelemetryIsOff() {
        #expect(!Telemetry().isActive || !(MetricsSystem.factory is NOOPMetricsHandler))
        #expect(!Telemetry.off.isActive)
        #expect(CommandObserver(telemetry: .off, endpoint: .tcp(host: "h", port: 1)) == nil)
    }
}
