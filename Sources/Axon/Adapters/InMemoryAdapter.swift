import Foundation
import HeapModule
import Synchronization

/// The memory tiers in this process, with the same behaviour as `RedisAdapter`: TTL expiry, the session cap
/// (lowest importance, oldest first), tags, access tracking, refresh-on-read, and recall with the same
/// indexes, budget and ranking (`RecallPlan`, `RecallRanking`).
///
/// Adapters created with the same `InMemoryStore` and namespace share entries (as two Redis clients with the
/// same namespace do); different namespaces never see each other.
public final class InMemoryAdapter: MemoryAdapter {
    /// The namespace this adapter's entries belong to.
    public let namespace: String
    private let store: InMemoryStore

    /// An adapter over `store` (default: one store for the whole process).
    public init(namespace: String = "default", store: InMemoryStore = .shared) {
        self.namespace = namespace
        self.store = store
    }

    public func store(_ entry: MemoryEntry, policy: TierPolicy, now: Date) async throws -> [String] {
        try policy.validate()
        try entry.validate(now: now)
        let entry = entry.normalized
        return store.withTier(namespace, entry.tier) { tier in
            tier.prune(now: now)
            tier.insert(entry, indexesWords: policy.indexesWords)
            var evicted: [String] = []
            if let cap = policy.maxEntries {
                while tier.entries.count > cap, let victim = tier.lowestPriority() {
                    tier.remove(victim)
                    evicted.append(victim)
                }
            }
            return evicted
        }
    }

    public func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry? {
        try policy.validate()
        return store.withTier(namespace, tier) { tier in
            tier.prune(now: now)
            guard var stored = tier.entries[id] else { return nil }
            stored.entry.accessCount += 1
            stored.entry.lastAccessedAt = Milliseconds.truncated(now)
            if policy.refreshOnRead {
                let target = Milliseconds.date(min(Milliseconds.of(now) + policy.ttlMilliseconds, Milliseconds.limit))
                if target > stored.entry.expiresAt {
                    stored.entry.expiresAt = target
                    tier.expiries.insert(InMemoryTier.Expiry(at: target, id: id))
                }
            }
            tier.entries[id] = stored
            return stored.entry
        }
    }

    public func forget(id: String, tier: MemoryTier, now: Date) async throws -> Bool {
        store.withTier(namespace, tier) { tier in
            tier.prune(now: now)
            guard tier.entries[id] != nil else { return false }
            tier.remove(id)
            return true
        }
    }

    public func recall(_ query: RecallQuery, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> RecallResult {
        try policy.validate()
        try query.validate()
        return store.withTier(namespace, tier) { tier in
            tier.prune(now: now)
            let options = RecallPlan.options(for: query, indexesWords: policy.indexesWords)
            let (sources, total) = RecallPlan.choose(options) { tier.index[$0]?.count ?? 0 }
            let ids = RecallPlan.candidates(sources.map { Array(tier.index[$0] ?? []) }, total: total, budget: query.budget)
            let ranking = RecallRanking(words: query.words)
            var matches: [(MemoryEntry, Int)] = []
            for id in ids {
                guard let stored = tier.entries[id], query.filter.matches(stored.entry),
                      let relevance = ranking.relevance(stored.profile) else { continue }
                matches.append((stored.entry, relevance))
            }
            matches.sort { ranking.ranksBefore($0.0, $0.1, $1.0, $1.1) }
            return RecallResult(
                entries: matches.prefix(query.limit).map(\.0), candidates: total, examined: ids.count, isExhaustive: total <= query.budget)
        }
    }

    public func page(tier: MemoryTier, cursor: String?, now: Date) async throws -> MemoryPage {
        store.withTier(namespace, tier) { tier in
            tier.prune(now: now)
            return MemoryPage(entries: tier.entries.values.map(\.entry), next: nil)
        }
    }

    public func count(tier: MemoryTier, now: Date) async throws -> Int {
        store.withTier(namespace, tier) { tier in
            tier.prune(now: now)
            return tier.entries.count
        }
    }

    public func clear(tier: MemoryTier, now: Date) async throws -> Int {
        store.withTier(namespace, tier) { tier in
            tier.prune(now: now)
            let live = tier.entries.count
            tier = InMemoryTier()
            return live
        }
    }

    public func sweep(tier: MemoryTier, cursor: String?, now: Date) async throws -> SweepStep {
        store.withTier(namespace, tier) { tier in
            SweepStep(expiredEntries: tier.prune(now: now), strayMembers: 0, next: nil)
        }
    }

    public func close() async {}

    /// Live entries, and the members of every index set (`all` plus tags, users, sessions and words together).
    public func diagnostics(tier: MemoryTier, now: Date) async throws -> TierDiagnostics {
        store.withTier(namespace, tier) { state in
            state.prune(now: now)
            let members = state.index.values.reduce(0) { $0 + $1.count }
            return TierDiagnostics(tier: tier, adapter: .memory, liveEntries: state.entries.count, indexMembers: ["sets": members])
        }
    }

    /// The index sets of `tier` and the ids of its stored entries (expired ones included until pruned), for
    /// tests of the index invariants.
    package func indexSnapshot(tier: MemoryTier) -> (index: [RecallPlan.Source: Set<String>], entries: [String: MemoryEntry]) {
        store.withTier(namespace, tier) { tier in (tier.index, tier.entries.mapValues(\.entry)) }
    }
}

/// One tier of one namespace in process: entries, their index sets (`RecallPlan.Source`), and a heap of
/// expiry times so that expired entries are removed without a scan.
struct InMemoryTier {
    struct Stored {
        var entry: MemoryEntry
        let profile: RecallRanking.Profile
        let sources: [RecallPlan.Source]
    }

