@testable import Axon
import Foundation
import Hiredis
import Testing
import TestSupport

/// A Redis that evicts keys drops entries and index keys independently: the adapter refuses it by default, or
/// tolerates it and repairs with rebuildIndexes and sweep.
@Suite("Evicting maxmemory policies", .heavy)
struct EvictionTests {
    @Test func anEvictingServerIsRefusedByDefaultAndRepairedWhenTolerated() async throws {
        let server = try await RedisServerProcess.start(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
        defer { server.stop() }
        let namespace = "evict-\(UUID().uuidString)"
        let refusing = try RedisAdapter(configuration: server.configuration(), namespace: namespace)
        let strict = try MemorySystem(config: .defaults(), redis: refusing)
        do {
            _ = try await strict.store("x", tier: .session)
            Issue.record("an evicting server must be refused by default")
        } catch let error as MemoryError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("allkeys-lru") && error.message.contains("noeviction"), "\(error.message)")
        }
        await strict.close()

        let tolerant = try RedisAdapter(configuration: server.configuration(), namespace: namespace, evictionRule: .tolerate)
        let memory = try MemorySystem(config: .defaults(), redis: tolerant)
        var ids: [String] = []
        for index in 0..<50 { ids.append(try await memory.store("entry \(index)", tier: .session, tags: ["all"])) }
        // What eviction does: an index key, some entry hashes and some bodies vanish on their own.
        let connection = try await RedisConnection.connect(server.configuration())
        let prefix = RedisKeyspace(namespace: namespace).tierPrefix(.session)
        for id in ids[40..<45] { _ = try await connection.send("DEL", prefix + "b:" + id) }
        #expect(try await memory.get(ids[40], tier: .session) == nil)
        #expect(try await memory.recall("entry", tier: .session, limit: 100).count == 45)
        _ = try await connection.send("DEL", prefix + "x", prefix + "r")
        for id in ids.prefix(10) { _ = try await connection.send("DEL", prefix + "e:" + id) }
        #expect(try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["all"]), limit: 100).isEmpty)
        let rebuilt = try await memory.rebuildIndexes(tier: .session)
        #expect(rebuilt.restoredEntries == 35)
        _ = try await memory.sweep(tier: .session)
        let live = Set(ids[10..<40] + ids[45...])
        let listed = try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["all"]), limit: 100)
        #expect(Set(listed.map(\.id)) == live)
        #expect(try await memory.count(tier: .session) == 35)
        #expect(try await memory.recall("entry", tier: .session, limit: 100).count == 35)
        #expect(try await connection.scanKeys(prefix + "b:*").count == 35)
        #expect(try await connection.scanKeys(prefix + "e:*").count == 35)
        await connection.close()
        await memory.close()
    }

    @Test func theRecommendedPolicyIsAccepted() async throws {
        let server = try await RedisServerProcess.start(["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"])
        defer { server.stop() }
        let memory = try MemorySystem(config: .defaults(), redis: try RedisAdapter(configuration: server.configuration()))
        _ = try await memory.store("fine", tier: .session)
        #expect(try await memory.count(tier: .session) == 1)
        await memory.close()
    }
}
