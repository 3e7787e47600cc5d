import Axon
import Foundation
import Hiredis
import Testing

/// Builds each primitive on a backend; Redis ones share one pool per test and a fresh namespace.
struct PrimitiveFactory {
    let backend: Backend
    let pool: any RedisClient
    let namespace = UUID().uuidString

    init(_ backend: Backend) throws {
        self.backend = backend
        pool = try backend.client() ?? RedisConnectionPool(configuration: Backend.redisConfiguration, maxConnections: 4)
    }

    func limiter(limit: Int, period: Duration, burst: Int? = nil) throws -> any RateLimiting {
        backend != .inMemory
            ? try RedisRateLimiter(client: pool, namespace: namespace, name: "api", limit: limit, period: period, burst: burst)
            : try InMemoryRateLimiter(limit: limit, period: period, burst: burst)
    }

    func lock() -> any DistributedLocking {
        backend != .inMemory ? RedisDistributedLock(client: pool, namespace: namespace) : InMemoryLock()
    }

    func idempotency() -> any IdempotencyStoring {
        backend != .inMemory ? RedisIdempotencyStore(client: pool, namespace: namespace) : InMemoryIdempotencyStore()
    }

    func flags() -> any TemporaryFlagging {
        backend != .inMemory ? RedisTemporaryFlags(client: pool, namespace: namespace) : InMemoryTemporaryFlags()
    }

    func activity(capacity: Int, ttl: Duration) throws -> any RecentActivityLogging {
        backend != .inMemory
            ? try RedisRecentActivity(client: pool, namespace: namespace, capacity: capacity, ttl: ttl)
            : try InMemoryRecentActivity(capacity: capacity, ttl: ttl)
    }
}

