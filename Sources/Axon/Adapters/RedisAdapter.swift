import Foundation
import Hiredis
import Logging

/// The memory tiers in Redis, shared by every process that uses the same server and namespace.
///
/// Each entry is a small hash, a body and a record in its tier's ranking hash; a tier has four index keys (see
/// `RedisKeyspace` and `EntryCodec`). Every operation is one Lua script
/// (one round trip, atomic, touching only this namespace and tier) whose work is bounded: by the recall budget,
/// by `prunePerWrite` expired entries a write removes on the way, by `batchSize` for `clear`, `sweep` and
/// `rebuildIndexes`, by `pageSize` for export pages (these loop over calls). On first use the adapter reads the
/// server's `maxmemory-policy` and follows its `EvictionRule` (by default it refuses a server that evicts keys).
public final class RedisAdapter: MemoryAdapter {
    /// The namespace this adapter's keys belong to.
    public let namespace: String
    private let pool: any RedisClient
    /// Whether `close()` closes the client: only when this adapter created it.
    private let ownsPool: Bool
    private let keys: RedisKeyspace
    /// The seed's `default_ttl`: for callers that drive the adapter without a tier policy
    /// (`TierPolicy(ttl: adapter.defaultTTL)`). `MemorySystem` tiers always use their own policy's TTL.
    public let defaultTTL: Duration
    private let eviction: EvictionGuard

    /// An adapter over an existing client: a `RedisConnectionPool`, a `RedisClusterClient` (a namespace lives on one
    /// slot, so every script runs on one node), or any `RedisClient`. `close()` leaves it open.
    public convenience init(
        client: any RedisClient, namespace: String = "default", defaultTTL: Duration = .seconds(3600),
        evictionRule: EvictionRule = .refuse, logger: Logger = Logger(label: "axon.memory.redis")
    ) {
        self.init(pool: client, ownsPool: false, namespace: namespace, defaultTTL: defaultTTL, evictionRule: evictionRule, logger: logger)
    }

    /// An adapter over an existing pool (shared with other users of the pool; `close()` leaves it open).
    public convenience init(
        pool: RedisConnectionPool, namespace: String = "default", defaultTTL: Duration = .seconds(3600),
        evictionRule: EvictionRule = .refuse, logger: Logger = Logger(label: "axon.memory.redis")
    ) {
        self.init(client: pool, namespace: namespace, defaultTTL: defaultTTL, evictionRule: evictionRule, logger: logger)
    }

    /// An adapter with its own `RedisClusterClient`.
    public convenience init(
        cluster: RedisClusterConfiguration, namespace: String = "default", defaultTTL: Duration = .seconds(3600),
        evictionRule: EvictionRule = .refuse, logger: Logger = Logger(label: "axon.memory.redis"), telemetry: Telemetry = Telemetry()
    ) throws(RedisError) {
        self.init(
            pool: try RedisClusterClient(configuration: cluster, logger: logger, telemetry: telemetry), ownsPool: true, namespace: namespace,
            defaultTTL: defaultTTL, evictionRule: evictionRule, logger: logger)
    }

    private init(pool: any RedisClient, ownsPool: Bool, namespace: String, defaultTTL: Duration, evictionRule: EvictionRule, logger: Logger) {
        self.pool = pool
        self.ownsPool = ownsPool
        self.namespace = namespace
        self.keys = RedisKeyspace(namespace: namespace)
        self.defaultTTL = defaultTTL
        self.eviction = EvictionGuard(rule: evictionRule, logger: logger)
    }

