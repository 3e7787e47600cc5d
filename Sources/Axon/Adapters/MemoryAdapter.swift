import Foundation

/// Where a tier's entries live. `RedisAdapter` and `InMemoryAdapter` implement it with the same observable
/// behaviour (one conformance suite tests both); implement it to put a tier somewhere else.
///
/// Every method takes `now` so that expiry is judged by one clock per call. Entries are scoped to the
/// adapter's namespace; a tier's entries never mix with another tier's.
public protocol MemoryAdapter: Sendable {
    /// Stores `entry` (replacing one with the same id), applies `policy.maxEntries` by evicting the lowest
    /// importance, oldest first, and returns the evicted ids.
    func store(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> [String]
    /// Stores each of `entries` as `store` does (each atomically, in order; `policies[i]` is the policy of
    /// `entries[i]`'s tier) and returns, per entry, the ids its store evicted or the error it failed with. Adapters
    /// may send them together: `RedisAdapter` pipelines them, `RedisAdapter.batchPipelineSize` per round trip.
    func storeAll(_ entries: [MemoryEntry], policies: [TierPolicy], now: Date) async throws -> [Result<[String], any Error>]
    /// The live entry, recording the access (count and time) and, with `policy.refreshOnRead`, moving its
    /// expiry to `now + ttl` when that is later.
    func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry?
    /// Removes the entry; `true` if it was live.
    func forget(id: String, tier: MemoryTier, now: Date) async throws -> Bool
    /// The best live matches of `query` in `tier`, ranked (`RecallRanking`) and cut to `query.limit`, examining
    /// candidates as `RecallPlan` says (at most `query.budget`).
    func recall(_ query: RecallQuery, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RecallResult
    /// One page of live entries of `tier` in no particular order, from `cursor` (`nil`: the start). Entries
    /// live for the whole walk appear at least once; the page's `next` is `nil` at the end.
    func page(tier: MemoryTier, cursor: String?, now: Date) async throws -> MemoryPage
    /// The number of live entries in `tier`.
    func count(tier: MemoryTier, now: Date) async throws -> Int
    /// Removes every entry of `tier` in this namespace, with its indexes; returns how many were live.
    func clear(tier: MemoryTier, now: Date) async throws -> Int
    /// One bounded step of index maintenance (see `MemorySystem.sweep`), from `cursor` (`nil`: a new pass).
    func sweep(tier: MemoryTier, cursor: String?, now: Date) async throws -> SweepStep
    /// One bounded step of rebuilding `tier`'s indexes from its entries (see `MemorySystem.rebuildIndexes`), from
    /// `cursor` (`nil`: a new pass). Adapters whose indexes cannot diverge from their entries return at once.
    func rebuildIndexes(tier: MemoryTier, cursor: String?, now: Date) async throws -> RebuildStep
    /// The tier's live entries and index sizes (`MemorySystem.diagnostics()`).
    func diagnostics(tier: MemoryTier, now: Date) async throws -> TierDiagnostics
    /// Releases connections; later calls fail.
    func close() async
}

extension MemoryAdapter {
    /// One `store` after the other.
    public func storeAll(_ entries: [MemoryEntry], policies: [TierPolicy], now: Date) async throws -> [Result<[String], any Error>] {
        guard entries.count == policies.count else {
            throw MemoryError.invalidArgument("storeAll got \(entries.count) entries and \(policies.count) policies")
        }
        var results: [Result<[String], any Error>] = []
        results.reserveCapacity(entries.count)
        for (entry, policy) in zip(entries, policies) {
            do {
                results.append(.success(try await store(entry, policy: policy, now: now)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// The tier's live entries and index sizes; adapters without indexes report the count alone.
    public func diagnostics(tier: MemoryTier, now: Date) async throws -> TierDiagnostics {
        TierDiagnostics(tier: tier, adapter: .memory, liveEntries: try await count(tier: tier, now: now), indexMembers: [:])
    }

    /// Indexes that cannot diverge from their entries need no rebuild.
    public func rebuildIndexes(tier: MemoryTier, cursor: String?, now: Date) async throws -> RebuildStep {
        RebuildStep(restoredEntries: 0, droppedEntries: 0, next: nil)
    }
}

/// What one step of an index rebuild did.
public struct RebuildStep: Sendable, Hashable {
    /// Live entries put back in every index they belong to.
    public var restoredEntries: Int
    /// Entries found expired, or without their body (evicted), and removed.
    public var droppedEntries: Int
    /// Where the next step continues; `nil` when the pass is complete.
    public var next: String?

    /// A step.
    public init(restoredEntries: Int, droppedEntries: Int, next: String?) {
        self.restoredEntries = restoredEntries
        self.droppedEntries = droppedEntries
        self.next = next
    }
}

/// A page of entries from `MemoryAdapter.page`.
public struct MemoryPage: Sendable, Hashable {
    /// Live entries.
    public var entries: [MemoryEntry]
    /// Where the next page starts; `nil` when this was the last.
    public var next: String?

    /// A page.
    public init(entries: [MemoryEntry], next: String?) {
        self.entries = entries
        self.next = next
    }
}

/// What one step of index maintenance did.
public struct SweepStep: Sendable, Hashable {
    /// Expired entries removed with their index members.
    public var expiredEntries: Int
    /// Index members removed because their entry was gone or expired.
    public var strayMembers: Int
    /// Where the next step continues; `nil` when the pass is complete.
    public var next: String?

    /// A step.
    public init(expiredEntries: Int, strayMembers: Int, next: String?) {
        self.expiredEntries = expiredEntries
        self.strayMembers = strayMembers
        self.next = next
    }
}
