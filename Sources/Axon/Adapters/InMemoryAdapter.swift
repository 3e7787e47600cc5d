import Foundation
import Synchronization

/// The memory tiers in this process, with the same behaviour as `RedisAdapter`: TTL expiry, the session cap
/// (lowest importance, oldest first), tags, access tracking and refresh-on-read.
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
        store.withTier(namespace, entry.tier) { entries in
            entries = entries.filter { !$0.value.isExpired(at: now) }
            entries[entry.id] = entry
            var evicted: [String] = []
            if let cap = policy.maxEntries {
                while entries.count > cap {
                    // Lowest importance first; among equals the smallest id, which is the oldest.
                    guard let victim = entries.values.min(by: { ($0.importance, $0.id) < ($1.importance, $1.id) }) else { break }
                    entries.removeValue(forKey: victim.id)
                    evicted.append(victim.id)
                }
            }
            return evicted
        }
    }

    public func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry? {
        store.withTier(namespace, tier) { entries in
            guard var entry = entries[id], !entry.isExpired(at: now) else {
                entries.removeValue(forKey: id)
                return nil
            }
            entry.accessCount += 1
            entry.lastAccessedAt = Milliseconds.truncated(now)
            if policy.refreshOnRead {
                let target = Milliseconds.date(Milliseconds.of(now) + policy.ttlMilliseconds)
                if target > entry.expiresAt { entry.expiresAt = target }
            }
            entries[id] = entry
            return entry
        }
    }

    public func forget(id: String, tier: MemoryTier) async throws -> Bool {
        store.withTier(namespace, tier) { entries in entries.removeValue(forKey: id) != nil }
    }

    public func entries(tier: MemoryTier, allTags: [String], anyTags: [String], words: [String], now: Date) async throws -> [MemoryEntry] {
        store.withTier(namespace, tier) { entries in
            entries = entries.filter { !$0.value.isExpired(at: now) }
            return entries.values.filter { entry in
                allTags.allSatisfy(entry.tags.contains) && (anyTags.isEmpty || anyTags.contains(where: entry.tags.contains))
                    && (words.isEmpty || words.contains(where: SearchText.of(entry).contains))
            }
        }
    }

    public func count(tier: MemoryTier, now: Date) async throws -> Int {
        store.withTier(namespace, tier) { entries in
            entries = entries.filter { !$0.value.isExpired(at: now) }
            return entries.count
        }
    }

    public func clear(tier: MemoryTier, now: Date) async throws -> Int {
        store.withTier(namespace, tier) { entries in
            let live = entries.values.filter { !$0.isExpired(at: now) }.count
            entries.removeAll()
            return live
        }
    }

    public func close() async {}
}

/// Entries of every namespace and tier held by `InMemoryAdapter`s, behind one lock.
public final class InMemoryStore: Sendable {
    private struct Key: Hashable {
        let namespace: String
        let tier: MemoryTier
    }

    private let tiers = Mutex<[Key: [String: MemoryEntry]]>([:])

    /// An empty store.
    public init() {}

    /// The store `InMemoryAdapter` uses unless given another.
    public static let shared = InMemoryStore()

    func withTier<R>(_ namespace: String, _ tier: MemoryTier, _ body: (inout [String: MemoryEntry]) -> R) -> R {
        tiers.withLock { tiers in
            let key = Key(namespace: namespace, tier: tier)
            var entries = tiers.removeValue(forKey: key) ?? [:]
            defer { if !entries.isEmpty { tiers[key] = entries } }
            return body(&entries)
        }
    }
}
