import Foundation
import Hiredis
import Logging
import Synchronization

/// The tiered short-term memory: store, recall, get, forget, count, clear, export and import, over an
/// adapter per tier (Redis or in-process) with each tier's policy applied on every write.
public final class MemorySystem: Sendable {
    /// The tiers and their policies.
    public let config: MemoryConfig
    private let adapters: [MemoryTier: any MemoryAdapter]
    private let policies: [MemoryTier: TierPolicy]
    private let idGenerator = Mutex(EntryIDGenerator())
    private let telemetry: MemoryTelemetry?
    /// Where the memory system logs (and the adapter it makes from the environment).
    public let logger: Logger

    /// A memory system. Tiers whose policy says `.redis` use `redis` (default: `RedisAdapter.fromEnvironment()`),
    /// `.memory` tiers use `memory` (default: an `InMemoryAdapter`). Either may be your own `MemoryAdapter`.
    /// `telemetry` records the memory layer's metrics and spans (`MemoryTelemetry`; off unless a metrics factory
    /// or tracer is bootstrapped or passed).
    public init(
        config: MemoryConfig, redis: (any MemoryAdapter)? = nil, memory: (any MemoryAdapter)? = nil,
        logger: Logger = Logger(label: "axon.memory"), telemetry: Telemetry = Telemetry()
    ) throws {
        self.config = config
        self.logger = logger
        self.telemetry = MemoryTelemetry(telemetry)
        var adapters: [MemoryTier: any MemoryAdapter] = [:]
        var policies: [MemoryTier: TierPolicy] = [:]
        var redisAdapter = redis
        let memoryAdapter = memory ?? InMemoryAdapter()
        for tier in MemoryTier.allCases {
            guard let (kind, policy) = config.policy(for: tier) else { continue }
            switch kind {
            case .redis:
                if redisAdapter == nil { redisAdapter = try RedisAdapter.fromEnvironment(logger: logger, telemetry: telemetry) }
                adapters[tier] = redisAdapter
            case .memory:
                adapters[tier] = memoryAdapter
            }
            policies[tier] = policy
        }
        guard !adapters.isEmpty else {
            throw MemoryError.invalidConfiguration(
                "MemoryConfig configures no tier: pass an EphemeralPolicy or a SessionPolicy, or use MemoryConfig.defaults()")
        }
        self.adapters = adapters
        self.policies = policies
    }

    /// What a `store` wrote and what the session cap evicted to make room.
    public struct StoreReceipt: Sendable, Hashable {
        /// The new entry's id.
        public var id: String
        /// Ids evicted by the tier's cap (lowest importance, oldest first); may include `id` itself when the new
        /// entry is the least important.
        public var evicted: [String]
    }

    /// One item for `storeBatch`.
    public struct Input: Sendable, Hashable {
        /// The text to remember (not blank).
        public var text: String
        /// 0...1, finite.
        public var importance: Double
        /// The tier to store in.
        public var tier: MemoryTier
        /// Labels for exact lookup.
        public var tags: [String]
        /// The user it belongs to, if any.
        public var userID: String?
        /// The session it belongs to, if any.
        public var sessionID: String?
        /// Free-form string metadata.
        public var metadata: [String: String]
        /// A structured value, as JSON (see `MemoryEntry.value(as:)`).
        public var value: Data?

        /// An item to store; the defaults match `store`.
        public init(
            _ text: String, importance: Double = 0.5, tier: MemoryTier = .ephemeral, tags: [String] = [],
            userID: String? = nil, sessionID: String? = nil, metadata: [String: String] = [:], value: Data? = nil
        ) {
            self.text = text
            self.importance = importance
            self.tier = tier
            self.tags = tags
            self.userID = userID
            self.sessionID = sessionID
            self.metadata = metadata
            self.value = value
        }
    }

