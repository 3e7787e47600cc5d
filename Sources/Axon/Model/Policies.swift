/// Where a tier's entries live.
public enum AdapterKind: String, Sendable, Hashable {
    /// Redis, through `RedisAdapter` (shared between processes).
    case redis
    /// This process only, through `InMemoryAdapter` (same behaviour, for tests and single-process use).
    case memory
}

/// How a tier behaves: its TTL, its cap, whether reads extend the TTL, and what recall may cost. Built by the
/// policies below.
public struct TierPolicy: Sendable, Hashable {
    /// How long an entry lives after it is stored.
    public var ttl: Duration
    /// The most live entries the tier keeps; storing more evicts the lowest importance, oldest first. `nil`: no cap.
    public var maxEntries: Int?
    /// Whether `get` moves the expiry to now + `ttl` (only ever later).
    public var refreshOnRead: Bool
    /// The most candidates one recall examines in this tier (see README: Recall). Recall is exact when the
    /// index it reads holds at most this many members; otherwise it examines this many of the newest.
    public var recallBudget: Int
    /// Whether the tier keeps a word index for text recall. Without it, text recall examines the newest
    /// `recallBudget` entries of the tier (or of a tag, user or session filter) and is exact only up to that size.
    public var indexesWords: Bool

    /// The default `recallBudget`.
    public static let defaultRecallBudget = 250

    /// A policy; adapters check it on every call (`validate()`), the public policies when they are made.
    public init(
        ttl: Duration, maxEntries: Int? = nil, refreshOnRead: Bool = false, recallBudget: Int = TierPolicy.defaultRecallBudget,
        indexesWords: Bool = true
    ) {
        self.ttl = ttl
        self.maxEntries = maxEntries
        self.refreshOnRead = refreshOnRead
        self.recallBudget = recallBudget
        self.indexesWords = indexesWords
    }

    /// Checks what an adapter relies on: TTL 1 ms to 366 days, `maxEntries` `nil` (no cap) or 1 to
    /// 1,000,000,000, `recallBudget` 1 to 100,000. Out of range is `invalidConfiguration`.
    public func validate() throws(MemoryError) {
        _ = try ValueRanges.milliseconds(ttl, "a tier TTL", code: .invalidConfiguration)
        if let maxEntries {
            _ = try ValueRanges.count(maxEntries, "maxEntries (nil for no cap)", in: 1...ValueRanges.largestCount)
        }
        try validateRecallBudget(recallBudget)
    }

