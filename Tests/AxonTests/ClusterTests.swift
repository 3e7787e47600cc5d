@testable import Axon
import Foundation
@testable import Hiredis
import Testing
import TestSupport

/// Redis Cluster, on the cluster `make test` starts (scripts/with-cluster.sh) and, for a failover, one of the
/// test's own.
@Suite("Redis Cluster", .serialized, .enabled(if: Backend.clusterConfiguration != nil, "needs REDIS_CLUSTER_NODES (make test or make cluster-test)"))
struct ClusterTests {
    func client() throws -> RedisClusterClient {
        guard let configuration = Backend.clusterConfiguration else { throw RedisError(.invalidArgument, "no cluster") }
        return try RedisClusterClient(configuration: configuration)
    }

    @Test func slotsMatchClusterKeyslotForTenThousandKeys() async throws {
        let cluster = try client()
        var random = RecallReferenceTests.Random(state: 42)
        var keys: [[UInt8]] = []
        for index in 0..<10_000 {
            var key = (0..<Int.random(in: 1...24, using: &random)).map { _ in UInt8.random(in: 32...126, using: &random) }
            switch index % 4 {
            case 0: key = Array("{user\(index % 97)}:".utf8) + key  // a hash tag
            case 1: key = Array("x{}y".utf8) + key  // an empty tag hashes the whole key
            case 2: key = Array("{a{b}c}".utf8) + key  // the first tag ends at the first }
            default: break
            }
            keys.append(key)
        }
        for chunk in stride(from: 0, to: keys.count, by: 1000) {
            let slice = keys[chunk..<min(chunk + 1000, keys.count)]
            let replies = try await cluster.pipeline(slice.map { RedisCommand("CLUSTER", "KEYSLOT", $0) })
            for (key, reply) in zip(slice, replies) {
                #expect(HashSlot.of(key) == Int(try reply.int()), "\(String(decoding: key, as: UTF8.self))")
            }
        }
        await cluster.close()
    }

    @Test func crossSlotCommandsFailBeforeTheyAreSent() async throws {
        let cluster = try client()
        let tag = UUID().uuidString
        for command in [RedisCommand("MGET", "a\(tag)", "b\(tag)"), RedisCommand("EVAL", "return 1", 2, "a\(tag)", "b\(tag)"),
                        RedisCommand("DEL", "x\(tag)", "y\(tag)", "z\(tag)")] {
            do {
                _ = try await cluster.send(command)
                Issue.record("\(command.name) across slots was sent")
            } catch let error as RedisError {
                #expect(error.code == .crossSlot)
                #expect(error.message.contains("hash tag"))
            }
        }
        await #expect(throws: RedisError.self) { _ = try await cluster.pipeline([RedisCommand("PING"), RedisCommand("MGET", "a\(tag)", "b\(tag)")]) }
        _ = try await cluster.send("MSET", "{\(tag)}a", "1", "{\(tag)}b", "2")
        #expect(try await cluster.send("MGET", "{\(tag)}a", "{\(tag)}b").array().map { try $0.string() } == ["1", "2"])
        await cluster.close()
    }