    /// Stores `text` with a structured `value` (kept as JSON; read it back with `MemoryEntry.value(as:)`), and
    /// returns the entry's id. An unencodable value is an `invalidArgument` error and nothing is written.
    @discardableResult
    public func store(
        _ text: String, value: some Encodable, importance: Double = 0.5, tier: MemoryTier = .ephemeral, tags: [String] = [],
        userID: String? = nil, sessionID: String? = nil, metadata: [String: String] = [:]
    ) async throws -> String {
        let json: Data
        do {
            json = try JSONEncoder.sorted.encode(value)
        } catch {
            throw MemoryError.invalidArgument("\(type(of: value)) could not be encoded as JSON: \(error)")
        }
        return try await storeReporting(Input(
            text, importance: importance, tier: tier, tags: tags, userID: userID, sessionID: sessionID, metadata: metadata, value: json)).id
    }

    /// The entries of session `sessionID` in `tier` (or every configured tier), oldest first: the newest `limit` of
    /// them, in the order they were stored. One recall on the session index (see `recall`).
    public func history(sessionID: String, tier: MemoryTier? = nil, limit: Int = 100) async throws -> [MemoryEntry] {
        let newest = try await recall("", tiers: tiers(tier), filter: MemoryFilter(sessionID: sessionID), limit: limit)
        return newest.reversed()
    }

    /// Stores `text` and returns its id. Blank text, importance outside 0...1 or not finite, an empty tag, or
    /// an unconfigured tier are `invalidArgument` / `tierNotConfigured` errors, and nothing is written.
    @discardableResult
    public func store(
        _ text: String, importance: Double = 0.5, tier: MemoryTier = .ephemeral, tags: [String] = [],
        userID: String? = nil, sessionID: String? = nil, metadata: [String: String] = [:]
    ) async throws -> String {
        try await storeReporting(
            Input(text, importance: importance, tier: tier, tags: tags, userID: userID, sessionID: sessionID, metadata: metadata)
        ).id
    }

    /// Stores one item and reports what the cap evicted.
    public func storeReporting(_ input: Input) async throws -> StoreReceipt {
        try await observed("store", tier: input.tier) {
            let (adapter, policy) = try resolve(input.tier)
            let now = Milliseconds.truncated(Date())
            let entry = try makeEntry(input, now: now, policy: policy)
            let evicted = try await perform { try await adapter.store(entry, policy: policy, now: now) }
            telemetry?.count("axon.memory.evictions", tier: input.tier, evicted.count)
            return StoreReceipt(id: entry.id, evicted: evicted)
    
        }
    }

    /// Stores every item and returns their ids in order. Every item is validated first (one bad item writes
    /// nothing); the stores then travel pipelined in order (`RedisAdapter`: a script per up to 8 consecutive entries
    /// of one tier, one round trip per about 256 entries; each script atomic), so a later entry of the batch may evict
    /// an earlier one under the session cap. If Redis fails
    /// any of them, the entries the batch wrote are forgotten again before the error is thrown (entries it replaced
    /// are not restored): a batch either completes or leaves nothing of itself.
    public func storeBatch(_ inputs: [Input]) async throws -> [String] {
        try await observed("storeBatch", tier: nil) {
            let now = Milliseconds.truncated(Date())
            let prepared = try inputs.map { input -> PreparedStore in
                let (adapter, policy) = try resolve(input.tier)
                return PreparedStore(adapter: adapter, policy: policy, entry: try makeEntry(input, now: now, policy: policy))
            }
            for (tier, ids) in try await storeAllOrUndo(prepared, now: now, operation: "storeBatch") {
                telemetry?.count("axon.memory.evictions", tier: tier, ids.count)
            }
            return prepared.map(\.entry.id)
        }
    }

    /// An entry ready to store, with where it goes.
    private struct PreparedStore {
        let adapter: any MemoryAdapter
        let policy: TierPolicy
        let entry: MemoryEntry
    }