    /// The TTL in whole milliseconds, clamped to `0...Milliseconds.limit` (never traps).
    var ttlMilliseconds: Int64 {
        let (seconds, attoseconds) = ttl.components
        guard seconds >= 0 else { return 0 }
        guard seconds < Milliseconds.limit / 1000 else { return Milliseconds.limit }
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// The ephemeral tier: a short-lived cache. TTL 5 s to 1 h (default 60 s); no cap; reads do not extend.
public struct EphemeralPolicy: Sendable, Hashable {
    /// Where entries live.
    public var adapter: AdapterKind
    /// Entry lifetime.
    public var ttl: Duration
    /// The most candidates one recall examines (`TierPolicy.recallBudget`).
    public var recallBudget: Int
    /// Whether text recall has a word index (`TierPolicy.indexesWords`).
    public var indexesWords: Bool

    /// Validates the TTL range (5 s to 1 h) and the recall budget (1 to 100,000); out of range is
    /// `invalidConfiguration`.
    public init(
        adapter: AdapterKind = .redis, ttl: Duration = .seconds(60), recallBudget: Int = TierPolicy.defaultRecallBudget,
        indexesWords: Bool = true
    ) throws(MemoryError) {
        guard ttl >= .seconds(5) && ttl <= .seconds(3600) else {
            throw .invalidConfiguration("ephemeral TTL must be 5 s to 1 h, got \(ttl); use the session tier for longer")
        }
        try validateRecallBudget(recallBudget)
        self.adapter = adapter
        self.ttl = ttl
        self.recallBudget = recallBudget
        self.indexesWords = indexesWords
    }

    /// The tier policy the adapter applies.
    public var tierPolicy: TierPolicy { TierPolicy(ttl: ttl, recallBudget: recallBudget, indexesWords: indexesWords) }
}

private func validateRecallBudget(_ budget: Int) throws(MemoryError) {
    guard (1...100_000).contains(budget) else {
        throw .invalidConfiguration("recallBudget must be 1 to 100,000 candidates, got \(budget)")
    }
}

/// The session tier: user sessions. TTL 60 s to 366 days (default 600 s), at most `maxEntries` (default 1,000,
/// 10 to 1,000,000,000) live entries, and reads refresh the TTL unless `refreshOnRead` is false.
public struct SessionPolicy: Sendable, Hashable {
    /// Where entries live.
    public var adapter: AdapterKind
    /// Entry lifetime.
    public var ttl: Duration
    /// Cap on live entries; over it, the lowest importance (oldest first) is evicted.
    public var maxEntries: Int
    /// Whether `get` extends an entry's TTL.
    public var refreshOnRead: Bool
    /// The most candidates one recall examines (`TierPolicy.recallBudget`).
    public var recallBudget: Int
    /// Whether text recall has a word index (`TierPolicy.indexesWords`).
    public var indexesWords: Bool

    /// Validates every range (TTL 60 s to 366 days, maxEntries 10 to 1,000,000,000, recall budget 1 to 100,000);
    /// out of range is `invalidConfiguration`.
    public init(
        adapter: AdapterKind = .redis, ttl: Duration = .seconds(600), maxEntries: Int = 1000, refreshOnRead: Bool = true,
        recallBudget: Int = TierPolicy.defaultRecallBudget, indexesWords: Bool = true
    ) throws(MemoryError) {
        _ = try ValueRanges.milliseconds(ttl, "session TTL", in: .seconds(60)...ValueRanges.longestDuration, code: .invalidConfiguration)
        _ = try ValueRanges.count(maxEntries, "session maxEntries", in: 10...ValueRanges.largestCount)
        try validateRecallBudget(recallBudget)
        self.adapter = adapter
        self.ttl = ttl
        self.maxEntries = maxEntries
        self.refreshOnRead = refreshOnRead
        self.recallBudget = recallBudget
        self.indexesWords = indexesWords
    }

    /// The tier policy the adapter applies.
    public var tierPolicy: TierPolicy {
        TierPolicy(ttl: ttl, maxEntries: maxEntries, refreshOnRead: refreshOnRead, recallBudget: recallBudget, indexesWords: indexesWords)
    }
}

/// Which tiers a `MemorySystem` has and how each behaves. A tier left `nil` is not available; `MemoryConfig()`
/// configures none (a `MemorySystem` refuses it): pass policies, or use `MemoryConfig.defaults()` for both tiers.
public struct MemoryConfig: Sendable, Hashable {
    /// The ephemeral tier's policy.
    public var ephemeral: EphemeralPolicy?
    /// The session tier's policy.
    public var session: SessionPolicy?

    /// The tiers given (none by default; `defaults(adapter:)` has both).
    public init(ephemeral: EphemeralPolicy? = nil, session: SessionPolicy? = nil) {
        self.ephemeral = ephemeral
        self.session = session
    }

    /// Both tiers with their defaults, on `adapter`.
    public static func defaults(adapter: AdapterKind = .redis) throws(MemoryError) -> MemoryConfig {
        MemoryConfig(ephemeral: try EphemeralPolicy(adapter: adapter), session: try SessionPolicy(adapter: adapter))
    }

    func policy(for tier: MemoryTier) -> (AdapterKind, TierPolicy)? {
        switch tier {
        case .ephemeral: return ephemeral.map { ($0.adapter, $0.tierPolicy) }
        case .session: return session.map { ($0.adapter, $0.tierPolicy) }
        }
    }
}
