@testable import Axon
import Foundation
import Hiredis
import Testing
import TestSupport

/// Recall against a brute-force reference written from the README's rules, over tiers of 10,000+ entries.
@Suite("Recall matches a brute-force reference", .heavy)
struct RecallReferenceTests {
    /// A deterministic generator, so a failure can be replayed.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let vocabulary = (0..<2000).map { "w\($0)" }
    static let tags = (0..<120).map { "tag\($0)" }

    /// `count` entries with random text (3 to 12 words, some words in capitals or with punctuation, every
    /// entry also has the word "common"), tags, users, sessions, importance and metadata.
    static func makeEntries(_ count: Int, tier: MemoryTier, seed: UInt64, now: Date) -> [MemoryEntry] {
        var random = Random(state: seed)
        let base = Milliseconds.of(now)
        return (0..<count).map { index in
            var words = (0..<Int.random(in: 3...12, using: &random)).map { _ in
                // Skewed: low-numbered words are frequent.
                vocabulary[min(Int.random(in: 0..<2000, using: &random), Int.random(in: 0..<2000, using: &random))]
            }
            words.insert("common", at: Int.random(in: 0...words.count, using: &random))
            let text = words.enumerated().map { $0.offset % 4 == 1 ? $0.element.uppercased() + "," : $0.element }.joined(separator: " ")
            let created = Milliseconds.date(base - Int64(count - index) * 3)
            let entryTags = (0..<Int.random(in: 0...3, using: &random)).map { _ in tags.randomElement(using: &random) ?? "" }
            var seen: Set<String> = []
            return MemoryEntry(
                id: String(format: "%012llx%04x%016llx", UInt64(base - Int64(count - index) * 3), index % 65536, random.next()),
                text: text, tier: tier, importance: Double(Int.random(in: 0...10, using: &random)) / 10,
                tags: entryTags.filter { seen.insert($0).inserted }, createdAt: created,
                expiresAt: Milliseconds.date(base + 3_600_000), lastAccessedAt: created,
                userID: "user\(Int.random(in: 0..<40, using: &random))", sessionID: "session\(Int.random(in: 0..<150, using: &random))",
                metadata: ["lang": Bool.random(using: &random) ? "en" : "fr"])
        }
    }

    /// The README's rules, applied to every entry.
    static func reference(_ entries: [MemoryEntry], query: String, filter: MemoryFilter, limit: Int, now: Date) -> [MemoryEntry] {
        let queryWords = SearchWords.query(query)
        var distinct: [String] = []
        for word in queryWords where !distinct.contains(word) { distinct.append(word) }
        func matchesFilter(_ entry: MemoryEntry) -> Bool {
            if !filter.tags.allSatisfy(entry.tags.contains) { return false }
            if !filter.anyTags.isEmpty && !filter.anyTags.contains(where: entry.tags.contains) { return false }
            if let user = filter.userID, entry.userID != user { return false }
            if let session = filter.sessionID, entry.sessionID != session { return false }
            if let range = filter.importance, !range.contains(entry.importance) { return false }
            if let after = filter.createdAfter, entry.createdAt < after { return false }
            if let before = filter.createdBefore, entry.createdAt >= before { return false }
            return filter.metadata.allSatisfy { entry.metadata[$0.key] == $0.value }
        }
        var scored: [(MemoryEntry, Int)] = []
        for entry in entries where entry.expiresAt > now && matchesFilter(entry) {
            if distinct.isEmpty { scored.append((entry, 0)); continue }
            let text = SearchWords.textWindow(entry.text)
            let tagWords = entry.tags.map { SearchWords.words($0) }
            let vocabulary = Set(text + tagWords.flatMap { $0 })
            let found = distinct.filter(vocabulary.contains).count
            guard found > 0 else { continue }
            var phrase = tagWords.contains(queryWords)
            if !phrase && text.count >= queryWords.count {
                phrase = (0...(text.count - queryWords.count)).contains { Array(text[$0..<$0 + queryWords.count]) == queryWords }
            }
            scored.append((entry, found == distinct.count && phrase ? found + 1 : found))
        }
        scored.sort { a, b in
            if a.1 != b.1 { return a.1 > b.1 }
            if !distinct.isEmpty && a.0.importance != b.0.importance { return a.0.importance > b.0.importance }
            if a.0.createdAt != b.0.createdAt { return a.0.createdAt > b.0.createdAt }
            return Array(a.0.id.utf8).lexicographicallyPrecedes(Array(b.0.id.utf8)) == false
        }
        return scored.prefix(limit).map(\.0)
    }

