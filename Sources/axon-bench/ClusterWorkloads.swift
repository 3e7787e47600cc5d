import Axon
import Foundation
import Hiredis
import Synchronization

/// The same workloads through `RedisClusterClient`, when a cluster is given (`--cluster` or
/// `REDIS_CLUSTER_NODES`): GET and SET of one key, and memory stores, each compared with the same request on the
/// single server (its C baseline), and with the pool rows of the same run in the targets table. `cluster.direct.*`
/// runs the same commands through a plain pool to the node that owns the key: the cost of routing is the ratio
/// of `cluster.get` to `cluster.direct.get`.
enum ClusterWorkloads {
    static func make(
        cluster: RedisClusterConfiguration?, singleNode: RedisConfiguration, value: [UInt8]
    ) throws -> (workloads: [Workload], close: @Sendable () async -> Void) {
        guard let cluster else { return ([], {}) }
        let client = try RedisClusterClient(configuration: cluster)
        let single = RedisAdapter(pool: try RedisConnectionPool(configuration: singleNode, maxConnections: 1), namespace: "bench-cluster-baseline")
        let policy = try EphemeralPolicy(ttl: .seconds(60)).tierPolicy
        let (get, set, _) = BaselineCommand.standard(value: value)
        var workloads: [Workload] = []
        let direct = DirectPool(client: client, template: cluster.node)
        for baseline in [get, set] {
            let command = baseline.command
            workloads.append(Workload(group: "cluster", name: "cluster.\(baseline.key)", baseline: baseline) { concurrency, limits in
                _ = try await client.send("SET", "bench:{axon}:key", value)
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await client.send(command) }
            })
            workloads.append(Workload(group: "cluster", name: "cluster.direct.\(baseline.key)", baseline: baseline) { concurrency, limits in
                _ = try await client.send("SET", "bench:{axon}:key", value)
                let pool = try await direct.pool()
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await pool.send(command) }
            })
        }
        let memory = try MemorySystem(
            config: MemoryConfig(ephemeral: try EphemeralPolicy(ttl: .seconds(60))),
            redis: RedisAdapter(client: client, namespace: "bench-cluster-\(UUID().uuidString.prefix(8))"))
        workloads.append(Workload(group: "cluster", name: "cluster.memory.store", baseline: nil) { concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                _ = try await memory.store("bench entry from a worker", importance: 0.5, tier: .ephemeral, tags: ["bench"])
            }
        }.comparedWith("memory.store") {
            // The same store script on the single server (the memory rows build the same one when they run).
            try await MemoryWorkloads.storeBaseline("memory.store", text: "bench entry from a worker", adapter: single, policy: policy)
        })
        return (workloads, {
            _ = try? await memory.clear(tier: .ephemeral)
            await direct.close()
            await client.close()
            await single.close()
        })
    }
}

/// A pool straight to the node that owns the bench key (found through the cluster client's slot map).
final class DirectPool: Sendable {
    private let client: RedisClusterClient
    private let template: RedisConfiguration
    private let made = Mutex<RedisConnectionPool?>(nil)

    init(client: RedisClusterClient, template: RedisConfiguration) {
        self.client = client
        self.template = template
    }

    func pool() async throws -> RedisConnectionPool {
        if let pool = made.withLock({ $0 }) { return pool }
        guard let owner = client.topology?.primary(for: HashSlot.of("bench:{axon}:key")) else {
            throw BenchError("the cluster's slot map does not name the bench key's node")
        }
        var configuration = template
        configuration.endpoint = .tcp(host: owner.host, port: owner.port)
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 4)
        return made.withLock { existing in
            if let existing { return existing }
            existing = pool
            return pool
        }
    }

    func close() async {
        if let pool = made.withLock({ $0 }) { await pool.close() }
    }
}
