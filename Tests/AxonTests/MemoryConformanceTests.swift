@testable import Axon
import Foundation
import Hiredis
import Testing

@Suite("Memory conformance: the same behaviour in process and in Redis")
struct MemoryConformanceTests {
    @Test(arguments: Backend.withCluster)
    func storeGetRecallForget(backend: Backend) async throws {
        let memory = try backend.system()
        let id = try await memory.store("User prefers dark mode", importance: 0.7, tier: .session,
                                        tags: ["prefs", "ui"], userID: "u1", sessionID: "s1", metadata: ["source": "chat"])
        let entry = try #require(try await memory.get(id))
        #expect(entry.text == "User prefers dark mode")
        #expect(entry.tier == .session)
        #expect(entry.importance == 0.7)
        #expect(entry.tags == ["prefs", "ui"])
        #expect(entry.userID == "u1" && entry.sessionID == "s1")
        #expect(entry.metadata == ["source": "chat"])
        #expect(entry.accessCount == 1)
        #expect(try await memory.get(id)?.accessCount == 2)
        #expect(try await memory.recall("dark mode").map(\.id) == [id])
        #expect(try await memory.count(tier: .session) == 1)
        #expect(try await memory.forget(id))
        #expect(try await memory.get(id) == nil)
        #expect(try await memory.recall("dark mode").isEmpty)
        #expect(try await memory.count(tier: .session) == 0)
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func entriesExpireAfterTheirTTL(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: UUID().uuidString, store: InMemoryStore())
        let policy = TierPolicy(ttl: .milliseconds(1000))
        try await withDeadlineRetries { attempt in
            let entry = Self.entry(id: "a\(attempt)", tier: .ephemeral, tags: ["t"], now: Date(), ttlMs: 1000)
            _ = try await adapter.store(entry, policy: policy, now: entry.createdAt)
            let counted = try await adapter.count(tier: .ephemeral, now: Date())
            try requireBefore(entry.expiresAt)
            #expect(counted == 1)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await adapter.get(id: entry.id, tier: .ephemeral, policy: policy, now: Date()) == nil)
            #expect(try await adapter.tagged("t", tier: .ephemeral).isEmpty)
            #expect(try await adapter.count(tier: .ephemeral, now: Date()) == 0)
        }
        await adapter.close()
    }