    /// An adapter with its own pool of `maxConnections` to `configuration`.
    public convenience init(
        configuration: RedisConfiguration, namespace: String = "default", defaultTTL: Duration = .seconds(3600),
        maxConnections: Int = 20, evictionRule: EvictionRule = .refuse, logger: Logger = Logger(label: "axon.memory.redis"),
        telemetry: Telemetry = Telemetry()
    ) throws(RedisError) {
        self.init(
            pool: try RedisConnectionPool(configuration: configuration, maxConnections: maxConnections, logger: logger, telemetry: telemetry),
            ownsPool: true, namespace: namespace, defaultTTL: defaultTTL, evictionRule: evictionRule, logger: logger)
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

    /// A cluster when `REDIS_CLUSTER_NODES` (or a `redis+cluster://` `REDIS_URL`) is set
    /// (`RedisClusterConfiguration.fromEnvironment`); otherwise one server from `REDIS_URL`, `REDIS_HOST`,
    /// `REDIS_PORT`, `REDIS_PASSWORD` (see `RedisConfiguration.fromEnvironment`).
    public static func fromEnvironment(
        namespace: String = "default", maxConnections: Int = 20, evictionRule: EvictionRule = .refuse,
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger = Logger(label: "axon.memory.redis"),
        telemetry: Telemetry = Telemetry()
    ) throws(RedisError) -> RedisAdapter {
        if let cluster = try RedisClusterConfiguration.fromEnvironment(environment) {
            return try RedisAdapter(cluster: cluster, namespace: namespace, evictionRule: evictionRule, logger: logger, telemetry: telemetry)
        }
        return try RedisAdapter(
            configuration: RedisConfiguration.fromEnvironment(environment), namespace: namespace, maxConnections: maxConnections,
            evictionRule: evictionRule, logger: logger, telemetry: telemetry)
    }

    /// How long an entry's hash (and the tier's index keys) outlive the entry's expiry, so that pruning can
    /// still read which index members to remove. Writes prune expired entries long before, normally.
    package static let graceMilliseconds: Int64 = 600_000
    /// The most expired entries one write prunes (and dead entries the cap steps over).
    package static let prunePerWrite = 16
    /// Entries per `clear` and `sweep` script call (each removes an entry's index members too: about 1.5 ms
    /// of server time for 50 ten-word entries on our test VM, far under Redis' 5 ms slow-log habit).
    package static let batchSize = 50
    /// Entries per export page (read only).
    package static let pageSize = 200

    public func store(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> [String] {
        try policy.validate()
        try entry.validate(now: now)
        try await eviction.check(pool)
        return try await storeCall(entry, policy: policy, now: now).run(on: pool).array().map { try $0.string() }
    }

    /// Entries per pipeline of `storeAll` (`storeBatch`, `import`): one round trip per about this many entries.
    package static let batchPipelineSize = 256
    /// Entries per batch store script (`storeAll`): the tier's index keys are written once per script and its cap
    /// applied once, and a script removes up to `prunePerWrite` expired entries, twice as many as it stores, so a batch
    /// drains a backlog of expired entries like single stores do while one script's server work stays bounded (on our
    /// test VM about 1 ms at worst, 8 ten-word entries and 16 expired ones; each batched entry costs the server about
    /// 60% of a single store).
    package static let storeManySize = 8
    /// Body bytes per batch store script, beyond its first entry: the server holds a whole script call in its query
    /// buffer (counted in `used_memory`) before running it, so large entries go a few per script.
    package static let storeManyBytes = 64 * 1024

    /// Validates every entry first (an invalid one sends nothing), then stores them in order with batch scripts of up
    /// to `storeManySize` consecutive entries (and `storeManyBytes` of bodies) of one tier and policy, an id seen again
    /// starting a new script, pipelined about `batchPipelineSize` entries per round trip. Each script is atomic: its
    /// entries are all stored or, when it fails (an OOM, say), none is; a failing script does not stop the others. The
    /// cap is applied once per script, which leaves the same entries as applying it after each store; the ids it
    /// evicted are reported with the script's last entry.
    public func storeAll(_ entries: [MemoryEntry], policies: [TierPolicy], now: Date) async throws -> [Result<[String], any Error>] {
        guard entries.count == policies.count else {
            throw MemoryError.invalidArgument("storeAll got \(entries.count) entries and \(policies.count) policies")
        }
        for (entry, policy) in zip(entries, policies) {
            try policy.validate()
            try entry.validate(now: now)
        }
        guard !entries.isEmpty else { return [] }
        try await eviction.check(pool)
        let calls = storeManyCalls(entries, policies: policies, now: now)
        var results: [Result<[String], any Error>] = []
        results.reserveCapacity(entries.count)
        var next = 0
        while next < calls.count {
            var group: [(chunk: Range<Int>, keys: [any RedisArgument], arguments: [any RedisArgument])] = []
            var size = 0
            while next < calls.count && (group.isEmpty || size + calls[next].chunk.count <= Self.batchPipelineSize) {
                group.append(calls[next])
                size += calls[next].chunk.count
                next += 1
            }
            let replies = try await MemoryScripts.storeMany.runAll(on: pool, calls: group.map { ($0.keys, $0.arguments) })
            for (chunk, reply) in zip(group.map(\.chunk), replies) {
                let outcome = Result { try reply.checked().array().map { try $0.string() } }
                for index in chunk {
                    switch outcome {
                    case .success(let evicted): results.append(.success(index == chunk.upperBound - 1 ? evicted : []))
                    case .failure(let error): results.append(.failure(error))
                    }
                }
            }
        }
        return results
    }

    /// `storeAll`'s scripts in order, each with the range of `entries` it stores.
    private func storeManyCalls(
        _ entries: [MemoryEntry], policies: [TierPolicy], now: Date
    ) -> [(chunk: Range<Int>, keys: [any RedisArgument], arguments: [any RedisArgument])] {
        let normalized = entries.map(\.normalized)
        let parts = zip(normalized, policies).map { StoreParts($0, policy: $1) }
        return Self.storeChunks(normalized, policies: policies, parts: parts).map { chunk in
            let call = storeManyCall(normalized[chunk], parts: parts[chunk], policy: policies[chunk.lowerBound], now: now)
            return (chunk, call.keys, call.arguments)
        }
    }

    /// `storeAll`'s scripts: runs of consecutive entries of one tier and policy, at most `storeManySize` entries and
    /// `storeManyBytes` of bodies past the first, an id seen again starting a new run.
    private static func storeChunks(_ entries: [MemoryEntry], policies: [TierPolicy], parts: [StoreParts]) -> [Range<Int>] {
        var chunks: [Range<Int>] = []
        var start = 0
        var ids: Set<String> = []
        var bytes = 0
        for index in entries.indices {
            bytes += parts[index].body.count
            if index > start && (index - start == storeManySize || bytes > storeManyBytes || entries[index].tier != entries[start].tier
                || policies[index] != policies[start] || ids.contains(entries[index].id)) {
                chunks.append(start..<index)
                start = index
                ids = []
                bytes = parts[index].body.count
            }
            ids.insert(entries[index].id)
        }
        if start < entries.count { chunks.append(start..<entries.count) }
        return chunks
    }

    public func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry? {
        try policy.validate()
        try await eviction.check(pool)
        let reply = try await getCall(id: id, tier: tier, policy: policy, now: now).run(on: pool)
        if reply.isNull { return nil }
        return try EntryCodec.entry(id: id, tier: tier, fields: reply.array())
    }

    public func forget(id: String, tier: MemoryTier, now: Date) async throws -> Bool {
        try await eviction.check(pool)
        return try await forgetCall(id: id, tier: tier, now: now).run(on: pool).int() == 1
    }

    public func recall(_ query: RecallQuery, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RecallResult {
        try policy.validate()
        try query.validate()
        try await eviction.check(pool)
        let reply = try await recallCall(query, tier: tier, policy: policy, now: now).run(on: pool).array()
        guard reply.count >= 2 else { throw MemoryError(.storage, "the recall script returned \(reply.count) values, expected at least 2") }
        let candidates = Int(try reply[0].int())
        return RecallResult(
            entries: try Self.entries(reply.dropFirst(2), tier: tier), candidates: candidates,
            examined: Int(try reply[1].int()), isExhaustive: candidates <= query.budget)
    }

    public func page(tier: MemoryTier, cursor: String?, now: Date) async throws -> MemoryPage {
        try await eviction.check(pool)
        let reply = try await MemoryScripts.page.run(
            on: pool, keys: [keys.tierIndex(tier), keys.rankingHash(tier)],
            arguments: [cursor ?? "0", Self.pageSize, Milliseconds.of(now), keys.entryPrefix(tier)]
        ).array()
        guard let next = try reply.first?.string() else { throw MemoryError(.storage, "the page script returned no cursor") }
        return MemoryPage(entries: try Self.entries(reply.dropFirst(), tier: tier), next: next == "0" ? nil : next)
    }

    public func count(tier: MemoryTier, now: Date) async throws -> Int {
        try await eviction.check(pool)
        return Int(try await pool.send("ZCOUNT", keys.tierIndex(tier), "(\(Milliseconds.of(now))", "+inf").int())
    }

    public func clear(tier: MemoryTier, now: Date) async throws -> Int {
        var live = 0
        while true {
            let reply = try await MemoryScripts.clear.run(
                on: pool, keys: keys.indexes(tier),
                arguments: [Milliseconds.of(now), keys.entryPrefix(tier), Self.batchSize]
            ).array()
            guard reply.count == 2 else { throw MemoryError(.storage, "the clear script returned \(reply.count) values, expected 2") }
            live += Int(try reply[0].int())
            if try reply[1].int() == 0 { return live }
        }
    }

    public func sweep(tier: MemoryTier, cursor: String?, now: Date) async throws -> SweepStep {
        let reply = try await MemoryScripts.sweep.run(
            on: pool, keys: keys.indexes(tier),
            arguments: [Milliseconds.of(now), keys.entryPrefix(tier), Self.batchSize, cursor ?? "x0"]
        ).array()
        guard reply.count == 3 else { throw MemoryError(.storage, "the sweep script returned \(reply.count) values, expected 3") }
        let next = try reply[2].string()
        return SweepStep(expiredEntries: Int(try reply[0].int()), strayMembers: Int(try reply[1].int()), next: next == "0" ? nil : next)
    }

    /// Live entries and the members of the tier's four index keys (one pipeline).
    public func diagnostics(tier: MemoryTier, now: Date) async throws -> TierDiagnostics {
        let replies = try await pool.pipeline([
            RedisCommand("ZCOUNT", keys.tierIndex(tier), "(\(Milliseconds.of(now))", "+inf"), RedisCommand("ZCARD", keys.tierIndex(tier)),
            RedisCommand("ZCARD", keys.priorityIndex(tier)), RedisCommand("HLEN", keys.rankingHash(tier)), RedisCommand("ZCARD", keys.lexIndex(tier)),
        ]).map { try $0.checked().int() }
        return TierDiagnostics(
            tier: tier, adapter: .redis, liveEntries: Int(replies[0]),
            indexMembers: ["i": Int(replies[1]), "p": Int(replies[2]), "r": Int(replies[3]), "x": Int(replies[4])])
    }

    /// The server's version, role, memory, eviction policy and slow log.
    public func serverDiagnostics() async throws -> ServerDiagnostics {
        try await ServerDiagnostics.read(from: pool)
    }

    /// Works under any eviction policy: it is the repair.
    public func rebuildIndexes(tier: MemoryTier, cursor: String?, now: Date) async throws -> RebuildStep {
        let reply = try await MemoryScripts.rebuild.run(
            on: pool, keys: keys.indexes(tier),
            arguments: [Milliseconds.of(now), keys.entryPrefix(tier), cursor ?? "0", Self.batchSize, Self.graceMilliseconds]
        ).array()
        guard reply.count == 3 else { throw MemoryError(.storage, "the rebuild script returned \(reply.count) values, expected 3") }
        let next = try reply[0].string()
        return RebuildStep(restoredEntries: Int(try reply[1].int()), droppedEntries: Int(try reply[2].int()), next: next == "0" ? nil : next)
    }

    /// Decodes id, record, body, id, record, body, ...
    private static func entries(_ flat: ArraySlice<RedisReply>, tier: MemoryTier) throws -> [MemoryEntry] {
        guard flat.count % 3 == 0 else { throw MemoryError(.storage, "a script returned \(flat.count) entry values, not id, record, body triples") }
        var entries: [MemoryEntry] = []
        entries.reserveCapacity(flat.count / 3)
        var index = flat.startIndex
        while index + 2 < flat.endIndex {
            entries.append(try EntryCodec.entry(id: try flat[index].string(), tier: tier, record: flat[index + 1], body: flat[index + 2]))
            index += 3
        }
        return entries
    }

    // MARK: Script invocations

    /// One script with its keys and arguments: what an operation runs, and what its `…Command` twin returns.
    private struct ScriptCall {
        let script: RedisScript
        let keys: [any RedisArgument]
        let arguments: [any RedisArgument]

        func run(on pool: any RedisClient) async throws -> RedisReply {
            try await script.run(on: pool, keys: keys, arguments: arguments)
        }

        func command(on pool: any RedisClient) async throws -> RedisCommand {
            try await script.command(on: pool, keys: keys, arguments: arguments)
        }
    }

    private func tierKeys(_ tier: MemoryTier, entry id: String) -> [any RedisArgument] {
        keys.entryKeys(tier, id, body: false)
    }

    /// `tierKeys` and the entry's body: the keys of store and get.
    private func entryKeys(_ tier: MemoryTier, entry id: String) -> [any RedisArgument] {
        keys.entryKeys(tier, id, body: true)
    }

    private func storeCall(_ original: MemoryEntry, policy: TierPolicy, now: Date) -> ScriptCall {
        let entry = original.normalized
        let parts = StoreParts(entry, policy: policy)
        var arguments: [any RedisArgument] = [
            entry.id, Milliseconds.of(now), Milliseconds.of(entry.expiresAt), policy.maxEntries ?? 0,
            keys.entryPrefix(entry.tier), entry.importance, Self.graceMilliseconds, Self.prunePerWrite, parts.sources,
            Milliseconds.of(entry.createdAt), Milliseconds.of(entry.lastAccessedAt), entry.accessCount, parts.body,
        ]
        arguments.append(contentsOf: parts.hashFields)
        return ScriptCall(script: MemoryScripts.store, keys: entryKeys(entry.tier, entry: entry.id), arguments: arguments)
    }

    /// The keys and arguments of one `storeMany` script for `entries` (normalized, of one tier, with their `parts`)
    /// under `policy`'s cap.
    private func storeManyCall(
        _ entries: ArraySlice<MemoryEntry>, parts allParts: ArraySlice<StoreParts>, policy: TierPolicy, now: Date
    ) -> (keys: [any RedisArgument], arguments: [any RedisArgument]) {
        let tier = entries.first?.tier ?? .ephemeral
        var keys = self.keys.indexes(tier)
        var arguments: [any RedisArgument] = [
            Milliseconds.of(now), self.keys.entryPrefix(tier), Self.graceMilliseconds, Self.prunePerWrite, policy.maxEntries ?? 0,
        ]
        for (entry, parts) in zip(entries, allParts) {
            keys += [self.keys.entry(tier, entry.id), self.keys.body(tier, entry.id)] as [any RedisArgument]
            arguments += [
                entry.id, Milliseconds.of(entry.expiresAt), entry.importance, parts.sources, Milliseconds.of(entry.createdAt),
                Milliseconds.of(entry.lastAccessedAt), entry.accessCount, parts.body, parts.hashFields.count / 2,
            ] as [any RedisArgument]
            arguments += parts.hashFields
        }
        return (keys, arguments)
    }

    /// What a store writes for one (normalized) entry besides its numbers: index sources, body, extra hash fields.
    private struct StoreParts {
        let sources: String
        let body: [UInt8]
        let hashFields: [any RedisArgument]

        init(_ entry: MemoryEntry, policy: TierPolicy) {
            let profile = RecallRanking.Profile(entry)
            sources = EntryCodec.sources(of: entry, profile: profile, indexesWords: policy.indexesWords)
            body = EntryCodec.body(of: entry, profile: profile)
            hashFields = EntryCodec.hashFields(of: entry, profile: profile, indexesWords: policy.indexesWords)
        }
    }

    private func getCall(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) -> ScriptCall {
        let nowMs = Milliseconds.of(now)
        let target = policy.refreshOnRead ? min(nowMs + policy.ttlMilliseconds, Milliseconds.limit) : 0
        return ScriptCall(
            script: MemoryScripts.get, keys: entryKeys(tier, entry: id),
            arguments: [id, nowMs, target, Self.graceMilliseconds, keys.entryPrefix(tier), Self.prunePerWrite])
    }

    private func forgetCall(id: String, tier: MemoryTier, now: Date) -> ScriptCall {
        ScriptCall(
            script: MemoryScripts.forget, keys: tierKeys(tier, entry: id),
            arguments: [id, Milliseconds.of(now), keys.entryPrefix(tier), Self.graceMilliseconds, Self.prunePerWrite])
    }

    private func recallCall(_ query: RecallQuery, tier: MemoryTier, policy: TierPolicy, now: Date) -> ScriptCall {
        let filter = query.filter
        let importance = filter.importance.map { (max($0.lowerBound, -1), min($0.upperBound, 2)) }
        let created = (filter.createdAfter ?? filter.createdBefore) == nil ? nil
            : (filter.createdAfter.map(Milliseconds.of) ?? -Milliseconds.limit, filter.createdBefore.map(Milliseconds.of) ?? Milliseconds.limit)
        var arguments: [any RedisArgument] = [
            Milliseconds.of(now), keys.entryPrefix(tier), query.budget, query.limit, policy.indexesWords ? 1 : 0,
            importance == nil ? 0 : 1, importance?.0 ?? 0, importance?.1 ?? 0,
            created == nil ? 0 : 1, created?.0 ?? 0, created?.1 ?? 0,
            query.words.joined(separator: " "),
        ]
        func list(_ items: [any RedisArgument], width: Int = 1) {
            arguments.append(items.count / width)
            arguments.append(contentsOf: items)
        }
        list(filter.tags.map(RedisKeyspace.hex))
        list(filter.anyTags.map(RedisKeyspace.hex))
        list(filter.userID.map { [RedisKeyspace.hex($0), $0] } ?? [], width: 2)
        list(filter.sessionID.map { [RedisKeyspace.hex($0), $0] } ?? [], width: 2)
        list(filter.metadata.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }, width: 2)
        list(query.distinctWords)
        return ScriptCall(script: MemoryScripts.recall, keys: [keys.lexIndex(tier), keys.rankingHash(tier)], arguments: arguments)
    }

    // MARK: The same requests for other clients

    /// The memory scripts' names and sources, so that a tool can name the `EVALSHA`s of a slow log.
    package static var scriptSources: [(name: String, source: String)] { MemoryScripts.named.map { ($0.name, $0.script.source) } }

    /// The EVALSHA that `store` sends (loading the script if needed), for a benchmark's baseline.
    package func storeCommand(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> RedisCommand {
        try await storeCall(entry, policy: policy, now: now).command(on: pool)
    }

    /// The EVALSHAs that `storeAll` sends for `entries` (ones it accepts), in order, for a benchmark's baseline.
    package func storeAllCommands(_ entries: [MemoryEntry], policies: [TierPolicy], now: Date) async throws -> [RedisCommand] {
        var commands: [RedisCommand] = []
        for call in storeManyCalls(entries, policies: policies, now: now) {
            commands.append(try await MemoryScripts.storeMany.command(on: pool, keys: call.keys, arguments: call.arguments))
        }
        return commands
    }

    /// The EVALSHA that `get` sends, for a benchmark's baseline.
    package func getCommand(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RedisCommand {
        try await getCall(id: id, tier: tier, policy: policy, now: now).command(on: pool)
    }

    /// The EVALSHA that `forget` sends, for a benchmark's baseline.
    package func forgetCommand(id: String, tier: MemoryTier, now: Date) async throws -> RedisCommand {
        try await forgetCall(id: id, tier: tier, now: now).command(on: pool)
    }

    /// The EVALSHA that `recall` sends, for a benchmark's baseline.
    package func recallCommand(_ query: RecallQuery, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RedisCommand {
        try await recallCall(query, tier: tier, policy: policy, now: now).command(on: pool)
    }

    /// Closes the client if this adapter created it.
    public func close() async {
        if ownsPool { await pool.close() }
    }
}
