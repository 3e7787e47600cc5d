import Axon
import Foundation
import Hiredis
import Testing

@Suite("Redis layout of the memory tiers")
struct RedisLayoutTests {
    func keys(matching pattern: String, on connection: RedisConnection) async throws -> [String] {
        try await connection.scanKeys(pattern)
    }

    func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }

    /// Stores 20 session entries with tags t0, t1, t2 and "all" into a fresh namespace; returns its key pattern.
    func storeTwenty(into adapter: RedisAdapter, namespace: String, ttlMs: Int64) async throws -> String {
        let policy = TierPolicy(ttl: .milliseconds(ttlMs), maxEntries: 100)
        let now = Date()
        for index in 0..<20 {
            let entry = MemoryConformanceTests.entry(id: "id\(index)", tier: .session, tags: ["t\(index % 3)", "all"], now: now, ttlMs: ttlMs)
            _ = try await adapter.store(entry, policy: policy, now: now)
        }
        return "axon:{ns.\(hex(namespace))}:*"
    }

    @Test func everyKeyCarriesTheNamespaceHashTagAndATTL() async throws {
        let namespace = "layout-\(UUID().uuidString)"
        let adapter = try RedisAdapter(configuration: Backend.redisConfiguration, namespace: namespace)
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let pattern = try await storeTwenty(into: adapter, namespace: namespace, ttlMs: 60_000)
        let stored = try await keys(matching: pattern, on: connection)
        #expect(stored.count == 20 * 2 + 4)  // each entry's hash and body; tier, priority, ranking and lexicographic index
        for key in stored {
            #expect(key.hasPrefix("axon:{ns.\(hex(namespace))}:"))
            let ttl = try await connection.send("PTTL", key).int()
            #expect(ttl > 0 && ttl <= 60_000 + RedisAdapter.graceMilliseconds)
        }
        #expect(try await adapter.clear(tier: .session, now: Date()) == 20)
        #expect(try await keys(matching: pattern, on: connection).isEmpty)
        await connection.close()
        await adapter.close()
    }

    @Test func nothingIsLeftAfterExpiry() async throws {
        let namespace = "expiry-\(UUID().uuidString)"
        let adapter = try RedisAdapter(configuration: Backend.redisConfiguration, namespace: namespace)
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let pattern = try await storeTwenty(into: adapter, namespace: namespace, ttlMs: 1000)
        try await Task.sleep(for: .milliseconds(1100))
        // Entries and indexes outlive expiry by the grace period unless a write or a sweep prunes them.
        #expect(try await keys(matching: pattern, on: connection).count == 20 * 2 + 4)
        let step = try await adapter.sweep(tier: .session, cursor: nil, now: Date())
        #expect(step.expiredEntries == 20)
        #expect(try await keys(matching: pattern, on: connection).isEmpty)
        await connection.close()
        await adapter.close()
    }

    @Test func policyTTLReachesRedis() async throws {
        let namespace = "ttl-\(UUID().uuidString)"
        let adapter = try RedisAdapter(configuration: Backend.redisConfiguration, namespace: namespace)
        let memory = try MemorySystem(
            config: MemoryConfig(ephemeral: try EphemeralPolicy(ttl: .seconds(42)), session: try SessionPolicy(ttl: .seconds(900))),
            redis: adapter)
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let started = ContinuousClock.now
        let ephemeral = try await memory.store("e", tier: .ephemeral)
        let session = try await memory.store("s", tier: .session)
        let prefix = "axon:{ns.\(hex(namespace))}:"
        let ephemeralTTL = try await connection.send("PTTL", prefix + "ephemeral:v2:e:" + ephemeral).int()
        let sessionTTL = try await connection.send("PTTL", prefix + "session:v2:e:" + session).int()
        // The TTL left is the policy's less the time spent since the store began (seconds on a loaded machine).
        let spent = (ContinuousClock.now - started).components
        let spentMs = Int(spent.seconds) * 1000 + Int(spent.attoseconds / 1_000_000_000_000_000) + 1
        // The hash outlives the entry by the grace period (so that pruning can read its index members).
        let grace = Int(RedisAdapter.graceMilliseconds)
        #expect(ephemeralTTL >= 42_000 + grace - spentMs && ephemeralTTL <= 42_000 + grace)
        #expect(sessionTTL >= 900_000 + grace - spentMs && sessionTTL <= 900_000 + grace)
        _ = try await memory.clear(tier: .ephemeral)
        _ = try await memory.clear(tier: .session)
        #expect(try await keys(matching: prefix + "*", on: connection).isEmpty)
        await connection.close()
        await memory.close()
    }

    @Test func clearAndCountTouchOnlyTheirNamespaceAndTier() async throws {
        let namespace = "scope-\(UUID().uuidString)"
        let mine = try Backend.redis.system(namespace: namespace)
        let neighbour = try Backend.redis.system(namespace: namespace + "x")
        _ = try await mine.store("a", tier: .session)
        _ = try await mine.store("b", tier: .ephemeral)
        _ = try await neighbour.store("c", tier: .session)
        #expect(try await mine.clear(tier: .session) == 1)
        #expect(try await mine.count(tier: .ephemeral) == 1)
        #expect(try await neighbour.count(tier: .session) == 1)
        _ = try await mine.clear(tier: .ephemeral)
        _ = try await neighbour.clear(tier: .session)
        await mine.close()
        await neighbour.close()
    }

    @Test func concurrentStoresUnderTheCapLeaveConsistentIndexes() async throws {
        let namespace = "cap-\(UUID().uuidString)"
        let memory = try Backend.redis.system(namespace: namespace, sessionCap: 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await memory.store("item \(index)", importance: Double(index % 7) / 7, tier: .session, tags: ["bulk"]) }
            }
            try await group.waitForAll()
        }
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let prefix = "axon:{ns.\(hex(namespace))}:session:v2:"
        let tierIndex = try await connection.send("ZRANGE", prefix + "i", 0, -1).array().map { try $0.string() }
        let priorityIndex = try await connection.send("ZRANGE", prefix + "p", 0, -1).array().map { try $0.string() }
        let tagSource = "t" + hex("bulk")
        let tagIndex = try await connection.send("ZRANGEBYLEX", prefix + "x", "[\(tagSource)\u{0}", "(\(tagSource)\u{1}").array()
            .map { String(try $0.string().dropFirst(tagSource.count + 1)) }
        let entryKeys = try await keys(matching: prefix + "e:*", on: connection)
        #expect(tierIndex.count == 50)
        #expect(Set(priorityIndex) == Set(tierIndex))
        #expect(Set(tagIndex) == Set(tierIndex))
        #expect(Set(entryKeys.map { String($0.dropFirst(prefix.count + 2)) }) == Set(tierIndex))
        let bodyKeys = try await keys(matching: prefix + "b:*", on: connection)
        #expect(Set(bodyKeys.map { String($0.dropFirst(prefix.count + 2)) }) == Set(tierIndex))
        _ = try await memory.clear(tier: .session)
        #expect(try await keys(matching: "axon:{ns.\(hex(namespace))}:*", on: connection).isEmpty)
        await connection.close()
        await memory.close()
    }

    @Test func policiesRejectOutOfRangeValues() {
        #expect(throws: MemoryError.self) { try EphemeralPolicy(ttl: .seconds(4)) }
        #expect(throws: MemoryError.self) { try EphemeralPolicy(ttl: .seconds(3601)) }
        #expect(throws: MemoryError.self) { try SessionPolicy(ttl: .seconds(59)) }
        #expect(throws: MemoryError.self) { try SessionPolicy(maxEntries: 9) }
        #expect(throws: Never.self) { try SessionPolicy(ttl: .seconds(60), maxEntries: 10) }
        #expect(throws: Never.self) { try EphemeralPolicy(ttl: .seconds(5)) }
    }
}
