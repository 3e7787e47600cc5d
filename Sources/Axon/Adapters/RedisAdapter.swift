import Foundation
import Hiredis
import Logging

/// The memory tiers in Redis, shared by every process that uses the same server and namespace.
///
/// Each entry is one hash with its TTL; tag, tier and priority indexes are sorted sets (see `RedisKeyspace`).
/// `store`, `get`, `forget`, `count`, `clear` and tag recall are one Lua script each: one round trip, atomic,
/// touching only this namespace and tier, never SCAN.
public final class RedisAdapter: MemoryAdapter {
    /// The namespace this adapter's keys belong to.
    public let namespace: String
    private let pool: RedisConnectionPool
    /// Whether `close()` closes the pool: only when this adapter created it.
    private let ownsPool: Bool
    private let keys: RedisKeyspace
    /// The seed's `default_ttl`: for callers that drive the adapter without a tier policy
    /// (`TierPolicy(ttl: adapter.defaultTTL)`). `MemorySystem` tiers always use their own policy's TTL.
    public let defaultTTL: Duration

    /// An adapter over an existing pool (shared with other users of the pool; `close()` leaves it open).
    public convenience init(pool: RedisConnectionPool, namespace: String = "default", defaultTTL: Duration = .seconds(3600)) {
        self.init(pool: pool, ownsPool: false, namespace: namespace, defaultTTL: defaultTTL)
    }

    private init(pool: RedisConnectionPool, ownsPool: Bool, namespace: String, defaultTTL: Duration) {
        self.pool = pool
        self.ownsPool = ownsPool
        self.namespace = namespace
        self.keys = RedisKeyspace(namespace: namespace)
        self.defaultTTL = defaultTTL
    }

    /// An adapter with its own pool of `maxConnections` to `configuration`.
    public convenience init(
        configuration: RedisConfiguration, namespace: String = "default", defaultTTL: Duration = .seconds(3600),
        maxConnections: Int = 20, logger: Logger = Logger(label: "axon.memory.redis")
    ) throws(RedisError) {
        self.init(
            pool: try RedisConnectionPool(configuration: configuration, maxConnections: maxConnections, logger: logger),
            ownsPool: true, namespace: namespace, defaultTTL: defaultTTL)
    }

    /// The seed's parameters: host, port, password, db, namespace, default TTL, pool size.
    public convenience init(
        host: String = "localhost", port: Int = 6379, password: String? = nil, db: Int = 0,
        namespace: String = "default", defaultTTL: Duration = .seconds(3600), maxConnections: Int = 20
    ) throws(RedisError) {
        try self.init(
            configuration: RedisConfiguration(host: host, port: port, password: password, database: db),
            namespace: namespace, defaultTTL: defaultTTL, maxConnections: maxConnections)
    }

    /// Reads `REDIS_URL`, `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD` (see `RedisConfiguration.fromEnvironment`).
    public static func fromEnvironment(
        namespace: String = "default", maxConnections: Int = 20,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisError) -> RedisAdapter {
        try RedisAdapter(
            configuration: RedisConfiguration.fromEnvironment(environment), namespace: namespace, maxConnections: maxConnections)
    }

