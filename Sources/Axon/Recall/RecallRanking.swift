/// How `recall` matches and orders entries (the Lua recall script implements the same rules).
///
/// Words are `SearchWords`: an entry's words are those of its text window and of its tags. An entry matches
/// a non-empty query when it contains at least one distinct query word. Relevance: the whole query (its
/// words, consecutively) in the text window, or equal to a tag's words, ranks above any other match; then
/// the number of distinct query words found. Ties: higher importance, then newer (`createdAt`), then the
/// greater id (bytewise). An empty query matches every entry, newest first (importance does not count).
package struct RecallRanking: Sendable {
    /// The query's words in order (the phrase).
    package let words: [String]
    /// The distinct query words.
    package let distinct: [String]

    /// The ranking for a query's words.
    package init(words: [String]) {
        self.words = words
        var seen: Set<String> = []
        distinct = words.filter { seen.insert($0).inserted }
    }

    /// An entry's words as recall sees them.
    package struct Profile: Sendable, Hashable {
        /// The text window's words in order.
        package var text: [String]
        /// Each tag's words.
        package var tags: [[String]]
        /// Every word of both, for membership.
        package var vocabulary: Set<String>

        /// The profile of `entry`.
        package init(_ entry: MemoryEntry) {
            text = SearchWords.textWindow(entry.text)
            tags = entry.tags.map { SearchWords.words($0) }
            vocabulary = Set(text)
            for words in tags { vocabulary.formUnion(words) }
        }
    }

    /// The relevance of an entry: `nil` when it does not match; 0 for every entry when the query is empty;
    /// else `distinct.count + 1` for a phrase match, or the number of distinct query words found.
    package func relevance(_ profile: Profile) -> Int? {
        if distinct.isEmpty { return 0 }
        let found = distinct.filter(profile.vocabulary.contains).count
        guard found > 0 else { return nil }
        if found == distinct.count && isPhrase(in: profile) { return found + 1 }
        return found
    }

    /// Whether the query's words appear consecutively in the text window, or equal a tag's words.
    package func isPhrase(in profile: Profile) -> Bool {
        profile.tags.contains(words) || Self.contains(profile.text, words)
    }

    /// Whether `lhs` ranks before `rhs`, given their relevance.
    package func ranksBefore(_ lhs: MemoryEntry, _ lhsRelevance: Int, _ rhs: MemoryEntry, _ rhsRelevance: Int) -> Bool {
        if lhsRelevance != rhsRelevance { return lhsRelevance > rhsRelevance }
        if !distinct.isEmpty && lhs.importance != rhs.importance { return lhs.importance > rhs.importance }
        let lhsCreated = Milliseconds.of(lhs.createdAt), rhsCreated = Milliseconds.of(rhs.createdAt)
        if lhsCreated != rhsCreated { return lhsCreated > rhsCreated }
        return Self.idBefore(rhs.id, lhs.id)
    }

    /// The matching entries, best first.
    package func rank(_ entries: [MemoryEntry]) -> [MemoryEntry] {
        let scored = entries.compactMap { entry in relevance(Profile(entry)).map { (entry, $0) } }
        return scored.sorted { ranksBefore($0.0, $0.1, $1.0, $1.1) }.map(\.0)
    }

    /// Bytewise order of ids, as Redis orders index members.
    package static func idBefore(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    private static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return true
        }
        return false
    }
}
