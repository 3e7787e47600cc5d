@testable import Axon
import Foundation
import Hiredis
import Testing
import TestSupport

/// Hostile and extreme input: every value a caller passes is range-checked (no trap), nothing is half-written,
/// and errors say what happened without echoing secrets.
@Suite("Hardening: no trap, no half-write, clear errors")
struct HardeningTests {
    @Test func extremeDurationsAndCountsAreErrorsNotTraps() async throws {
        let pool = try RedisConnectionPool(configuration: Backend.redisConfiguration, maxConnections: 2)
        let huge = Duration.seconds(Int64.max)
        #expect(throws: MemoryError.self) { try RedisRateLimiter(client: pool, name: "x", limit: 10, period: .seconds(1), burst: Int.max) }
        #expect(throws: MemoryError.self) { try RedisRateLimiter(client: pool, name: "x", limit: 10, period: huge) }
        #expect(throws: MemoryError.self) { try InMemoryRateLimiter(limit: Int.max, period: .seconds(1)) }
        #expect(throws: MemoryError.self) { try InMemoryRateLimiter(limit: 1, period: .seconds(86_400 * 300), burst: 1000) }
        #expect(throws: MemoryError.self) { try SessionPolicy(ttl: huge) }
        #expect(throws: MemoryError.self) { try SessionPolicy(maxEntries: Int.max) }
        #expect(throws: MemoryError.self) { try EphemeralPolicy(ttl: huge) }
        #expect(throws: MemoryError.self) { try RedisRecentActivity(client: pool, ttl: huge) }
        let locks: [any DistributedLocking] = [RedisDistributedLock(client: pool, namespace: UUID().uuidString), InMemoryLock()]
        for lock in locks {
            await #expect(throws: MemoryError.self) { _ = try await lock.tryAcquire("l", ttl: huge) }
            await #expect(throws: MemoryError.self) { _ = try await lock.acquire("l", ttl: .seconds(1), timeout: huge) }
            await #expect(throws: MemoryError.self) { _ = try await lock.tryAcquire("l", ttl: .zero) }
        }
        let flags: [any TemporaryFlagging] = [RedisTemporaryFlags(client: pool, namespace: UUID().uuidString), InMemoryTemporaryFlags()]
        for flag in flags { await #expect(throws: MemoryError.self) { try await flag.enable("f", for: huge) } }
        let stores: [any IdempotencyStoring] = [RedisIdempotencyStore(client: pool, namespace: UUID().uuidString), InMemoryIdempotencyStore()]
        for store in stores { await #expect(throws: MemoryError.self) { _ = try await store.claim("k", ttl: huge) } }
        await pool.close()
    }

    @Test(arguments: Backend.allCases)
    func adaptersValidateLikeMemorySystemAndWriteNothing(backend: Backend) async throws {
        let namespace = "validate-\(UUID().uuidString)"
        let adapter = try backend.adapter(namespace: namespace, store: InMemoryStore())
        let now = Date()
        let good = MemoryConformanceTests.entry(id: "ok", tier: .session, tags: ["t"], now: now, ttlMs: 60_000)
        var bad: [MemoryEntry] = []
        for importance in [Double.nan, .infinity, -0.5, 1.5] {
            var entry = good
            entry.importance = importance
            bad.append(entry)
        }
        var blank = good
        blank.text = " \n "
        var emptyTag = good
        emptyTag.tags = [""]
        var badID = good
        badID.id = "a b"
        var expired = good
        expired.expiresAt = now - 1
        bad += [blank, emptyTag, badID, expired]
        for entry in bad {
            await #expect(throws: MemoryError.self) { _ = try await adapter.store(entry, policy: TierPolicy(ttl: .seconds(60)), now: now) }
        }
        // Policies out of range are refused by every adapter entry point, with one meaning for a cap of 0.
        for policy in [TierPolicy(ttl: .seconds(60), maxEntries: 0), TierPolicy(ttl: .seconds(Int64.max)), TierPolicy(ttl: .zero),
                       TierPolicy(ttl: .seconds(60), recallBudget: 0)] {
            await #expect(throws: MemoryError.self) { _ = try await adapter.store(good, policy: policy, now: now) }
            await #expect(throws: MemoryError.self) { _ = try await adapter.get(id: "ok", tier: .session, policy: policy, now: now) }
        }
        #expect(try await adapter.count(tier: .session, now: now) == 0)
        if backend == .redis {
            let connection = try await RedisConnection.connect(Backend.redisConfiguration)
            let keys = try await connection.send("KEYS", "axon:{ns.\(RedisKeyspace.hex(namespace))}:*").array()
            #expect(keys.isEmpty)
            await connection.close()
        }
        await adapter.close()
    }

    @Test func theStoreScriptChecksEveryArgumentBeforeItsFirstWrite() async throws {
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let prefix = "axon:{ns.\(UUID().uuidString)}:session:v2:"
        let keys: [any RedisArgument] = [prefix + "e:id", prefix + "i", prefix + "p", prefix + "r", prefix + "x"]
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let entry = MemoryEntry(id: "id", text: "text", tier: .session, importance: 0.5, tags: [], createdAt: Date(), expiresAt: Date(), lastAccessedAt: Date())
        let goodBody = EntryCodec.body(of: entry, profile: RecallRanking.Profile(entry))
        func arguments(
            importance: String = "0.5", expiry: Int64? = nil, cap: String = "0", count: String = "0", body: [UInt8]? = nil,
            extra: [String] = []
        ) -> [any RedisArgument] {
            ["id", now, expiry ?? now + 60_000, cap, prefix + "e:", importance, 600_000, 16, "a", now, now, count, body ?? goodBody] + extra
        }
        for bad in [arguments(importance: "nan"), arguments(importance: "2"), arguments(importance: "x"), arguments(expiry: now - 1),
                    arguments(cap: "-1"), arguments(count: "many"), arguments(body: Array("garbage".utf8)), arguments(body: Array("5:a:".utf8)),
                    arguments(extra: ["dangling"]), Array(arguments().dropLast())] {
            await #expect(throws: RedisError.self) { _ = try await MemoryScripts.store.run(on: connection, keys: keys, arguments: bad) }
        }
        #expect(try await connection.send("KEYS", prefix + "*").array().isEmpty)
        await connection.close()
    }

    @Test func theBatchStoreScriptChecksEveryEntryBeforeItsFirstWrite() async throws {
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let prefix = "axon:{ns.\(UUID().uuidString)}:session:v2:"
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let entry = MemoryEntry(id: "a", text: "text", tier: .session, importance: 0.5, tags: [], createdAt: Date(), expiresAt: Date(), lastAccessedAt: Date())
        let body = EntryCodec.body(of: entry, profile: RecallRanking.Profile(entry))
        func entryArguments(_ id: String, importance: String = "0.5", expiry: Int64? = nil, customBody: [UInt8]? = nil, pairs: String = "0") -> [any RedisArgument] {
            [id, expiry ?? now + 60_000, importance, "a", now, now, 0, customBody ?? body, pairs]
        }
        func call(_ ids: [String], _ entries: [[any RedisArgument]], extraKey: Bool = false) -> (keys: [any RedisArgument], arguments: [any RedisArgument]) {
            var keys: [any RedisArgument] = [prefix + "i", prefix + "p", prefix + "r", prefix + "x"]
            for id in ids { keys += [prefix + "e:" + id, prefix + "b:" + id] as [any RedisArgument] }
            if extraKey { keys.append(prefix + "e:extra") }
            return (keys, [now, prefix + "e:", 600_000, 16, 0] + entries.flatMap { $0 })
        }
        let good = call(["a", "b"], [entryArguments("a"), entryArguments("b")])
        let bad = [
            call(["a", "a"], [entryArguments("a"), entryArguments("a")]),
            call(["a", "b"], [entryArguments("a"), entryArguments("b", importance: "2")]),
            call(["a", "b"], [entryArguments("a"), entryArguments("b", expiry: now - 1)]),
            call(["a", "b"], [entryArguments("a"), entryArguments("b", customBody: Array("garbage".utf8))]),
            call(["a", "b"], [entryArguments("a"), entryArguments("b", pairs: "1")]),
            call(["a", "b"], [entryArguments("a"), entryArguments("b", pairs: "x")]),
            call(["a", "b"], [entryArguments("a"), entryArguments("b")], extraKey: true),
            call(["a", "b"], [entryArguments("a"), Array(entryArguments("b").dropLast())]),
        ]
        for (keys, arguments) in bad {
            await #expect(throws: RedisError.self) { _ = try await MemoryScripts.storeMany.run(on: connection, keys: keys, arguments: arguments) }
            #expect(try await connection.send("KEYS", prefix + "*").array().isEmpty)
        }
        #expect(try await MemoryScripts.storeMany.run(on: connection, keys: good.keys, arguments: good.arguments).array().isEmpty)
        #expect(try await connection.send("ZCARD", prefix + "i").int() == 2)
        _ = try await connection.send("DEL", prefix + "i", prefix + "p", prefix + "r", prefix + "x", prefix + "e:a", prefix + "b:a", prefix + "e:b", prefix + "b:b")
        await connection.close()
    }

    /// An adapter that fails its `failOn`-th store, to see what a failing import leaves.
    final class FailingAdapter: MemoryAdapter {
        let inner: any MemoryAdapter
        let failOn: Int
        let stores = Counter()
        init(_ inner: any MemoryAdapter, failOn: Int) {
            self.inner = inner
            self.failOn = failOn
        }
        func store(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> [String] {
            if stores.next() == failOn { throw RedisError(.serverError, "OOM command not allowed when used memory > 'maxmemory'.") }
            return try await inner.store(entry, policy: policy, now: now)
        }
        func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry? {
            try await inner.get(id: id, tier: tier, policy: policy, now: now)
        }
        func forget(id: String, tier: MemoryTier, now: Date) async throws -> Bool { try await inner.forget(id: id, tier: tier, now: now) }
        func recall(_ query: RecallQuery, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RecallResult {
            try await inner.recall(query, tier: tier, policy: policy, now: now)
        }
        func page(tier: MemoryTier, cursor: String?, now: Date) async throws -> MemoryPage { try await inner.page(tier: tier, cursor: cursor, now: now) }
        func count(tier: MemoryTier, now: Date) async throws -> Int { try await inner.count(tier: tier, now: now) }
        func clear(tier: MemoryTier, now: Date) async throws -> Int { try await inner.clear(tier: tier, now: now) }
        func sweep(tier: MemoryTier, cursor: String?, now: Date) async throws -> SweepStep {
            try await inner.sweep(tier: tier, cursor: cursor, now: now)
        }
        func close() async { await inner.close() }
    }

    @Test(arguments: Backend.allCases)
    func importIsAllOrNothingClampedCountedAndSplitOnlyOnNewlines(backend: Backend) async throws {
        let source = try backend.system()
        let texts = ["one\u{2028}two", "three\u{2029}four", "five\u{85}six", "seven\r\neight", "nine"]
        for text in texts { _ = try await source.store(text, tier: .session) }
        let exported = try await source.export()
        // A failure at the third of five entries: the two written are removed again, the error carries Redis'.
        let inner = try backend.adapter(namespace: UUID().uuidString, store: InMemoryStore())
        let failing = FailingAdapter(inner, failOn: 3)
        let config = MemoryConfig(session: try SessionPolicy(adapter: backend.kind))
        let target = try MemorySystem(config: config, redis: failing, memory: failing)
        do {
            _ = try await target.import(exported)
            Issue.record("the import should have failed")
        } catch let error as MemoryError {
            #expect(error.code == .storage)
            #expect(error.redisError?.serverErrorPrefix == "OOM")
            #expect(error.message.contains("removed"))
        }
        #expect(try await target.count(tier: .session) == 0)
        // Unicode line separators inside text survive; a duplicated line counts once; the cap is reported.
        let clean = try backend.system(sessionCap: 10)
        let lines = exported.split(separator: "\n").map(String.init)
        #expect(try await clean.import(exported + lines[0] + "\n") == 5)
        #expect(Set(try await clean.recall("", tier: .session, limit: 10).map(\.text)) == Set(texts))
        let many = try backend.system()
        for index in 0..<30 { _ = try await many.store("item \(index)", tier: .session) }
        let capped = try backend.system(sessionCap: 10)
        #expect(try await capped.import(try await many.export()) == 10)
        #expect(try await capped.count(tier: .session) == 10)
        // Physical line numbers: the bad line is the fourth, after a blank one.
        await #expect {
            _ = try await clean.import(lines[0] + "\n\n" + lines[1] + "\r\n{bad}\n")
        } throws: { error in
            (error as? MemoryError)?.message.contains("line 4") == true
        }
        for system in [source, clean, many, capped, target] { await system.close() }
    }

    @Test(arguments: Backend.allCases)
    func importCutsTTLsToTheTierPolicy(backend: Backend) async throws {
        let memory = try backend.system()
        let now = Date()
        let entry = MemoryEntry(
            id: "decade", text: "kept for ten years?", tier: .ephemeral, importance: 0.5, tags: [],
            createdAt: Milliseconds.truncated(now), expiresAt: now + 10 * 365 * 86_400, lastAccessedAt: Milliseconds.truncated(now))
        let line = String(decoding: try MemoryEntryJSON.encoder.encode(entry), as: UTF8.self)
        #expect(try await memory.import(line + "\n") == 1)
        let stored = try #require(try await memory.get("decade", tier: .ephemeral))
        #expect(stored.expiresAt <= Date() + 60.001)  // the system's ephemeral TTL (timestamps are rounded to the ms)
        await memory.close()
    }

    @Test(arguments: Backend.allCases)
    func aTierNamedTwiceIsRecalledOnce(backend: Backend) async throws {
        let memory = try backend.system()
        let id = try await memory.store("only once", tier: .session)
        #expect(try await memory.recall("once", tiers: [.session, .session]).map(\.id) == [id])
        #expect(try await memory.recall("...", tier: .session).map(\.id) == [id])  // punctuation only: a listing
        await memory.close()
    }

    @Test func storageErrorsCarryTheRedisError() async throws {
        let adapter = try RedisAdapter(
            configuration: RedisConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .seconds(5)), namespace: "down", maxConnections: 1)
        let memory = try MemorySystem(config: .defaults(), redis: adapter)
        do {
            _ = try await memory.store("x")
            Issue.record("nothing listens on port 1")
        } catch let error as MemoryError {
            #expect(error.code == .storage)
            #expect(error.redisError?.code == .connectionRefused)
        }
        await memory.close()
    }

    /// GCRA's documented guarantee, from two pools at once: in a window of length w at most
    /// `burst + limit × w / period` (+1) requests are allowed, and the steady rate does reach the limit.
    @Test func rateLimitGuaranteeHoldsAcrossTwoPools() async throws {
        let pools = [
            try RedisConnectionPool(configuration: Backend.redisConfiguration, maxConnections: 2),
            try RedisConnectionPool(configuration: Backend.redisConfiguration, maxConnections: 2),
        ]
        let name = "guarantee-\(UUID().uuidString)"
        let (limit, burst, period) = (40, 10, Duration.seconds(1))
        let limiters = try pools.map { try RedisRateLimiter(client: $0, namespace: "rl-test", name: name, limit: limit, period: period, burst: burst) }
        let allowed = Counter()
        let started = Date()
        let until = ContinuousClock.now + .milliseconds(1500)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<16 {
                let limiter = limiters[worker % 2]
                group.addTask {
                    // Until the deadline, and in any case until a burst was allowed (a stalled machine can reach the
                    // deadline before the workers run at all).
                    while ContinuousClock.now < until || allowed.current < burst {
                        if try await limiter.check("subject").allowed { _ = allowed.next() }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = Date().timeIntervalSince(started)
        let count = allowed.current
        // Every decision was made on the server's clock between `started` and now (same host).
        #expect(Double(count) <= Double(burst) + Double(limit) * elapsed + 1, "\(count) allowed in \(elapsed) s")
        #expect(count >= burst, "\(count) allowed in \(elapsed) s: a quiet key takes a full burst")
        for pool in pools { await pool.close() }
    }

    @Test func aURLNeverEchoesItsUserInfo() {
        for url in ["redis://S3cr3t@localhost:6379", "redis://S3cr3t:@localhost:6379/0"] {
            do {
                _ = try RedisConfiguration.fromEnvironment(["REDIS_URL": url])
                Issue.record("a user without a password must be refused")
            } catch {
                #expect(!error.message.contains("S3cr3t"))
                #expect(!error.description.contains("S3cr3t"))
            }
        }
    }
}

final class Counter: Sendable {
    private let value = Locked(0)
    /// Adds one and returns the new value.
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
    /// The current value.
    var current: Int { value.withLock { $0 } }
}