    public func store(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> [String] {
        try await storeCall(entry, policy: policy, now: now).run(on: pool).array().map { try $0.string() }
    }

    public func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry? {
        let reply = try await getCall(id: id, tier: tier, policy: policy, now: now).run(on: pool)
        if reply.isNull { return nil }
        return try EntryCodec.entry(id: id, tier: tier, fields: reply.array())
    }

    public func forget(id: String, tier: MemoryTier) async throws -> Bool {
        try await forgetCall(id: id, tier: tier).run(on: pool).int() == 1
    }

    public func entries(tier: MemoryTier, allTags: [String], anyTags: [String], words: [String], now: Date) async throws -> [MemoryEntry] {
        let reply = try await entriesCall(tier: tier, allTags: allTags, anyTags: anyTags, words: words, now: now).run(on: pool)
        let flat = try reply.array()
        var entries: [MemoryEntry] = []
        entries.reserveCapacity(flat.count / 2)
        var index = 0
        while index + 1 < flat.count {
            let id = try flat[index].string()
            entries.append(try EntryCodec.entry(id: id, tier: tier, fields: flat[index + 1].array()))
            index += 2
        }
        return entries
    }

    public func count(tier: MemoryTier, now: Date) async throws -> Int {
        let reply = try await MemoryScripts.count.run(
            on: pool, keys: [keys.tierIndex(tier), keys.priorityIndex(tier)], arguments: [Milliseconds.of(now)])
        return Int(try reply.int())
    }

    public func clear(tier: MemoryTier, now: Date) async throws -> Int {
        let reply = try await MemoryScripts.clear.run(
            on: pool, keys: [keys.tierIndex(tier), keys.priorityIndex(tier)],
            arguments: [Milliseconds.of(now), keys.entryPrefix(tier), keys.tagPrefix(tier)])
        return Int(try reply.int())
    }

    // MARK: Script invocations

    /// One script with its keys and arguments: what an operation runs, and what its `…Command` twin returns.
    private struct ScriptCall {
        let script: RedisScript
        let keys: [any RedisArgument]
        let arguments: [any RedisArgument]

        func run(on pool: RedisConnectionPool) async throws -> RedisReply {
            try await script.run(on: pool, keys: keys, arguments: arguments)
        }

        func command(on pool: RedisConnectionPool) async throws -> RedisCommand {
            try await script.command(on: pool, keys: keys, arguments: arguments)
        }
    }

    private func storeCall(_ entry: MemoryEntry, policy: TierPolicy, now: Date) -> ScriptCall {
        let tier = entry.tier
        let tagHex = entry.tags.map(RedisKeyspace.hex)
        var scriptKeys: [any RedisArgument] = [keys.entry(tier, entry.id), keys.tierIndex(tier), keys.priorityIndex(tier)]
        scriptKeys.append(contentsOf: tagHex.map { keys.tagPrefix(tier) + $0 } as [any RedisArgument])
        var arguments: [any RedisArgument] = [
            entry.id, Milliseconds.of(now), Milliseconds.of(entry.expiresAt), policy.maxEntries ?? 0,
            keys.entryPrefix(tier), keys.tagPrefix(tier), entry.importance,
        ]
        arguments.append(contentsOf: EntryCodec.fields(of: entry, tagHex: tagHex))
        return ScriptCall(script: MemoryScripts.store, keys: scriptKeys, arguments: arguments)
    }

    private func getCall(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) -> ScriptCall {
        let nowMs = Milliseconds.of(now)
        let target = policy.refreshOnRead ? nowMs + policy.ttlMilliseconds : 0
        return ScriptCall(
            script: MemoryScripts.get, keys: [keys.entry(tier, id), keys.tierIndex(tier), keys.priorityIndex(tier)],
            arguments: [id, nowMs, target, keys.tagPrefix(tier)])
    }

    private func forgetCall(id: String, tier: MemoryTier) -> ScriptCall {
        ScriptCall(
            script: MemoryScripts.forget, keys: [keys.entry(tier, id), keys.tierIndex(tier), keys.priorityIndex(tier)],
            arguments: [id, keys.entryPrefix(tier), keys.tagPrefix(tier)])
    }

    private func entriesCall(tier: MemoryTier, allTags: [String], anyTags: [String], words: [String], now: Date) -> ScriptCall {
        var scriptKeys: [any RedisArgument] = [keys.tierIndex(tier), keys.priorityIndex(tier)]
        scriptKeys.append(contentsOf: allTags.map { keys.tag(tier, $0) } as [any RedisArgument])
        scriptKeys.append(contentsOf: anyTags.map { keys.tag(tier, $0) } as [any RedisArgument])
        var arguments: [any RedisArgument] = [Milliseconds.of(now), allTags.count, keys.entryPrefix(tier)]
        arguments.append(contentsOf: words as [any RedisArgument])
        return ScriptCall(script: MemoryScripts.query, keys: scriptKeys, arguments: arguments)
    }

    // MARK: The same requests for other clients

    /// The EVALSHA that `store` sends (loading the script if needed), for a benchmark's baseline.
    package func storeCommand(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> RedisCommand {
        try await storeCall(entry, policy: policy, now: now).command(on: pool)
    }

    /// The EVALSHA that `get` sends, for a benchmark's baseline.
    package func getCommand(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RedisCommand {
        try await getCall(id: id, tier: tier, policy: policy, now: now).command(on: pool)
    }

    /// The EVALSHA that `forget` sends, for a benchmark's baseline.
    package func forgetCommand(id: String, tier: MemoryTier) async throws -> RedisCommand {
        try await forgetCall(id: id, tier: tier).command(on: pool)
    }

    /// The EVALSHA that `entries` sends (recall's read), for a benchmark's baseline.
    package func entriesCommand(tier: MemoryTier, allTags: [String], anyTags: [String], words: [String], now: Date) async throws -> RedisCommand {
        try await entriesCall(tier: tier, allTags: allTags, anyTags: anyTags, words: words, now: now).command(on: pool)
    }

    /// Closes the pool if this adapter created it.
    public func close() async {
        if ownsPool { await pool.close() }
    }
}