    /// Stores `prepared` (already validated) through each adapter's `storeAll`, in order, and returns the ids the
    /// stores evicted, by tier. If any store fails, forgets the entries this call wrote, then throws a `storage` error
    /// saying which entry failed and whether the undo was complete (an error before anything was written is thrown
    /// as it is).
    private func storeAllOrUndo(_ prepared: [PreparedStore], now: Date, operation: String) async throws -> [MemoryTier: Set<String>] {
        var groups: [(adapter: any MemoryAdapter, items: [PreparedStore])] = []
        for item in prepared {
            if let index = groups.firstIndex(where: { $0.adapter as AnyObject === item.adapter as AnyObject }) {
                groups[index].items.append(item)
            } else {
                groups.append((item.adapter, [item]))
            }
        }
        var written: [PreparedStore] = []
        var evicted: [MemoryTier: Set<String>] = [:]
        var failure: (position: Int, error: MemoryError)?
        for group in groups {
            let results: [Result<[String], any Error>]
            do {
                results = try await group.adapter.storeAll(group.items.map(\.entry), policies: group.items.map(\.policy), now: now)
            } catch {
                if written.isEmpty { throw MemoryError.storage(error) }
                failure = failure ?? (written.count + 1, MemoryError.storage(error))
                break
            }
            for (item, result) in zip(group.items, results) {
                switch result {
                case .success(let ids):
                    written.append(item)
                    evicted[item.entry.tier, default: []].formUnion(ids)
                case .failure(let error):
                    if failure == nil { failure = (prepared.firstIndex { $0.entry.id == item.entry.id }.map { $0 + 1 } ?? 0, MemoryError.storage(error)) }
                }
            }
        }
        guard let (position, error) = failure else { return evicted }
        var undone = 0
        for item in written where (try? await item.adapter.forget(id: item.entry.id, tier: item.entry.tier, now: now)) != nil {
            undone += 1
        }
        let outcome = undone == written.count
            ? "the \(written.count) entries it had written were removed"
            : "\(written.count - undone) of the \(written.count) entries it had written may remain"
        throw MemoryError(.storage, "\(operation) failed at entry \(position) of \(prepared.count) (\(error.message)); \(outcome)",
                          redisError: error.redisError)
    }

    /// Entries matching `query` in `tier` (or every configured tier), filtered, ranked (see README: Recall),
    /// at most `limit`. Filters apply before the limit.
    public func recall(
        _ query: String, tier: MemoryTier? = nil, filter: MemoryFilter = .none, limit: Int = 10
    ) async throws -> [MemoryEntry] {
        try await recallReporting(query, tiers: tiers(tier), filter: filter, limit: limit).entries
    }

    /// `recall` over several tiers, ranked together (a tier named twice counts once).
    public func recall(_ query: String, tiers: [MemoryTier], filter: MemoryFilter = .none, limit: Int = 10) async throws -> [MemoryEntry] {
        try await recallReporting(query, tiers: tiers, filter: filter, limit: limit).entries
    }

    /// `recall`, also saying how many candidates were examined and whether the answer is exhaustive (every
    /// candidate fit the tiers' `recallBudget`).
    public func recallReporting(
        _ query: String, tiers: [MemoryTier], filter: MemoryFilter = .none, limit: Int = 10
    ) async throws -> RecallResult {
        try await observed("recall", tier: Set(tiers).count == 1 ? tiers.first : nil,
                                kind: telemetry.map { _ in MemoryTelemetry.kind(of: RecallQuery(text: query, filter: filter, limit: 1, budget: 1)) }) {
            guard limit > 0 else { throw MemoryError.invalidArgument("limit must be positive, got \(limit)") }
            let now = Date()
            var results: [RecallResult] = []
            var seen: Set<MemoryTier> = []
            for tier in tiers where seen.insert(tier).inserted {
                let (adapter, policy) = try resolve(tier)
                let request = RecallQuery(text: query, filter: filter, limit: limit, budget: policy.recallBudget)
                results.append(try await perform { try await adapter.recall(request, tier: tier, policy: policy, now: now) })
            }
            // One tier's answer is returned as it is (its entries are not copied).
            if results.count == 1 { return results[0] }
            var combined = RecallResult(entries: [], candidates: 0, examined: 0, isExhaustive: true)
            for result in results {
                combined.entries += result.entries
                combined.candidates += result.candidates
                combined.examined += result.examined
                combined.isExhaustive = combined.isExhaustive && result.isExhaustive
            }
            // Each tier returned its best `limit`; the same ranking merges them.
            combined.entries = Array(RecallRanking(words: SearchWords.query(query)).rank(combined.entries).prefix(limit))
            return combined
        }
    }

