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
    /// The live entry, recording the access (count and time) and, with `policy.refreshOnRead`, moving its
    /// expiry to `now + ttl` when that is later.
    func get(id: String, tier: MemoryTier, policy: TierPolicy, now: Date) async throws -> MemoryEntry?
    /// Removes the entry; `true` if it was there.
    func forget(id: String, tier: MemoryTier) async throws -> Bool
    /// Live entries of `tier` that have every tag of `allTags` and, when `anyTags` is not empty, one of those.
    /// With tags, only the tag indexes' candidates are read; without, the tier's index. When `words` is not
    /// empty, entries whose lowercased text and tags contain none of them as a substring may be left out
    /// (a prefilter: returning more is allowed, leaving out a match is not).
    func entries(tier: MemoryTier, allTags: [String], anyTags: [String], words: [String], now: Date) async throws -> [MemoryEntry]
    /// The number of live entries in `tier`.
    func count(tier: MemoryTier, now: Date) async throws -> Int
    /// Removes every entry of `tier` in this namespace; returns how many were live.
    func clear(tier: MemoryTier, now: Date) async throws -> Int
    /// Releases connections; later calls fail.
    func close() async
}