    @Test(arguments: Backend.withCluster)
    func refreshOnReadOnlyExtends(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: UUID().uuidString, store: InMemoryStore())
        try await withDeadlineRetries { attempt in
            let tag = "x\(attempt)"
            let entry = Self.entry(id: "r\(attempt)", tier: .session, tags: [tag], now: Date(), ttlMs: 1000)
            _ = try await adapter.store(entry, policy: TierPolicy(ttl: .milliseconds(1000)), now: entry.createdAt)
            // A refresh to a shorter TTL must not shorten it.
            let short = try await adapter.get(id: entry.id, tier: .session, policy: TierPolicy(ttl: .milliseconds(50), refreshOnRead: true), now: Date())
            try requireBefore(entry.expiresAt)
            #expect(try #require(short).expiresAt == entry.expiresAt)
            // A longer one extends the entry and its tag index.
            let long = try await adapter.get(id: entry.id, tier: .session, policy: TierPolicy(ttl: .milliseconds(4000), refreshOnRead: true), now: Date())
            try requireBefore(entry.expiresAt)
            let extended = try #require(long)
            #expect(extended.expiresAt > entry.expiresAt)
            try await Task.sleep(for: .milliseconds(max(0, Int(entry.expiresAt.timeIntervalSinceNow * 1000)) + 200))
            let tagged = try await adapter.tagged(tag, tier: .session)
            let read = try await adapter.get(id: entry.id, tier: .session, policy: TierPolicy(ttl: .seconds(1)), now: Date())
            try requireBefore(extended.expiresAt)
            #expect(tagged.map(\.id) == [entry.id])
            #expect(read != nil)
        }
        await adapter.close()
    }

    @Test(arguments: Backend.withCluster)
    func sessionCapEvictsLowestImportanceOldestFirst(backend: Backend) async throws {
        let memory = try backend.system(sessionCap: 10)
        var ids: [String] = []
        for index in 0..<10 {
            ids.append(try await memory.store("note \(index)", importance: index == 3 || index == 7 ? 0.1 : 0.5, tier: .session))
        }
        let first = try await memory.storeReporting(.init("note 10", importance: 0.5, tier: .session))
        #expect(first.evicted == [ids[3]])
        let second = try await memory.storeReporting(.init("note 11", importance: 0.5, tier: .session))
        #expect(second.evicted == [ids[7]])
        // Equal importance: the oldest goes.
        let third = try await memory.storeReporting(.init("note 12", importance: 0.9, tier: .session))
        #expect(third.evicted == [ids[0]])
        #expect(try await memory.count(tier: .session) == 10)
        #expect(try await memory.get(ids[3]) == nil)
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func tagFiltersAndOrAndFilterBeforeLimit(backend: Backend) async throws {
        let memory = try backend.system()
        let both = try await memory.store("alpha beta", tier: .session, tags: ["a", "b"], userID: "u1")
        let onlyA = try await memory.store("alpha only", tier: .session, tags: ["a"], userID: "u2")
        let onlyB = try await memory.store("beta only", tier: .session, tags: ["b"], userID: "u1")
        _ = try await memory.store("neither", tier: .session, tags: ["c"])
        let and = try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["a", "b"]), limit: 10)
        #expect(and.map(\.id) == [both])
        let or = try await memory.recall("", tier: .session, filter: MemoryFilter(anyTags: ["a", "b"]), limit: 10)
        #expect(Set(or.map(\.id)) == [both, onlyA, onlyB])
        let mixed = try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["b"], anyTags: ["a", "c"]), limit: 10)
        #expect(mixed.map(\.id) == [both])
        // Filters apply before the limit: many newer non-matching entries do not push the match out.
        for index in 0..<20 { _ = try await memory.store("alpha filler \(index)", tier: .session, tags: ["a"], userID: "u9") }
        let user = try await memory.recall("alpha", tier: .session, filter: MemoryFilter(userID: "u2"), limit: 1)
        #expect(user.map(\.id) == [onlyA])
        let ranged = try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["b"], importance: 0.4...0.6, metadata: [:]), limit: 5)
        #expect(Set(ranged.map(\.id)) == [both, onlyB])
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func recallRanksPhraseThenOverlapThenImportanceThenRecency(backend: Backend) async throws {
        let memory = try backend.system()
        let overlapHigh = try await memory.store("the mode is dark, user said", importance: 0.9, tier: .session)
        let phrase = try await memory.store("User prefers DARK MODE!", importance: 0.2, tier: .session)
        let partialOld = try await memory.store("dark chocolate", importance: 0.5, tier: .session)
        try await Task.sleep(for: .milliseconds(5))
        let partialNew = try await memory.store("dark roast", importance: 0.5, tier: .session)
        let tagged = try await memory.store("settings", importance: 0.1, tier: .session, tags: ["dark mode"])
        _ = try await memory.store("light theme", importance: 1, tier: .session)
        let results = try await memory.recall("dark mode", tier: .session, limit: 10)
        #expect(results.map(\.id) == [phrase, tagged, overlapHigh, partialNew, partialOld])
        #expect(try await memory.recall("unrelated words", tier: .session).isEmpty)
        let all = try await memory.recall("", tier: .session, limit: 10)
        #expect(all.count == 6)
        #expect(all.first?.text == "light theme")  // empty query: newest first
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func textMatchIgnoresCaseAndPunctuationInTextAndTags(backend: Backend) async throws {
        let memory = try backend.system()
        let accented = try await memory.store("Le CAFÉ, crème!", tier: .session)
        let tagged = try await memory.store("settings", tier: .session, tags: ["DARK-Mode"])
        _ = try await memory.store("cafeteria", tier: .session)
        #expect(try await memory.recall("café", tier: .session).map(\.id) == [accented])
        #expect(try await memory.recall("Crème?", tier: .session).map(\.id) == [accented])
        #expect(try await memory.recall("dark mode", tier: .session).map(\.id) == [tagged])
        #expect(try await memory.recall("caf", tier: .session).isEmpty)  // words, not prefixes
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func storeBatchStoresInOrderAcrossPipelinesAndTiers(backend: Backend) async throws {
        // 600 entries: more than two pipelines' worth, both tiers interleaved, a cap that evicts within the batch.
        let memory = try backend.system(sessionCap: 100)
        let inputs = (0..<600).map { index in
            MemorySystem.Input("entry \(index)", tier: index % 3 == 0 ? .ephemeral : .session, tags: ["n\(index)"])
        }
        let ids = try await memory.storeBatch(inputs)
        #expect(ids.count == 600 && Set(ids).count == 600)
        #expect(try await memory.count(tier: .ephemeral) == 200)
        #expect(try await memory.count(tier: .session) == 100)
        // Equal importance: the cap kept the newest 100 session entries, so the batch ran in order.
        let session = try await memory.recall("", tier: .session, limit: 100).map(\.text)
        let expected = (0..<600).filter { $0 % 3 != 0 }.suffix(100).map { "entry \($0)" }
        #expect(Set(session) == Set(expected))
        #expect(try await memory.get(ids[0], tier: .ephemeral)?.tags == ["n0"])
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func storeAllInLongRunsMatchesStoringOneByOne(backend: Backend) async throws {
        // 150 entries of one tier (several batch scripts), an id stored twice within them, a cap that evicts, unequal
        // importance: the batch leaves what 150 single stores leave.
        let now = Date()
        let policy = TierPolicy(ttl: .seconds(600), maxEntries: 100)
        var entries = (0..<150).map { index in
            var entry = Self.entry(id: "id\(index)", tier: .session, tags: ["t\(index % 4)"], now: now, ttlMs: 600_000)
            entry.importance = Double(index % 7) / 7
            return entry
        }
        var again = entries[10]
        again.text = "text id10, stored again"
        again.importance = 1
        entries.insert(again, at: 70)
        let batched = try backend.adapter(namespace: "batch-\(UUID().uuidString)", store: InMemoryStore())
        let single = try backend.adapter(namespace: "single-\(UUID().uuidString)", store: InMemoryStore())
        let results = try await batched.storeAll(entries, policies: entries.map { _ in policy }, now: now)
        var evictedOneByOne: Set<String> = []
        for entry in entries { evictedOneByOne.formUnion(try await single.store(entry, policy: policy, now: now)) }
        var evictedBatched: Set<String> = []
        for result in results { evictedBatched.formUnion(try result.get()) }
        #expect(evictedBatched == evictedOneByOne)
        let query = RecallQuery(text: "", filter: .none, limit: 200, budget: 500)
        let left = try await batched.recall(query, tier: .session, policy: policy, now: now).entries
        let expected = try await single.recall(query, tier: .session, policy: policy, now: now).entries
        #expect(left.count == 100)
        #expect(left == expected)
        #expect(left.first { $0.id == "id10" }?.text == "text id10, stored again")
        _ = try await batched.clear(tier: .session, now: now)
        _ = try await single.clear(tier: .session, now: now)
        await batched.close()
        await single.close()
    }

    @Test(arguments: Backend.withCluster)
    func invalidInputWritesNothing(backend: Backend) async throws {
        let memory = try backend.system()
        for (text, importance) in [("   ", 0.5), ("ok", Double.nan), ("ok", 1.5), ("ok", -0.1), ("ok", Double.infinity)] {
            await #expect(throws: MemoryError.self) { try await memory.store(text, importance: importance, tier: .session) }
        }
        await #expect(throws: MemoryError.self) { try await memory.store("ok", tier: .session, tags: [""]) }
        await #expect(throws: MemoryError.self) { try await memory.storeBatch([.init("fine", tier: .session), .init("", tier: .session)]) }
        #expect(try await memory.count(tier: .session) == 0)
        #expect(throws: MemoryError.self) { try MemoryTier(validating: "persistent") }
        let onlyEphemeral = try MemorySystem(
            config: MemoryConfig(ephemeral: try EphemeralPolicy(adapter: .memory)), memory: InMemoryAdapter(namespace: UUID().uuidString))
        await #expect(throws: MemoryError.self) { try await onlyEphemeral.store("x", tier: .session) }
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func hostileNamespacesStayApart(backend: Backend) async throws {
        let store = InMemoryStore()
        let base = UUID().uuidString
        let names = ["", "*", "a:b", "a", "a*", "}{", "{a}", "a}", "ns?[x]", "\\", "a b", "a\u{0}b", "ümlaut"].map { base + $0 }
            + ["", "*", "{", "}"]
        var systems: [MemorySystem] = []
        for name in names { systems.append(try backend.system(namespace: name, store: store)) }
        for (index, system) in systems.enumerated() {
            _ = try await system.store("secret \(index)", tier: .session, tags: ["shared"])
        }
        for (index, system) in systems.enumerated() {
            let seen = try await system.recall("", tier: .session, filter: MemoryFilter(tags: ["shared"]), limit: 100)
            #expect(seen.map(\.text) == ["secret \(index)"], "namespace \(names[index].debugDescription)")
        }
        for system in systems {
            _ = try await system.clear(tier: .session)
            await system.close()
        }
    }

    @Test(arguments: Backend.withCluster)
    func twoClientsOfOneNamespaceShareEntries(backend: Backend) async throws {
        let store = InMemoryStore()
        let namespace = UUID().uuidString
        let first = try backend.system(namespace: namespace, store: store)
        let second = try backend.system(namespace: namespace, store: store)
        let other = try backend.system(namespace: namespace + "-other", store: store)
        let id = try await first.store("Shared data", tier: .session)
        #expect(try await second.recall("shared", tier: .session).map(\.id) == [id])
        #expect(try await other.recall("shared", tier: .session).isEmpty)
        for system in [first, second, other] { await system.close() }
    }

    @Test(arguments: Backend.withCluster)
    func concurrentStoresRespectTheCapExactly(backend: Backend) async throws {
        let memory = try backend.system(sessionCap: 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await memory.store("item \(index)", importance: Double(index % 7) / 7, tier: .session, tags: ["bulk"]) }
            }
            try await group.waitForAll()
        }
        #expect(try await memory.count(tier: .session) == 50)
        let all = try await memory.recall("", tier: .session, limit: 1000)
        #expect(all.count == 50)
        let tagged = try await memory.recall("", tier: .session, filter: MemoryFilter(tags: ["bulk"]), limit: 1000)
        #expect(Set(tagged.map(\.id)) == Set(all.map(\.id)))
        // The survivors are the most important ones.
        #expect(all.map(\.importance).min() ?? 0 >= 4.0 / 7)
        await memory.close()
    }

    @Test(arguments: Backend.withCluster)
    func exportThenImportReproducesEveryField(backend: Backend) async throws {
        let source = try backend.system()
        _ = try await source.store("one", importance: 0.123456789, tier: .session, tags: ["x", "y:z"], userID: "u", sessionID: "s", metadata: ["k": "v", "é": "ü"])
        let two = try await source.store("two\nlines \"quoted\"", importance: 1, tier: .ephemeral)
        _ = try await source.get(two)
        let exported = try await source.export()
        #expect(exported.split(separator: "\n").count == 2)
        let target = try backend.system()
        #expect(try await target.import(exported) == 2)
        #expect(try await target.export() == exported)
        await #expect(throws: MemoryError.self) { try await target.import("{not json}\n") }
        await source.close()
        await target.close()
    }

    @Test(arguments: Backend.withCluster)
    func canonicallyEquivalentStringsAreOne(backend: Backend) async throws {
        let store = InMemoryStore()
        let base = "nfc-\(UUID().uuidString)-"
        // Stored in decomposed form (e + U+0301), looked up precomposed (U+00E9), and the other way round.
        let decomposed = try backend.system(namespace: base + "cafe\u{301}", store: store)
        let precomposed = try backend.system(namespace: base + "caf\u{e9}", store: store)
        let id = try await decomposed.store(
            "Le cafe\u{301} cre\u{300}me", tier: .session, tags: ["re\u{301}sume\u{301}"], userID: "Zoe\u{308}",
            sessionID: "se\u{301}ance", metadata: ["ke\u{301}": "valeu\u{302}r"])
        let filters = [
            MemoryFilter(tags: ["r\u{e9}sum\u{e9}"]), MemoryFilter(anyTags: ["r\u{e9}sum\u{e9}", "other"]),
            MemoryFilter(userID: "Zo\u{eb}"), MemoryFilter(sessionID: "s\u{e9}ance"), MemoryFilter(metadata: ["k\u{e9}": "vale\u{fb}r"]),
        ]
        for filter in filters {
            #expect(try await precomposed.recall("", tier: .session, filter: filter).map(\.id) == [id], "\(filter)")
        }
        #expect(try await precomposed.recall("CAF\u{c9}", tier: .session).map(\.id) == [id])
        #expect(try await precomposed.recall("cr\u{e8}me caf\u{e9}", tier: .session).map(\.id) == [id])
        #expect(try await decomposed.recall("r\u{e9}sum\u{e9}", tier: .session).map(\.id) == [id])  // a tag's word
        let entry = try #require(try await precomposed.get(id, tier: .session))
        #expect(entry.tags == ["r\u{e9}sum\u{e9}"] && entry.userID == "Zo\u{eb}")
        // Stored as NFC bytes, whatever form came in.
        #expect(Array(entry.tags[0].utf8) == Array("r\u{e9}sum\u{e9}".utf8))
        _ = try await decomposed.clear(tier: .session)
        await decomposed.close()
        await precomposed.close()
    }

    @Test(arguments: Backend.withCluster)
    func sweepRemovesExpiredEntriesAndCountsThem(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: UUID().uuidString, store: InMemoryStore())
        let now = Milliseconds.truncated(Date())
        let policy = TierPolicy(ttl: .seconds(1))
        for index in 0..<450 {
            let entry = Self.entry(id: "s\(index)", tier: .ephemeral, tags: ["t\(index % 3)"], now: now, ttlMs: index < 420 ? 1000 : 60_000)
            _ = try await adapter.store(entry, policy: policy, now: now)
        }
        var removed = 0
        var cursor: String?
        let later = now + 2
        repeat {
            let step = try await adapter.sweep(tier: .ephemeral, cursor: cursor, now: later)
            removed += step.expiredEntries
            cursor = step.next
        } while cursor != nil
        #expect(removed == 420)
        #expect(try await adapter.count(tier: .ephemeral, now: later) == 30)
        #expect(try await adapter.tagged("t0", tier: .ephemeral, now: later).count == 10)
        _ = try await adapter.clear(tier: .ephemeral, now: later)
        await adapter.close()
    }

    struct Turn: Codable, Equatable {
        var role: String
        var tokens: Int
    }

    @Test(arguments: Backend.withCluster)
    func structuredValuesAndSessionHistory(backend: Backend) async throws {
        let memory = try backend.system()
        var turns: [String] = []
        for index in 0..<6 {
            turns.append(try await memory.store(
                "turn \(index)", value: Turn(role: index % 2 == 0 ? "user" : "assistant", tokens: index * 10), tier: .session,
                sessionID: "sess_abc123"))
            _ = try await memory.store("another session \(index)", tier: .session, sessionID: "sess_other")
            try await Task.sleep(for: .milliseconds(2))  // distinct creation times
        }
        let history = try await memory.history(sessionID: "sess_abc123", tier: .session)
        #expect(history.map(\.id) == turns)
        #expect(try history[1].value(as: Turn.self) == Turn(role: "assistant", tokens: 10))
        #expect(try await memory.history(sessionID: "sess_abc123", limit: 2).map(\.id) == Array(turns.suffix(2)))
        let fetched = try #require(try await memory.get(turns[2], tier: .session))
        #expect(try fetched.value(as: Turn.self) == Turn(role: "user", tokens: 20))
        #expect(throws: MemoryError.self) { _ = try fetched.value(as: [Int].self) }
        #expect(try await memory.store("plain", tier: .session).isEmpty == false)
        // Values survive export and import.
        let copy = try backend.system()
        _ = try await copy.import(try await memory.export(tier: .session))
        #expect(try await copy.get(turns[4], tier: .session)?.value(as: Turn.self) == Turn(role: "user", tokens: 40))
        await memory.close()
        await copy.close()
    }

    /// A listing (no query words) over more candidates than its limit is newest first whether or not the index's
    /// order (by id) agrees: here ids grow while creation times fall, then a few agree again.
    @Test(arguments: Backend.withCluster)
    func listingsAreNewestFirstWhateverTheIdOrder(backend: Backend) async throws {
        let adapter = try backend.adapter(namespace: "order-\(UUID().uuidString)", store: InMemoryStore())
        let now = Date()
        let policy = TierPolicy(ttl: .seconds(60))
        var entries: [MemoryEntry] = []
        for index in 0..<30 {
            var entry = Self.entry(id: String(format: "id%03d", index), tier: .session, tags: ["t"], now: now, ttlMs: 60_000)
            let age = index < 20 ? index : 40 - index  // 0...19 older with each id, then newer again
            entry.createdAt = Milliseconds.date(Milliseconds.of(now) - Int64(age) * 10)
            entries.append(entry)
            _ = try await adapter.store(entry, policy: policy, now: now)
        }
        let expected = entries.sorted { Milliseconds.of($0.createdAt) != Milliseconds.of($1.createdAt)
            ? Milliseconds.of($0.createdAt) > Milliseconds.of($1.createdAt) : $0.id > $1.id }
        for limit in [1, 5, 12] {
            let query = RecallQuery(text: "", filter: MemoryFilter(tags: ["t"]), limit: limit, budget: 1000)
            let found = try await adapter.recall(query, tier: .session, policy: policy, now: now).entries
            #expect(found.map(\.id) == expected.prefix(limit).map(\.id), "limit \(limit)")
        }
        // In id order too (the order the index keeps): the first ones are the answer.
        for index in 0..<30 {
            var entry = Self.entry(id: String(format: "id%03d", index + 100), tier: .session, tags: ["u"], now: now, ttlMs: 60_000)
            entry.createdAt = Milliseconds.date(Milliseconds.of(now) - Int64(30 - index) * 10)
            _ = try await adapter.store(entry, policy: policy, now: now)
        }
        let query = RecallQuery(text: "", filter: MemoryFilter(tags: ["u"]), limit: 5, budget: 1000)
        let found = try await adapter.recall(query, tier: .session, policy: policy, now: now).entries
        #expect(found.map(\.id) == (125..<130).reversed().map { String(format: "id%03d", $0) })
    }

    static func entry(id: String, tier: MemoryTier, tags: [String], now: Date, ttlMs: Int64) -> MemoryEntry {
        let ms = Int64((now.timeIntervalSince1970 * 1000).rounded())
        let created = Date(timeIntervalSince1970: Double(ms) / 1000)
        return MemoryEntry(
            id: id, text: "text \(id)", tier: tier, importance: 0.5, tags: tags, createdAt: created,
            expiresAt: Date(timeIntervalSince1970: Double(ms + ttlMs) / 1000), lastAccessedAt: created)
    }
}
