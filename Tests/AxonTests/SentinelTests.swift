@testable import Axon
import Foundation
@testable import Hiredis
import Testing
import TestSupport

/// Redis Sentinel: a primary, a replica and three sentinels of the test's own (`make sentinel-test`, and `make test`).
@Suite("Redis Sentinel", .serialized, .heavy)
struct SentinelTests {
    func configuration(_ group: RedisSentinelGroup) -> RedisSentinelConfiguration {
        RedisSentinelConfiguration(
            sentinels: group.sentinelAddresses.compactMap { ClusterTopology.Node(address: $0) }, masterName: RedisSentinelGroup.masterName,
            node: RedisConfiguration(connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
    }

    @Test func thePoolFindsTheMasterThroughTheSentinels() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        let pool = try RedisConnectionPool(sentinel: configuration(group), maxConnections: 4)
        _ = try await pool.send("SET", "k", "v")
        #expect(try await pool.send("ROLE").array().first?.string() == "master")
        #expect(try group.primary.cli(["GET", "k"]).contains("v"))
        #expect(pool.endpointDescription.contains("mymaster"))
        // The memory layer and the primitives take it like any pool.
        let memory = try MemorySystem(config: .defaults(), redis: RedisAdapter(pool: pool, namespace: UUID().uuidString))
        let id = try await memory.store("through the sentinels", tier: .session)
        #expect(try await memory.get(id, tier: .session)?.text == "through the sentinels")
        await pool.close()
    }

    /// SENTINEL FAILOVER while 64 tasks write: the load continues on the new master within a few seconds, and no
    /// acknowledged write is lost.
    @Test func aFailoverUnderLoadSwitchesMastersWithoutCallerAction() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        let pool = try RedisConnectionPool(sentinel: configuration(group), maxConnections: 4)
        let oldMaster = try #require(group.masterPort())
        let acknowledged = Locked<[String]>([])
        let failures = Locked(0)
        let lastSuccess = Locked<ContinuousClock.Instant?>(nil)
        let stop = Locked(false)
        let load = Task {
            await withTaskGroup(of: Void.self) { tasks in
                for worker in 0..<64 {
                    tasks.addTask {
                        var round = 0
                        while !stop.value {
                            round += 1
                            let key = "failover:\(worker):\(round)"
                            do {
                                _ = try await pool.send("SET", key, "v")
                                acknowledged.withLock { $0.append(key) }
                                lastSuccess.withLock { $0 = ContinuousClock.now }
                            } catch {
                                failures.withLock { $0 += 1 }
                                try? await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let requested = ContinuousClock.now
        #expect(group.failover().contains("OK"))
        var switchedAt: ContinuousClock.Instant?
        while ContinuousClock.now - requested < .seconds(20) {
            if let port = group.masterPort(), port != oldMaster {
                switchedAt = ContinuousClock.now
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let switched = try #require(switchedAt, "the sentinels did not switch masters")
        var recoveredAt: ContinuousClock.Instant?
        while ContinuousClock.now - switched < .seconds(15) {
            try await Task.sleep(for: .milliseconds(50))
            if let last = lastSuccess.value, last > switched + .milliseconds(500), (try? await pool.send("ROLE").array().first?.string()) == "master" {
                recoveredAt = last
                break
            }
        }
        stop.withLock { $0 = true }
        await load.value
        let recovered = try #require(recoveredAt, "writes did not resume after the failover")
        print("sentinel failover: switch \(switched - requested) after SENTINEL FAILOVER; writes on the new master \(recovered - switched) after the switch; \(failures.value) calls failed meanwhile")
        #expect(recovered - switched < .seconds(8))
        // Every acknowledged write is on the new master.
        let keys = acknowledged.value
        var missing = 0
        for chunk in stride(from: 0, to: keys.count, by: 500) {
            let replies = try await pool.pipeline(keys[chunk..<min(chunk + 500, keys.count)].map { RedisCommand("EXISTS", $0) })
            missing += replies.filter { (try? $0.int()) != 1 }.count
        }
        #expect(missing == 0, "\(missing) of \(keys.count) acknowledged writes lost")
        await pool.close()
    }

    @Test func sentinelURLsAndEnvironment() throws {
        let parsed = try RedisSentinelConfiguration(url: "redis+sentinel://:s3cret@h1:26379,h2:26380/mymaster/2")
        #expect(parsed.sentinels.map(\.description) == ["h1:26379", "h2:26380"])
        #expect(parsed.masterName == "mymaster" && parsed.node.database == 2 && parsed.node.password == "s3cret")
        #expect(!parsed.description.contains("s3cret"))
        let environment = try #require(try RedisSentinelConfiguration.fromEnvironment([
            "REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_SENTINEL_PASSWORD": "sp", "REDIS_PASSWORD": "np",
        ]))
        #expect(environment.sentinelPassword == "sp" && environment.node.password == "np")
        #expect(throws: RedisError.self) { try RedisSentinelConfiguration.fromEnvironment(["REDIS_SENTINELS": "h:1"]) }
        #expect(throws: RedisError.self) { try RedisSentinelConfiguration(url: "redis+sentinel://h:1") }
        let cluster = try RedisClusterConfiguration(url: "redis+cluster://u:p@h1:7000,h2:7001")
        #expect(cluster.seeds.count == 2 && cluster.node.username == "u" && !cluster.description.contains(":p@"))
        #expect(try RedisClusterConfiguration.fromEnvironment(["REDIS_CLUSTER_NODES": "a:1,b:2"])?.seeds.count == 2)
    }
}