    /// The entry with `id` (searching `tier`, or every tier), recording the access; `nil` if absent or expired.
    public func get(_ id: String, tier: MemoryTier? = nil) async throws -> MemoryEntry? {
        try await observed("get", tier: tier) {
            for candidate in tiers(tier) {
                let (adapter, policy) = try resolve(candidate)
                if let entry = try await perform({ try await adapter.get(id: id, tier: candidate, policy: policy, now: Date()) }) {
                    return entry
                }
            }
            return nil
        }
    }

    /// Removes the entry with `id` (from `tier`, or every tier); `true` if something was removed.
    @discardableResult
    public func forget(_ id: String, tier: MemoryTier? = nil) async throws -> Bool {
        try await observed("forget", tier: tier) {
            var removed = false
            for candidate in tiers(tier) {
                let (adapter, _) = try resolve(candidate)
                if try await perform({ try await adapter.forget(id: id, tier: candidate, now: Date()) }) { removed = true }
            }
            return removed
    
        }
    }

    /// The number of live entries in `tier`.
    public func count(tier: MemoryTier) async throws -> Int {
        try await observed("count", tier: tier) {
            let (adapter, _) = try resolve(tier)
            return try await perform { try await adapter.count(tier: tier, now: Date()) }
    
        }
    }

    /// Removes every entry of `tier` (this namespace only); returns how many were live.
    @discardableResult
    public func clear(tier: MemoryTier) async throws -> Int {
        try await observed("clear", tier: tier) {
            let (adapter, _) = try resolve(tier)
            return try await perform { try await adapter.clear(tier: tier, now: Date()) }
    
        }
    }

    /// Every live entry of `tier` (or all tiers) as JSON Lines, one `MemoryEntry` per line, oldest first (by
    /// id). Read in pages (bounded work per Redis call); an entry stored or removed meanwhile may be missing.
    public func export(tier: MemoryTier? = nil) async throws -> String {
        try await observed("export", tier: tier) {
            let now = Date()
            var lines: [String] = []
            for candidate in tiers(tier) {
                let (adapter, _) = try resolve(candidate)
                var byID: [String: MemoryEntry] = [:]
                var cursor: String?
                repeat {
                    let page = try await perform { [cursor] in try await adapter.page(tier: candidate, cursor: cursor, now: now) }
                    for entry in page.entries where !entry.isExpired(at: now) { byID[entry.id] = entry }
                    cursor = page.next
                } while cursor != nil
                for entry in byID.values.sorted(by: { RecallRanking.idBefore($0.id, $1.id) }) {
                    lines.append(String(decoding: try MemoryEntryJSON.encoder.encode(entry), as: UTF8.self))
                }
            }
            return lines.map { $0 + "\n" }.joined()
    
        }
    }

    /// Index maintenance for `tier`: removes expired entries with their index members, and index members
    /// whose entry is gone, in bounded steps (one Redis call each) until a full pass is done. Writes already
    /// prune what expired (up to 16 entries per write), so a tier that is written to needs no sweep; call it
    /// periodically (for instance every few minutes) for tiers that are mostly read, or after a mass expiry.
    @discardableResult
    public func sweep(tier: MemoryTier) async throws -> SweepReport {
        try await observed("sweep", tier: tier) {
            let (adapter, _) = try resolve(tier)
            let now = Date()
            var report = SweepReport()
            var cursor: String?
            repeat {
                let step = try await perform { [cursor] in try await adapter.sweep(tier: tier, cursor: cursor, now: now) }
                report.expiredEntries += step.expiredEntries
                report.strayMembers += step.strayMembers
                report.steps += 1
                cursor = step.next
            } while cursor != nil
            telemetry?.count("axon.memory.sweeps", tier: tier, 1)
            telemetry?.count("axon.memory.index.pruned", tier: tier, report.expiredEntries + report.strayMembers)
            return report
    
        }
    }

