/// How `recall` matches and orders entries.
///
/// Query and entry (text and tags) are split into lowercase words on every character that is not a letter
/// or digit, so punctuation and case are ignored. An entry matches when it shares at least one word with the
/// query. Relevance: the whole query phrase (its words, consecutively) in the text, or equal to a tag, ranks
/// above any partial match; then the fraction of query words found. Ties: higher importance, then newer,
/// then id. An empty query matches every entry, newest first.
package struct RecallRanking {
    /// The query's words, as `recall` sends them to the adapter.
    package let queryWords: [String]

    /// The ranking for `query`.
    package init(query: String) {
        queryWords = Self.words(query)
    }

    var isEmpty: Bool { queryWords.isEmpty }

    /// The relevance of `entry` (0: no match).
    func score(_ entry: MemoryEntry) -> Double {
        if queryWords.isEmpty { return 1 }
        let textWords = Self.words(entry.text)
        let tagWords = entry.tags.map(Self.words)
        var vocabulary = Set(textWords)
        for words in tagWords { vocabulary.formUnion(words) }
        let found = queryWords.filter(vocabulary.contains).count
        guard found > 0 else { return 0 }
        let overlap = Double(found) / Double(queryWords.count)
        let phrase = Self.contains(textWords, queryWords) || tagWords.contains(queryWords)
        return (phrase ? 1 : 0) + overlap
    }

    /// The matching entries, best first.
    func rank(_ entries: [MemoryEntry]) -> [MemoryEntry] {
        let scored = entries.compactMap { entry -> (MemoryEntry, Double)? in
            let score = score(entry)
            return score > 0 ? (entry, score) : nil
        }
        return scored.sorted { lhs, rhs in
            if lhs.1 != rhs.1 { return lhs.1 > rhs.1 }
            if !isEmpty && lhs.0.importance != rhs.0.importance { return lhs.0.importance > rhs.0.importance }
            if lhs.0.createdAt != rhs.0.createdAt { return lhs.0.createdAt > rhs.0.createdAt }
            return lhs.0.id > rhs.0.id
        }.map(\.0)
    }

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    private static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return true
        }
        return false
    }
}
