import Axon
import Foundation
import Hiredis
import Hummingbird
import Logging
import Metrics
import Prometheus

/// An HTTP service that keeps an agent's conversation turns in Axon's session tier.
///
/// Environment: `REDIS_URL` (or `REDIS_HOST`/`REDIS_PORT`, …) for Redis; `PORT` (default 8080) for HTTP, bound to
/// 127.0.0.1; `TURNS_PER_MINUTE` (default 20), the per-user rate limit; `LOG_LEVEL`.
@main
struct AgentService {
    static func main() async throws {
        var logger = Logger(label: "agent-service")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let environment = ProcessInfo.processInfo.environment
        let port = environment["PORT"].flatMap(Int.init) ?? 8080
        let turnsPerMinute = environment["TURNS_PER_MINUTE"].flatMap(Int.init) ?? 20

        // Metrics first: pools, adapters and primitives pick up the bootstrapped factory when they are made.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let pool = try RedisConnectionPool(configuration: .fromEnvironment(), logger: logger)
        let memory = try MemorySystem(
            config: MemoryConfig(session: try SessionPolicy(adapter: .redis, ttl: .seconds(3600), maxEntries: 1000)),
            redis: RedisAdapter(client: pool, namespace: "agent-service", logger: logger),
            logger: logger)
        let context = ServiceContext(
            memory: memory,
            limiter: try RedisRateLimiter(
                client: pool, namespace: "agent-service", name: "turns", limit: turnsPerMinute, period: .seconds(60), logger: logger),
            locks: RedisDistributedLock(client: pool, namespace: "agent-service", logger: logger),
            pool: pool,
            registry: registry)

        let app = Application(
            router: Routes.router(context),
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            // Shut down in reverse order: the HTTP server stops taking requests first, then the memory system and
            // the pool drain (in-flight commands finish) and close.
            services: [pool, memory],
            logger: logger)
        try await app.runService()   // until SIGTERM or SIGINT
        logger.info("agent-service stopped")
    }
}

/// What the routes share.
struct ServiceContext: Sendable {
    let memory: MemorySystem
    let limiter: RedisRateLimiter
    let locks: RedisDistributedLock
    let pool: RedisConnectionPool
    let registry: PrometheusCollectorRegistry
}