    /// Rebuilds `tier`'s indexes from its entries, in bounded steps (one Redis call each, walking the tier's entry
    /// keys with SCAN) until a full pass: every live entry is put back into each index it belongs to, and expired
    /// ones are removed. Needed only after a server with an evicting `maxmemory-policy` (see `EvictionRule`)
    /// evicted index keys; follow it with `sweep(tier:)` to drop members of entries that were evicted.
    @discardableResult
    public func rebuildIndexes(tier: MemoryTier) async throws -> RebuildStep {
        try await observed("rebuild", tier: tier) {
            let (adapter, _) = try resolve(tier)
            let now = Date()
            var total = RebuildStep(restoredEntries: 0, droppedEntries: 0, next: nil)
            var cursor: String?
            repeat {
                let step = try await perform { [cursor] in try await adapter.rebuildIndexes(tier: tier, cursor: cursor, now: now) }
                total.restoredEntries += step.restoredEntries
                total.droppedEntries += step.droppedEntries
                cursor = step.next
            } while cursor != nil
            return total
    
        }
    }

    /// The server behind the Redis tiers (version, role, memory, eviction policy, slowest recent commands) and
    /// each tier's live entries and index sizes: what a `/health` endpoint or an operator needs.
    public func diagnostics() async throws -> MemoryDiagnostics {
        try await observed("diagnostics", tier: nil) {
            let now = Date()
            var tiers: [TierDiagnostics] = []
            var server: ServerDiagnostics?
            for tier in MemoryTier.allCases {
                guard let adapter = adapters[tier] else { continue }
                tiers.append(try await perform { try await adapter.diagnostics(tier: tier, now: now) })
                if server == nil, let redis = adapter as? RedisAdapter {
                    server = try await perform { try await redis.serverDiagnostics() }
                }
            }
            return MemoryDiagnostics(server: server, tiers: tiers)
        }
    }

    /// What `sweep` removed.
    public struct SweepReport: Sendable, Hashable {
        /// Expired entries removed with their index members.
        public var expiredEntries = 0
        /// Index members removed because their entry was gone or expired.
        public var strayMembers = 0
        /// Bounded steps (Redis calls) taken.
        public var steps = 0
    }

    /// Stores the entries of a JSON Lines export, keeping every field, ids included, and returns how many of them
    /// the tiers kept.
    ///
    /// Lines are split on `\n` (a `\r` before it is dropped), so text with other Unicode line separators
    /// imports as it exported; blank lines are skipped; a malformed line is an `invalidArgument` naming its
    /// physical line number, and nothing is written. Entries already expired are skipped; an entry's remaining
    /// TTL is cut to its tier's TTL; an id that appears twice is stored once (the later line wins). The tier's cap
    /// applies as for `store`, so the count returned leaves out entries the cap evicted. The stores travel pipelined
    /// as in `storeBatch`. If a write fails, the
    /// entries this import wrote are forgotten again before the error is thrown (entries it replaced are not
    /// restored), so an import either completes or leaves nothing of itself.
    @discardableResult
    public func `import`(_ jsonLines: String) async throws -> Int {
        try await observed("import", tier: nil) {
            let now = Milliseconds.truncated(Date())
            var entries: [String: (position: Int, entry: MemoryEntry)] = [:]
            var lineNumber = 0
            for rawLine in Array(jsonLines.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                lineNumber += 1
                let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
                guard line.contains(where: { ![UInt8(ascii: " "), UInt8(ascii: "\t")].contains($0) }) else { continue }
                var entry: MemoryEntry
                do {
                    entry = try MemoryEntryJSON.decoder.decode(MemoryEntry.self, from: Data(line))
                } catch {
                    throw MemoryError.invalidArgument("import line \(lineNumber) is not a MemoryEntry: \(error)")
                }
                let (_, policy) = try resolve(entry.tier)
                if entry.isExpired(at: now) { continue }
                entry.expiresAt = min(entry.expiresAt, Milliseconds.date(min(Milliseconds.of(now) + policy.ttlMilliseconds, Milliseconds.limit)))
                do {
                    try entry.validate(now: now)
                } catch let error as MemoryError {
                    throw MemoryError.invalidArgument("import line \(lineNumber): \(error.message)")
                }
                entries[entry.id] = (entries[entry.id]?.position ?? lineNumber, entry)
            }
            let prepared = try entries.values.sorted(by: { $0.position < $1.position }).map { _, entry in
                let (adapter, policy) = try resolve(entry.tier)
                return PreparedStore(adapter: adapter, policy: policy, entry: entry)
            }
            let evicted = try await storeAllOrUndo(prepared, now: now, operation: "import").values.reduce(into: Set<String>()) { $0.formUnion($1) }
            return prepared.filter { !evicted.contains($0.entry.id) }.count
    
        }
    }

