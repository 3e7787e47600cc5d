import Axon
import Hiredis

/// The primitives over a pool: one rate-limit decision, one lock acquire + release.
enum PrimitiveWorkloads {
    static func make(configuration: RedisConfiguration, namespace: String) throws -> [Workload] {
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 4)
        let limiter = try RedisRateLimiter(client: pool, namespace: namespace, name: "bench", limit: 1_000_000, period: .seconds(1))
        let lock = RedisDistributedLock(client: pool, namespace: namespace)
        return [
            Workload(group: "primitives", name: "ratelimit.check", baseline: nil) { concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { worker in
                    _ = try await limiter.check("subject-\(worker)")
                }
            }.comparedWith("ratelimit.check") {
                BaselineCommand(key: "ratelimit.check", commands: [try await limiter.checkCommand("subject-0", cost: 1)])
            },
            Workload(group: "primitives", name: "lock.acquire-release", baseline: nil) { concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { worker in
                    // One lock name per worker: this measures the two round trips, not contention.
                    guard let lease = try await lock.tryAcquire("bench-\(worker)", ttl: .seconds(10)) else {
                        throw BenchError("lock bench-\(worker) was unexpectedly held")
                    }
                    _ = try await lock.release(lease)
                }
            }.comparedWith("lock.acquire-release") {
                // Two requests per operation: the sync loop runs both (redis-benchmark cannot run a sequence).
                let commands = try await lock.acquireReleaseCommands("bench-baseline", token: "baseline-token", ttl: .seconds(10))
                return BaselineCommand(key: "lock.acquire-release", commands: commands)
            },
        ]
    }
}