    @Test func pipelinesAreSplitByNodeAndReassembledInOrder() async throws {
        let cluster = try client()
        let prefix = UUID().uuidString
        var commands: [RedisCommand] = []
        for index in 0..<300 {
            commands.append(RedisCommand("SET", "\(prefix):\(index)", "\(index)"))
            commands.append(RedisCommand("GET", "\(prefix):\(index)"))
        }
        let replies = try await cluster.pipeline(commands)
        #expect(replies.count == 600)
        for index in 0..<300 { #expect(try replies[2 * index + 1].string() == "\(index)") }
        #expect(Set((0..<300).map { HashSlot.of("\(prefix):\($0)") }.compactMap { cluster.topology?.primary(for: $0) }).count == 3)
        await cluster.close()
    }

    /// A namespace's slot moves to another primary (SETSLOT IMPORTING/MIGRATING, one MIGRATE of all its keys,
    /// SETSLOT NODE) while 64 tasks store, read and recall in it: no error reaches them, no entry is lost.
    @Test(.heavy) func aBusyNamespacesSlotMigratesWithoutErrorsOrLoss() async throws {
        let cluster = try client()
        let namespace = "migrate-\(UUID().uuidString)"
        let memory = try MemorySystem(
            config: MemoryConfig(session: try SessionPolicy(ttl: .seconds(600), maxEntries: 1_000_000)),
            redis: RedisAdapter(client: cluster, namespace: namespace))
        _ = try await memory.store("first", tier: .session)
        let slot = HashSlot.of("axon:{ns.\(RedisKeyspace.hex(namespace))}:")
        let topology = try #require(cluster.topology)
        let source = try #require(topology.primary(for: slot))
        let target = try #require(topology.primaries.first { $0 != source })
        let acknowledged = Locked<[String]>([])
        let failures = Locked<[String]>([])
        let stop = Locked(false)
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<64 {
                    group.addTask {
                        var round = 0
                        while !stop.value {
                            round += 1
                            do {
                                if round % 4 == 3 {
                                    _ = try await memory.recall("round", tier: .session, filter: MemoryFilter(tags: ["w\(worker % 4)"]))
                                } else {
                                    let id = try await memory.store("worker \(worker) round \(round)", tier: .session, tags: ["w\(worker % 4)"])
                                    acknowledged.withLock { $0.append(id) }
                                }
                            } catch {
                                failures.withLock { $0.append("\(error)") }
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(600))
        try await Self.migrate(slot: slot, from: source, to: target, primaries: topology.primaries)
        try await Task.sleep(for: .milliseconds(800))
        stop.withLock { $0 = true }
        await load.value
        #expect(failures.value.isEmpty, "\(failures.value.count) failures: \(failures.value.prefix(3))")
        let ids = acknowledged.value
        #expect(ids.count > 100)
        var lost = 0
        for id in ids where try await memory.get(id, tier: .session) == nil { lost += 1 }
        #expect(lost == 0)
        #expect(cluster.topology?.primary(for: slot) == target)
        _ = try await memory.clear(tier: .session)
        await cluster.close()
    }

    /// The slot-migration steps, on the nodes directly (not through the client).
    static func migrate(slot: Int, from source: ClusterTopology.Node, to target: ClusterTopology.Node, primaries: [ClusterTopology.Node]) async throws {
        func connect(_ node: ClusterTopology.Node) async throws -> RedisConnection {
            try await RedisConnection.connect(RedisConfiguration(host: node.host, port: node.port))
        }
        let from = try await connect(source), to = try await connect(target)
        let sourceID = try await from.send("CLUSTER", "MYID").string()
        let targetID = try await to.send("CLUSTER", "MYID").string()
        _ = try await to.send("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID)
        _ = try await from.send("CLUSTER", "SETSLOT", slot, "MIGRATING", targetID)
        while true {
            let keys = try await from.send("CLUSTER", "GETKEYSINSLOT", slot, 1_000_000).array().map { try $0.bytes() }
            if keys.isEmpty { break }
            // One MIGRATE moves every key of the slot at once, so a script never finds its namespace split.
            var command = RedisCommand("MIGRATE", target.host, target.port, "", 0, 10_000, "KEYS")
            for key in keys { command.append(key) }
            _ = try await from.send(command)
        }
        _ = try await to.send("CLUSTER", "SETSLOT", slot, "NODE", targetID)
        _ = try await from.send("CLUSTER", "SETSLOT", slot, "NODE", targetID)
        for node in primaries where node != source && node != target {
            let other = try await connect(node)
            _ = try await other.send("CLUSTER", "SETSLOT", slot, "NODE", targetID)
            await other.close()
        }
        await from.close()
        await to.close()
    }

    /// A primary is killed during a load: calls for its slots fail fast (never hang) while its replica is promoted,
    /// and succeed again within a few seconds of the promotion.
    @Test(.heavy) func killingAPrimaryFailsOverAndCallsRecover() async throws {
        let processes = try await RedisClusterProcess.start()
        defer { processes.stop() }
        let seeds = processes.seeds.compactMap { ClusterTopology.Node(address: $0) }
        let cluster = try RedisClusterClient(configuration: RedisClusterConfiguration(
            seeds: seeds, node: RedisConfiguration(connectTimeout: .seconds(2), commandTimeout: .seconds(2))))
        let keys = (0..<64).map { "failover:\($0)" }
        for key in keys { _ = try await cluster.send("SET", key, "v") }
        let topology = try #require(cluster.topology)
        let victim = try #require(topology.primaries.first)
        let victimKeys = keys.filter { topology.primary(for: HashSlot.of($0)) == victim }
        let victimProcess = try #require(processes.nodes.first { $0.port == victim.port })
        let slow = Locked<[Duration]>([])
        let lastSuccess = Locked<ContinuousClock.Instant?>(nil)
        let stop = Locked(false)
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var round = 0
                        while !stop.value {
                            round += 1
                            let key = victimKeys[(worker + round) % victimKeys.count]
                            let stalls = StallMeter()
                            let started = ContinuousClock.now
                            if (try? await cluster.send("GET", key)) != nil { lastSuccess.withLock { $0 = ContinuousClock.now } }
                            // A call returns within its retries (about 1.5 s) plus a connect timeout.
                            let took = ContinuousClock.now - started
                            if took > .milliseconds(3500) + stalls.allowance { slow.withLock { $0.append(took) } }
                            try? await Task.sleep(for: .milliseconds(5))
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let killedAt = ContinuousClock.now
        victimProcess.crash()
        // Wait for a replica to take over the victim's slots.
        var promotedAt: ContinuousClock.Instant?
        let witnessProcess = try #require(processes.nodes.first { $0.port != victim.port })
        let witness = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: witnessProcess.port))
        while ContinuousClock.now - killedAt < .seconds(20) {
            let healthy = (try? await witness.send("CLUSTER", "INFO").string())?.contains("cluster_state:ok") == true
            let map = try? ClusterTopology.fromShards(try await witness.send("CLUSTER", "SHARDS"), defaultHost: "127.0.0.1")
            if healthy, let owner = map?.primary(for: HashSlot.of(victimKeys[0])), owner != victim {
                promotedAt = ContinuousClock.now
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await witness.close()
        let promoted = try #require(promotedAt, "no replica was promoted")
        // Calls succeed again soon after the promotion.
        var recoveredAt: ContinuousClock.Instant?
        while ContinuousClock.now - promoted < .seconds(10) {
            if let last = lastSuccess.value, last > promoted {
                recoveredAt = last
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop.withLock { $0 = true }
        await load.value
        let recovered = try #require(recoveredAt, "calls did not recover within 10 s of the promotion")
        print("cluster failover: promotion \(promoted - killedAt) after the kill; calls recovered \(recovered - promoted) after the promotion")
        #expect(recovered - promoted < .seconds(5))
        #expect(slow.value.isEmpty, "calls that hung: \(slow.value.prefix(3))")
        await cluster.close()
    }
}
