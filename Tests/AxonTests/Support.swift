import Axon
import Foundation
import Hiredis
import Testing

/// The two adapters every conformance test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory, redis

    var testDescription: String { rawValue }

    var kind: AdapterKind { self == .redis ? .redis : .memory }

    static var redisConfiguration: RedisConfiguration {
        let environment = ProcessInfo.processInfo.environment
        return RedisConfiguration(
            host: environment["REDIS_TEST_HOST"] ?? "127.0.0.1", port: Int(environment["REDIS_TEST_PORT"] ?? "") ?? 6379)
    }

    /// An adapter for `namespace`; in-memory adapters made with the same `store` share entries, like Redis.
    func adapter(namespace: String, store: InMemoryStore) throws -> any MemoryAdapter {
        switch self {
        case .inMemory: return InMemoryAdapter(namespace: namespace, store: store)
        case .redis: return try RedisAdapter(configuration: Self.redisConfiguration, namespace: namespace, maxConnections: 4)
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
func eventually(within limit: Duration = .seconds(3), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}