    /// An entry's expiry as it was when pushed; stale marks (the entry was refreshed or removed) are skipped.
    struct Expiry: Comparable {
        let at: Date
        let id: String

        static func < (lhs: Expiry, rhs: Expiry) -> Bool { (lhs.at, lhs.id) < (rhs.at, rhs.id) }
    }

    var entries: [String: Stored] = [:]
    var index: [RecallPlan.Source: Set<String>] = [:]
    var expiries = Heap<Expiry>()

    var isEmpty: Bool { entries.isEmpty }

    /// Removes every entry expired at `now`; returns how many.
    @discardableResult
    mutating func prune(now: Date) -> Int {
        var removed = 0
        while let next = expiries.min, next.at <= now {
            expiries.removeMin()
            if let stored = entries[next.id], stored.entry.expiresAt == next.at {
                remove(next.id)
                removed += 1
            }
        }
        return removed
    }

    mutating func insert(_ entry: MemoryEntry, indexesWords: Bool) {
        if entries[entry.id] != nil { remove(entry.id) }
        let profile = RecallRanking.Profile(entry)
        let sources = RecallPlan.sources(of: entry, profile: profile, indexesWords: indexesWords)
        entries[entry.id] = Stored(entry: entry, profile: profile, sources: sources)
        for source in sources { index[source, default: []].insert(entry.id) }
        expiries.insert(Expiry(at: entry.expiresAt, id: entry.id))
    }

    mutating func remove(_ id: String) {
        guard let stored = entries.removeValue(forKey: id) else { return }
        for source in stored.sources {
            index[source]?.remove(id)
            if index[source]?.isEmpty == true { index[source] = nil }
        }
    }

    /// The entry the cap evicts first: lowest importance, then the smallest id (the oldest).
    func lowestPriority() -> String? {
        entries.values.min { lhs, rhs in
            if lhs.entry.importance != rhs.entry.importance { return lhs.entry.importance < rhs.entry.importance }
            return RecallRanking.idBefore(lhs.entry.id, rhs.entry.id)
        }?.entry.id
    }
}

/// Entries of every namespace and tier held by `InMemoryAdapter`s, behind one lock.
public final class InMemoryStore: Sendable {
    private struct Key: Hashable {
        let namespace: String
        let tier: MemoryTier
    }

    private let tiers = Mutex<[Key: InMemoryTier]>([:])

    /// An empty store.
    public init() {}

    /// The store `InMemoryAdapter` uses unless given another.
    public static let shared = InMemoryStore()

    func withTier<R>(_ namespace: String, _ tier: MemoryTier, _ body: (inout InMemoryTier) -> R) -> R {
        tiers.withLock { tiers in
            let key = Key(namespace: TextNormalization.nfc(namespace), tier: tier)
            var state = tiers.removeValue(forKey: key) ?? InMemoryTier()
            defer { if !state.isEmpty { tiers[key] = state } }
            return body(&state)
        }
    }
}