    /// Closes the adapters (their connections).
    public func close() async {
        var closed: [ObjectIdentifier] = []
        for adapter in adapters.values {
            let identity = ObjectIdentifier(adapter as AnyObject)
            guard !closed.contains(identity) else { continue }
            closed.append(identity)
            await adapter.close()
        }
    }

    // MARK: Helpers

    /// `tier` alone, or every configured tier when `nil`.
    private func tiers(_ tier: MemoryTier?) -> [MemoryTier] {
        tier.map { [$0] } ?? MemoryTier.allCases.filter { adapters[$0] != nil }
    }

    private func resolve(_ tier: MemoryTier) throws(MemoryError) -> (any MemoryAdapter, TierPolicy) {
        guard let adapter = adapters[tier], let policy = policies[tier] else {
            throw MemoryError(.tierNotConfigured, "the \(tier) tier is not configured in this MemorySystem's MemoryConfig")
        }
        return (adapter, policy)
    }

    private func makeEntry(_ input: Input, now: Date, policy: TierPolicy) throws(MemoryError) -> MemoryEntry {
        try MemoryEntry.validate(text: input.text, importance: input.importance, tags: input.tags)
        var tags: [String] = []
        for tag in input.tags where !tags.contains(tag) { tags.append(tag) }
        let id = idGenerator.withLock { $0.next(now: now) }
        return MemoryEntry(
            id: id, text: input.text, tier: input.tier, importance: input.importance, tags: tags, createdAt: now,
            expiresAt: Milliseconds.date(Milliseconds.of(now) + policy.ttlMilliseconds), lastAccessedAt: now,
            userID: input.userID, sessionID: input.sessionID, metadata: input.metadata, value: input.value)
    }


    /// Runs `body` timed and traced when telemetry is on.
    private func observed<T>(_ operation: String, tier: MemoryTier?, kind: String? = nil, _ body: () async throws -> T) async throws -> T {
        guard let telemetry else { return try await body() }
        return try await telemetry.observe(operation, tier: tier, kind: kind, body)
    }

    /// Runs an adapter call, turning store failures into `MemoryError.storage` (cancellation passes through).
    private func perform<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw MemoryError.storage(error)
        }
    }
}

/// JSON Lines coding of entries: dates as integer milliseconds since 1970 (exact), keys sorted.
package enum MemoryEntryJSON {
    package static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Milliseconds.of(date))
        }
        return encoder
    }

    package static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            Milliseconds.date(try decoder.singleValueContainer().decode(Int64.self))
        }
        return decoder
    }
}

/// Time-ordered ids: 12 hex digits of milliseconds, 4 of a per-process counter, 16 random. Ids of one
/// process sort in creation order, which the cap uses to evict the oldest among equally important entries.
struct EntryIDGenerator {
    private var lastMilliseconds: Int64 = 0
    private var counter: UInt16 = 0

    mutating func next(now: Date) -> String {
        let ms = max(Milliseconds.of(now), lastMilliseconds)
        if ms == lastMilliseconds { counter &+= 1 } else { counter = 0 }
        lastMilliseconds = ms
        let random = UInt64.random(in: 0...UInt64.max)
        return hex(UInt64(ms), digits: 12) + hex(UInt64(counter), digits: 4) + hex(random, digits: 16)
    }

    private func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    static func isValid(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    }
}