    /// Stores `entries` through the adapter, many at a time.
    static func fill(_ adapter: any MemoryAdapter, _ entries: [MemoryEntry], policy: TierPolicy, now: Date) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: entries.count, by: 2500) {
                let slice = entries[chunk..<min(chunk + 2500, entries.count)]
                group.addTask { for entry in slice { _ = try await adapter.store(entry, policy: policy, now: now) } }
            }
            try await group.waitForAll()
        }
    }

    static func queries(seed: UInt64) -> [(String, MemoryFilter)] {
        var random = Random(state: seed)
        var out: [(String, MemoryFilter)] = []
        for round in 0..<40 {
            let words = (0..<Int.random(in: 1...3, using: &random)).map { _ in vocabulary[Int.random(in: 0..<2000, using: &random)] }
            // A phrase taken from the vocabulary's frequent end, so that some queries find whole phrases.
            let text = round % 5 == 0 ? "W\(round % 7) w\(round % 3)" : words.joined(separator: round % 2 == 0 ? " " : ", ")
            var filter = MemoryFilter()
            switch round % 8 {
            case 1: filter.tags = [tags[round % tags.count]]
            case 2: filter.userID = "user\(round % 40)"
            case 3: filter.sessionID = "session\(round % 150)"
            case 4: filter.anyTags = [tags[round % tags.count], tags[(round * 7) % tags.count]]
            case 5: filter.importance = 0.3...0.7
            case 6: filter.metadata = ["lang": "fr"]; filter.tags = [tags[round % tags.count]]
            default: break
            }
            out.append((text, filter))
            // Listing by an index filter alone (an empty query).
            if [1, 2, 3, 4, 6].contains(round % 8) { out.append(("", filter)) }
        }
        return out
    }

    @Test(arguments: Backend.allCases)
    func recallEqualsTheReferenceUnderBudget(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: "reference-\(UUID().uuidString)", store: InMemoryStore())
        let now = Date()
        let policy = TierPolicy(ttl: .seconds(3600), recallBudget: 500)
        let entries = Self.makeEntries(10_000, tier: .session, seed: 7, now: now)
        try await Self.fill(adapter, entries, policy: policy, now: now)
        for (text, filter) in Self.queries(seed: 11) {
            let query = RecallQuery(text: text, filter: filter, limit: 10, budget: policy.recallBudget)
            let result = try await adapter.recall(query, tier: .session, policy: policy, now: now)
            let expected = Self.reference(entries, query: text, filter: filter.normalized, limit: 10, now: now)
            let (exhaustive, candidates) = (result.isExhaustive, result.candidates)
            #expect(exhaustive, "query \(text.debugDescription) with \(filter): \(candidates) candidates")
            let ids = result.entries.map(\.id), expectedIDs = expected.map(\.id)
            #expect(ids == expectedIDs, "query \(text.debugDescription) with \(filter)")
        }
        _ = try await adapter.clear(tier: .session, now: now)
        await adapter.close()
    }

    /// Many candidates tie on their words, importance and creation time, so the order (and which ones make the top) is
    /// decided by the ids: the last keys of the ranking, which the script's one-pass selection reaches only on ties.
    @Test(arguments: Backend.allCases)
    func tiesAreBrokenByIDAsTheReferenceDoes(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: "ties-\(UUID().uuidString)", store: InMemoryStore())
        let now = Date()
        let policy = TierPolicy(ttl: .seconds(3600), recallBudget: 500)
        var random = Random(state: 3)
        let base = Milliseconds.of(now)
        let entries = (0..<300).map { index in
            // Three creation times, two importances, two tags, ids in an order unrelated to any of them (with two
            // sources, a tie can come after one with a greater id).
            let created = Milliseconds.date(base - Int64(index % 3) * 1000)
            return MemoryEntry(
                id: String(format: "%012llx%04x%016llx", UInt64(base) - UInt64(random.next() % 1000), index, random.next()),
                text: index % 7 == 0 ? "tie breaker" : "tie", tier: .session, importance: index % 5 == 0 ? 0.5 : 0.4,
                tags: ["t\(index % 2)"], createdAt: created, expiresAt: Milliseconds.date(base + 3_600_000), lastAccessedAt: created)
        }
        try await Self.fill(adapter, entries, policy: policy, now: now)
        for (text, filter, limit) in [("tie", MemoryFilter.none, 10), ("tie", .none, 37), ("tie breaker", .none, 12),
                                      ("", MemoryFilter(tags: ["t0"]), 10), ("tie", MemoryFilter(anyTags: ["t0", "t1"]), 7),
                                      ("", MemoryFilter(anyTags: ["t0", "t1"]), 11)] {
            let query = RecallQuery(text: text, filter: filter, limit: limit, budget: policy.recallBudget)
            let result = try await adapter.recall(query, tier: .session, policy: policy, now: now)
            let expected = Self.reference(entries, query: text, filter: filter.normalized, limit: limit, now: now)
            #expect(result.entries.map(\.id) == expected.map(\.id), "query \(text.debugDescription) limit \(limit)")
        }
        _ = try await adapter.clear(tier: .session, now: now)
        await adapter.close()
    }

    @Test(arguments: Backend.allCases)
    func overBudgetRecallExaminesTheNewestCandidates(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: "budget-\(UUID().uuidString)", store: InMemoryStore())
        let now = Date()
        let policy = TierPolicy(ttl: .seconds(3600), recallBudget: 300)
        let entries = Self.makeEntries(10_000, tier: .session, seed: 5, now: now)
        try await Self.fill(adapter, entries, policy: policy, now: now)
        // "common" is in every entry: the 300 greatest ids are examined, and ranked exactly. With two words,
        // each word's index gives its 150 greatest.
        func newest(_ count: Int, having word: String?) -> [MemoryEntry] {
            let having = entries.filter { word == nil || SearchWords.textWindow($0.text).contains(word ?? "") }
            return Array(having.sorted { Array($0.id.utf8).lexicographicallyPrecedes(Array($1.id.utf8)) }.suffix(count))
        }
        let examinedSets: [(String, Int, [MemoryEntry])] = [
            ("common", 10, newest(300, having: "common")),
            ("common w1", 25, Array(Set(newest(150, having: "common") + newest(150, having: "w1")))),
            ("", 10, newest(300, having: nil)),
        ]
        for (text, limit, examinedEntries) in examinedSets {
            let query = RecallQuery(text: text, filter: .none, limit: limit, budget: policy.recallBudget)
            let result = try await adapter.recall(query, tier: .session, policy: policy, now: now)
            let (exhaustive, examined, candidates) = (result.isExhaustive, result.examined, result.candidates)
            #expect(!exhaustive)
            #expect(examined == examinedEntries.count)
            #expect(candidates >= 10_000)
            let expected = Self.reference(examinedEntries, query: text, filter: .none, limit: limit, now: now)
            let ids = result.entries.map(\.id), expectedIDs = expected.map(\.id)
            #expect(ids == expectedIDs, "query \(text.debugDescription)")
        }
        _ = try await adapter.clear(tier: .session, now: now)
        await adapter.close()
    }
}
