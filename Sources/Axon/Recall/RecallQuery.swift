import Foundation

/// One tier's share of a `recall`: what an adapter is asked for. `MemorySystem` builds it (words and filter
/// NFC-normalised); adapters rank and cut to `limit` themselves, so at most `limit` entries leave the store.
public struct RecallQuery: Sendable, Hashable {
    /// The query's words in order (see `SearchWords`): lowercase, NFC, at most 32. Empty: list entries.
    public var words: [String]
    /// Conditions every returned entry meets (normalised).
    public var filter: MemoryFilter
    /// The most entries to return.
    public var limit: Int
    /// The most candidates examined (see `TierPolicy.recallBudget`); never less than `limit`.
    public var budget: Int

    /// A query; `words` and `filter` should already be normalised (`init(text:filter:limit:budget:)` does it).
    public init(words: [String], filter: MemoryFilter, limit: Int, budget: Int) {
        self.words = words
        self.filter = filter
        self.limit = limit
        self.budget = max(budget, limit)
    }

    /// The query for `text`: its words and the normalised filter.
    public init(text: String, filter: MemoryFilter, limit: Int, budget: Int) {
        self.init(words: SearchWords.query(text), filter: filter.normalized, limit: limit, budget: budget)
    }

    /// Checks the limit (1 to 100,000) and the filter's importance bounds (not NaN). Failures are `invalidArgument`.
    public func validate() throws(MemoryError) {
        _ = try ValueRanges.count(limit, "a recall limit", in: 1...100_000, code: .invalidArgument)
        if let range = filter.importance, range.lowerBound.isNaN || range.upperBound.isNaN {
            throw .invalidArgument("the importance filter's bounds must be numbers")
        }
    }

    /// The distinct words, in first-seen order: an entry's relevance is the share of these it contains.
    public var distinctWords: [String] {
        var seen: Set<String> = []
        return words.filter { seen.insert($0).inserted }
    }
}

/// What one recall returned, and whether it was exhaustive.
public struct RecallResult: Sendable, Hashable {
    /// The matching entries, best first (at most the query's `limit`).
    public var entries: [MemoryEntry]
    /// How many index members could be candidates: the size of the smallest index the query must match
    /// (or the union it may match), counting members not yet pruned.
    public var candidates: Int
    /// How many of them were examined: all of them when they fit the budget, else the budget's worth with the
    /// greatest ids (the newest entries).
    public var examined: Int
    /// Whether every candidate was examined, so the result is exactly what a full scan would give.
    public var isExhaustive: Bool

    /// A result.
    public init(entries: [MemoryEntry], candidates: Int, examined: Int, isExhaustive: Bool) {
        self.entries = entries
        self.candidates = candidates
        self.examined = examined
        self.isExhaustive = isExhaustive
    }
}

extension MemoryFilter {
    /// The filter with every string NFC-normalised, as the adapters key and compare them.
    public var normalized: MemoryFilter {
        var copy = self
        copy.tags = Self.unique(tags.map(TextNormalization.nfc))
        copy.anyTags = Self.unique(anyTags.map(TextNormalization.nfc))
        copy.userID = userID.map(TextNormalization.nfc)
        copy.sessionID = sessionID.map(TextNormalization.nfc)
        copy.metadata = Dictionary(
            metadata.map { (TextNormalization.nfc($0.key), TextNormalization.nfc($0.value)) }, uniquingKeysWith: { first, _ in first })
        // Entries' times are whole milliseconds; so are the bounds they are compared with.
        copy.createdAfter = createdAfter.map(Milliseconds.truncated)
        copy.createdBefore = createdBefore.map(Milliseconds.truncated)
        return copy
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
