@testable import Axon
import Foundation
@testable import Hiredis
import Testing
import TestSupport

/// Redis Cluster and Sentinel with TLS everywhere (clients, cluster bus, replication), started by the test with the certificates
/// scripts/with-tls.sh made: the cluster client reads the TLS ports from `CLUSTER SHARDS`, routes and pipelines split by node, and the memory layer and a lock run on it unchanged.
@Suite("Redis Cluster and Sentinel over TLS", .serialized, .enabled(if: SharedTLSServer.isAvailable, "needs the test certificates (make test or make tls-test)"))
struct TLSScaleOutTests {
    @Test(.heavy) func clusterClientMemoryLayerAndLockOverTLS() async throws {
        let processes = try await RedisClusterProcess.start(tls: true)
        defer { processes.stop() }
        let certificates = try #require(SharedTLSServer.certificates)
        // The URL form, as a service would configure it; the CA comes with the TLS settings.
        var configuration = try RedisClusterConfiguration(url: "rediss+cluster://" + processes.seeds.joined(separator: ","))
        configuration.node.tls?.caFile = certificates + "/ca.pem"
        configuration.node.connectTimeout = .seconds(10)
        configuration.node.commandTimeout = .seconds(10)
        let cluster = try RedisClusterClient(configuration: configuration)
        // Keys on every primary, one by one and in one pipeline split by node.
        let keys = (0..<60).map { "tls-cluster:\($0)" }
        for key in keys { _ = try await cluster.send("SET", key, "v-" + key) }
        let topology = try #require(cluster.topology)
        #expect(topology.primaries.count == 3)
        #expect(Set(topology.primaries.map(\.port)).isSubset(of: Set(processes.nodes.map(\.port))))
        #expect(Set(keys.map { topology.primary(for: HashSlot.of($0)) }).count == 3)
        let replies = try await cluster.pipeline(keys.map { RedisCommand("GET", $0) })
        #expect(try replies.map { try $0.string() } == keys.map { "v-" + $0 })
        // The memory layer and a primitive, unchanged.
        let memory = try MemorySystem(
            config: MemoryConfig(ephemeral: try EphemeralPolicy(ttl: .seconds(60))),
            redis: RedisAdapter(client: cluster, namespace: "tls-cluster-\(UUID().uuidString.prefix(8))"))
        let id = try await memory.store("encrypted on the way to the right shard", tier: .ephemeral, tags: ["tls"])
        #expect(try await memory.get(id, tier: .ephemeral)?.text == "encrypted on the way to the right shard")
        #expect(try await memory.recall("shard", tier: .ephemeral).map(\.id) == [id])
        let lock = RedisDistributedLock(client: cluster, namespace: "tls-cluster")
        let lease = try #require(try await lock.acquire("job", ttl: .seconds(30), timeout: .seconds(5)))
        #expect(try await lock.release(lease))
        await cluster.close()
    }

    /// The pool asks TLS sentinels for the master, reaches it over TLS, and follows a failover there.
    @Test(.heavy) func sentinelPoolOverTLSFollowsAFailover() async throws {
        let group = try await RedisSentinelGroup.start(tls: true)
        defer { group.stop() }
        let certificates = try #require(SharedTLSServer.certificates)
        var configuration = try RedisSentinelConfiguration(
            url: "rediss+sentinel://" + group.sentinelAddresses.joined(separator: ",") + "/" + RedisSentinelGroup.masterName)
        configuration.sentinelTLS?.caFile = certificates + "/ca.pem"
        configuration.node.tls?.caFile = certificates + "/ca.pem"
        configuration.node.connectTimeout = .seconds(2)
        configuration.node.commandTimeout = .seconds(2)
        let pool = try RedisConnectionPool(sentinel: configuration, maxConnections: 2)
        _ = try await pool.send("SET", "before", "v")
        let memory = try MemorySystem(config: .defaults(), redis: RedisAdapter(pool: pool, namespace: UUID().uuidString))
        let id = try await memory.store("through TLS sentinels", tier: .session)
        let oldMaster = try #require(group.masterPort())
        #expect(group.failover().contains("OK"))
        let deadline = ContinuousClock.now + .seconds(30)
        var moved = false
        while ContinuousClock.now < deadline, !moved {
            try await Task.sleep(for: .milliseconds(100))
            if let port = group.masterPort(), port != oldMaster,
               (try? await pool.send("SET", "after", "v")) != nil, (try? await pool.send("ROLE").array().first?.string()) == "master" {
                moved = true
            }
        }
        #expect(moved, "the pool did not reach the new master over TLS")
        #expect(try await memory.get(id, tier: .session)?.text == "through TLS sentinels")
        await pool.close()
    }
}