@Suite("Primitives: rate limiter, lock, de-duplication, flags, recent activity")
struct PrimitivesTests {
    @Test(arguments: Backend.withCluster)
    func thousandConcurrentChecksAllowExactlyTheLimit(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let limiter = try factory.limiter(limit: 100, period: .seconds(86_400))  // one unit per 14 min: none refills during the test
        let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<1_000 { group.addTask { try await limiter.check("user-1").allowed } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(allowed == 100)
        let denied = try await limiter.check("user-1")
        #expect(!denied.allowed && denied.remaining == 0 && denied.limit == 100)
        #expect(try await limiter.check("user-2").allowed)  // keys are independent
        await factory.pool.close()
    }

    @Test(arguments: Backend.withCluster)
    func allowanceRefillsAfterThePeriod(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let limiter = try factory.limiter(limit: 5, period: .milliseconds(2500))  // one every 500 ms, burst 5
        try await withDeadlineRetries { attempt in
            let key = "k\(attempt)"
            let started = ContinuousClock.now
            // The whole burst in one atomic check, so the test does not race the refill.
            let burst = try await limiter.check(key, cost: 5)
            #expect(burst.allowed && burst.remaining == 0)
            let next = try await limiter.check(key)
            try requireBefore(started + .milliseconds(500))  // no unit can have refilled yet
            #expect(!next.allowed)
            try await Task.sleep(for: .milliseconds(2600))
            let refilled = try await limiter.check(key, cost: 5)
            #expect(refilled.allowed && refilled.remaining == 0)
        }
        await factory.pool.close()
    }

    @Test(arguments: Backend.withCluster)
    func retryAfterIsExactToTheMillisecond(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let limiter = try factory.limiter(limit: 2, period: .seconds(2))  // one every second, burst 2
        try await withDeadlineRetries { attempt in
            let key = "k\(attempt)"
            let started = ContinuousClock.now
            #expect(try await limiter.check(key, cost: 2).allowed)
            let denied = try await limiter.check(key)
            let elapsed = ContinuousClock.now - started
            try requireBefore(started + .seconds(1))
            #expect(!denied.allowed)
            // The next unit is due one interval after the burst was taken, to the millisecond.
            #expect(denied.retryAfter <= .seconds(1) && denied.retryAfter >= .seconds(1) - elapsed - .milliseconds(2))
            #expect(denied.resetAfter <= .seconds(2) && denied.resetAfter >= .seconds(2) - elapsed - .milliseconds(2))
            try await Task.sleep(for: denied.retryAfter + .milliseconds(5))
            #expect(try await limiter.check(key).allowed)
            await #expect(throws: MemoryError.self) { try await limiter.check(key, cost: 3) }
        }
        await factory.pool.close()
    }

    @Test func twoPoolsUnderOneLockLoseNoUpdate() async throws {
        let namespace = UUID().uuidString
        let pools = try (0..<2).map { _ in try RedisConnectionPool(configuration: Backend.redisConfiguration, maxConnections: 8) }
        let counter = "lock-counter-\(namespace)"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pool in pools {
                let lock = RedisDistributedLock(client: pool, namespace: namespace)
                for _ in 0..<50 {
                    group.addTask {
                        try await lock.withLock("counter", ttl: .seconds(60), timeout: .seconds(120)) { _ in
                            let current = try await pool.send("GET", counter).optionalString().flatMap { Int($0) } ?? 0
                            try await Task.sleep(for: .microseconds(200))
                            _ = try await pool.send("SET", counter, current + 1)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pools[0].send("GET", counter) == .bulk(Array("100".utf8)))
        _ = try await pools[0].send("DEL", counter)
        for pool in pools { await pool.close() }
    }

    @Test(arguments: Backend.withCluster)
    func abandonedLockFreesItselfAfterItsTTL(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let lock = factory.lock()
        try await withDeadlineRetries { attempt in
            let name = "job\(attempt)"
            let started = ContinuousClock.now
            let vanished = try #require(try await lock.tryAcquire(name, ttl: .milliseconds(1000)))
            let second = try await lock.tryAcquire(name, ttl: .seconds(1))
            var refused: MemoryError?
            do {
                try await lock.withLock(name, ttl: .seconds(1), timeout: .milliseconds(50)) { _ in }
            } catch let error as MemoryError {
                refused = error
            }
            try requireBefore(started + .milliseconds(1000))
            #expect(second == nil)
            #expect(refused?.code == .lockNotAcquired)
            // Nobody releases it: acquire's backoff picks it up once the TTL has run out.
            let next = try #require(try await lock.acquire(name, ttl: .seconds(1), timeout: .seconds(30)))
            #expect(ContinuousClock.now - started >= .milliseconds(990))
            #expect(next.fencingToken > vanished.fencingToken)
            #expect(try await !lock.release(vanished))  // the old holder's late release does nothing
            #expect(try await lock.release(next))
        }
        await factory.pool.close()
    }

    @Test(arguments: Backend.withCluster)
    func onlyTheOwnerReleasesOrExtendsAndFencingTokensIncrease(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let lock = factory.lock()
        var tokens: [Int64] = []
        for _ in 0..<5 {
            let lease = try #require(try await lock.tryAcquire("res", ttl: .seconds(60)))
            let impostor = LockLease(name: "res", token: "not-the-token", fencingToken: lease.fencingToken)
            #expect(try await !lock.release(impostor))
            #expect(try await !lock.extend(impostor, ttl: .seconds(60)))
            #expect(try await lock.extend(lease, ttl: .seconds(60)))
            #expect(try await lock.release(lease))
            tokens.append(lease.fencingToken)
        }
        #expect(tokens == tokens.sorted() && Set(tokens).count == tokens.count)
        // withLock releases when the body throws.
        await #expect(throws: MemoryError.self) {
            try await lock.withLock("res") { _ in throw MemoryError(.invalidArgument, "boom") }
        }
        #expect(try await lock.tryAcquire("res", ttl: .seconds(1)) != nil)
        await factory.pool.close()
    }

    @Test(arguments: Backend.withCluster)
    func exactlyOneOfAHundredClaimsWins(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let store = factory.idempotency()
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 { group.addTask { try await store.claim("request-42", ttl: .seconds(600)) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        await factory.pool.close()
    }

    @Test(arguments: Backend.withCluster)
    func idempotencyReplaysTheOutcomeAndRejectsADifferentPayload(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let store = factory.idempotency()
        let payload = Array("{\"amount\": 10}".utf8)
        #expect(try await store.begin("pay-1", payload: payload, ttl: .seconds(600)) == .first)
        #expect(try await store.begin("pay-1", payload: payload, ttl: .seconds(600)) == .inProgress)
        #expect(try await store.begin("pay-1", payload: Array("{\"amount\": 99}".utf8), ttl: .seconds(600)) == .conflict)
        #expect(try await !store.complete("pay-1", payload: [1], outcome: [2]))
        #expect(try await store.complete("pay-1", payload: payload, outcome: [0, 1, 2]))
        #expect(try await store.begin("pay-1", payload: payload, ttl: .seconds(600)) == .completed([0, 1, 2]))
        await factory.pool.close()
    }

    @Test(arguments: Backend.withCluster)
    func flagsAndActivityExpire(backend: Backend) async throws {
        let factory = try PrimitiveFactory(backend)
        let flags = factory.flags()
        let activity = try factory.activity(capacity: 3, ttl: .milliseconds(1000))
        try await withDeadlineRetries { attempt in
            let (flag, user) = ("beta\(attempt)", "u\(attempt)")
            let started = ContinuousClock.now
            try await flags.enable(flag, for: .milliseconds(1000))
            try await flags.set("mode", value: "dark", ttl: .seconds(600))
            let enabled = try await flags.isEnabled(flag)
            for event in ["login", "view", "click", "logout"] { try await activity.record(user, event) }
            let recent = try await activity.recentText(user, limit: 10)
            let lastTwo = try await activity.recentText(user, limit: 2)
            try requireBefore(started + .milliseconds(1000))
            #expect(enabled)
            #expect(try await flags.value(of: "mode") == "dark")
            #expect(recent == ["logout", "click", "view"])
            #expect(lastTwo == ["logout", "click"])
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await !flags.isEnabled(flag))
            #expect(try await activity.recent(user, limit: 10).isEmpty)
            #expect(try await flags.clear("mode"))
            #expect(try await flags.value(of: "mode") == nil)
        }
        await factory.pool.close()
    }
}
