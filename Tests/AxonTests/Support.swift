import Axon
import Foundation
import Hiredis
import Testing
import TestSupport

/// The adapters every conformance test runs against: in process, one Redis server, Redis Cluster (when `make test`
/// started one: `REDIS_CLUSTER_NODES`) and one Redis server over TLS (`REDIS_TLS_TEST_PORT`, scripts/with-tls.sh).
enum Backend: String, Sendable, CustomTestStringConvertible {
    case inMemory, redis, cluster, tls

    /// In process and one server: for tests that also look at the raw layout of one server.
    static let allCases: [Backend] = [.inMemory, .redis]
    /// Every backend available: the cluster and the TLS server included when they run.
    static var withCluster: [Backend] {
        allCases + (clusterConfiguration == nil ? [] : [.cluster]) + (SharedTLSServer.isAvailable ? [.tls] : [])
    }

    var testDescription: String { rawValue }

    var kind: AdapterKind { self == .inMemory ? .memory : .redis }

    static var clusterConfiguration: RedisClusterConfiguration? {
        guard var configuration = try? RedisClusterConfiguration.fromEnvironment() else { return nil }
        configuration.node.connectTimeout = .seconds(30)
        configuration.node.commandTimeout = .seconds(30)
        return configuration
    }

    /// A client of this backend's Redis (the server or the cluster); `nil` in process.
    func client() throws -> (any RedisClient)? {
        switch self {
        case .inMemory: return nil
        case .redis: return try RedisConnectionPool(configuration: Self.redisConfiguration, maxConnections: 4)
        case .cluster:
            guard let configuration = Self.clusterConfiguration else { throw RedisError(.invalidArgument, "no cluster: REDIS_CLUSTER_NODES is not set") }
            return try RedisClusterClient(configuration: configuration)
        case .tls: return try RedisConnectionPool(configuration: SharedTLSServer.configuration(), maxConnections: 4)
        }
    }

    static var redisConfiguration: RedisConfiguration {
        let environment = ProcessInfo.processInfo.environment
        // Generous timeouts: a loaded CI machine can stall the test process for seconds.
        return RedisConfiguration(
            host: environment["REDIS_TEST_HOST"] ?? "127.0.0.1", port: Int(environment["REDIS_TEST_PORT"] ?? "") ?? 6379,
            connectTimeout: .seconds(30), commandTimeout: .seconds(30))
    }

    /// An adapter for `namespace`; in-memory adapters made with the same `store` share entries, like Redis.
    func adapter(namespace: String, store: InMemoryStore) throws -> any MemoryAdapter {
        switch self {
        case .inMemory: return InMemoryAdapter(namespace: namespace, store: store)
        case .redis: return try RedisAdapter(configuration: Self.redisConfiguration, namespace: namespace, maxConnections: 4)
        case .cluster:
            guard let configuration = Self.clusterConfiguration else { throw RedisError(.invalidArgument, "no cluster: REDIS_CLUSTER_NODES is not set") }
            return try RedisAdapter(cluster: configuration, namespace: namespace)
        case .tls: return try RedisAdapter(configuration: SharedTLSServer.configuration(), namespace: namespace, maxConnections: 4)
        }
    }

    /// A memory system with both tiers on this backend.
    func system(
        namespace: String = UUID().uuidString, store: InMemoryStore = InMemoryStore(), sessionCap: Int = 1000
    ) throws -> MemorySystem {
        let adapter = try adapter(namespace: namespace, store: store)
        let config = MemoryConfig(
            ephemeral: try EphemeralPolicy(adapter: kind, ttl: .seconds(60)),
            session: try SessionPolicy(adapter: kind, ttl: .seconds(600), maxEntries: sessionCap))
        return try MemorySystem(config: config, redis: adapter, memory: adapter)
    }
}

/// Waits until `condition` holds or `limit` passes (for expiry, which Redis applies on its own clock).
func eventually(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

/// Thrown by a timing-dependent scenario when the machine was too slow for a check to mean anything: the check
/// ended after the deadline it tests against. A loaded CI machine can stall a test process for seconds, and a
/// key that expired during the stall says nothing about the code.
struct MissedDeadline: Error {}

/// Throws `MissedDeadline` once `deadline` has passed. Call it right after a check whose outcome is defined only
/// before the deadline, and before asserting on that outcome.
func requireBefore(_ deadline: ContinuousClock.Instant) throws {
    if ContinuousClock.now >= deadline { throw MissedDeadline() }
}

/// Wall-clock form of `requireBefore`, for entries whose expiry is a `Date`.
func requireBefore(_ deadline: Date) throws {
    if Date() >= deadline { throw MissedDeadline() }
}

/// Runs a timing-dependent scenario until one attempt meets its deadlines, at most `attempts` times. Each attempt
/// gets its number, to use fresh keys. Any other failure is final; missing the deadlines every time is recorded
/// as an issue, so a slow machine never turns a timing test into one that checks nothing.
func withDeadlineRetries(attempts: Int = 4, _ scenario: (_ attempt: Int) async throws -> Void) async throws {
    for attempt in 1...attempts {
        do {
            try await scenario(attempt)
            return
        } catch is MissedDeadline {
            continue
        }
    }
    Issue.record("the machine was too slow for this test's deadlines in \(attempts) attempts")
}

extension MemoryAdapter {
    /// The live entries with `tag` (recall with an empty query), as a tier with default policy sees them.
    func tagged(_ tag: String, tier: MemoryTier, now: Date = Date()) async throws -> [MemoryEntry] {
        let query = RecallQuery(text: "", filter: MemoryFilter(tags: [tag]), limit: 10_000, budget: 10_000)
        return try await recall(query, tier: tier, policy: TierPolicy(ttl: .seconds(60)), now: now).entries
    }
}


/// Tests that load the machine for seconds (their own servers, clusters, sentinels, 10,000-entry tiers) run one at
/// a time (`HeavyTestGate`), so that all of them at once do not starve the timing-sensitive tests beside them.
struct HeavyTrait: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Once per test case: the suite's and the test's own scopes pass through (gating them too would deadlock).
        guard testCase != nil else { return try await function() }
        try await HeavyTestGate.shared.run { try await function() }
    }
}

extension Trait where Self == HeavyTrait {
    /// Runs one at a time with the other heavy tests.
    static var heavy: HeavyTrait { HeavyTrait() }
}

extension RedisConnection {
    /// Every key matching `pattern` (SCAN in pages of 1,000).
    func scanKeys(_ pattern: String) async throws -> [String] {
        var cursor = "0"
        var found: [String] = []
        repeat {
            let reply = try await send("SCAN", cursor, "MATCH", pattern, "COUNT", 1000).array()
            cursor = try reply[0].string()
            found += try reply[1].array().map { try $0.string() }
        } while cursor != "0"
        return found
    }
}
