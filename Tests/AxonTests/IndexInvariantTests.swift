@testable import Axon
import Foundation
import Hiredis
import Testing

/// The indexes never hold what the entries do not: after any sequence of operations and one sweep, no index
/// member names an expired or missing entry and no index key is left without a live entry. Time is virtual
/// (every adapter call takes `now`), so minutes of expiry run in a second.
@Suite("Index invariants under random operations")
struct IndexInvariantTests {
    static let tags = ["red", "green", "blue", "café", "a b", ""].filter { !$0.isEmpty }
    static let words = ["alpha", "beta", "gamma", "delta", "Éclair", "crème", "x1", "y2"]

    /// The test's own account of what is live.
    struct Model {
        var entries: [String: MemoryEntry] = [:]
        mutating func expire(now: Date) { entries = entries.filter { $0.value.expiresAt > now } }
    }

    @Test(arguments: Backend.allCases, [UInt64(1), 2, 3])
    func randomOperationsThenASweepLeaveCleanIndexes(backend: Backend, seed: UInt64) async throws {
        let namespace = "invariant-\(UUID().uuidString)"
        let adapter = try backend.adapter(namespace: namespace, store: InMemoryStore())
        var random = RecallReferenceTests.Random(state: seed)
        var now = Milliseconds.truncated(Date())
        var model = Model()
        let capped = TierPolicy(ttl: .seconds(3), maxEntries: 25, refreshOnRead: true)
        for step in 0..<700 {
            model.expire(now: now)
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45:
                let id = Bool.random(using: &random) && !model.entries.isEmpty
                    ? model.entries.keys.sorted()[Int.random(in: 0..<model.entries.count, using: &random)]  // overwrite
                    : String(format: "%08d", step)
                let ttl = Int64.random(in: 500...4000, using: &random)
                let text = (0..<Int.random(in: 1...6, using: &random)).map { _ in Self.words.randomElement(using: &random) ?? "" }
                    .joined(separator: " ")
                let entry = MemoryEntry(
                    id: id, text: text, tier: .session, importance: Double(Int.random(in: 0...4, using: &random)) / 4,
                    tags: Array(Set((0..<Int.random(in: 0...2, using: &random)).map { _ in Self.tags.randomElement(using: &random) ?? "" })).sorted(),
                    createdAt: now, expiresAt: now + Double(ttl) / 1000, lastAccessedAt: now,
                    userID: Bool.random(using: &random) ? "user\(step % 3)" : nil, sessionID: "s\(step % 4)")
                model.entries[id] = entry.normalized
                let evicted = try await adapter.store(entry, policy: capped, now: now)
                for id in evicted { model.entries[id] = nil }
                #expect(model.entries.count <= 25)
            case 45..<60:
                guard let id = model.entries.keys.sorted().randomElement(using: &random) else { continue }
                let read = try await adapter.get(id: id, tier: .session, policy: capped, now: now)
                #expect(read?.id == id)
                if let read { model.entries[id]?.expiresAt = read.expiresAt }
            case 60..<72:
                let id = model.entries.keys.sorted().randomElement(using: &random) ?? "absent"
                #expect(try await adapter.forget(id: id, tier: .session, now: now) == (model.entries[id] != nil))
                model.entries[id] = nil
            case 72..<74:
                #expect(try await adapter.clear(tier: .session, now: now) == model.entries.count)
                model.entries = [:]
            case 74..<82:
                // Listing by a tag agrees with the model.
                let tag = Self.tags.randomElement(using: &random) ?? ""
                let listed = try await adapter.tagged(tag, tier: .session, now: now).map(\.id)
                #expect(Set(listed) == Set(model.entries.values.filter { $0.tags.contains(tag) }.map(\.id)), "step \(step)")
            default:
                now += Double(Int.random(in: 50...1500, using: &random)) / 1000
            }
        }
        // Let some expire, then one sweep.
        now += 2
        model.expire(now: now)
        var cursor: String?
        repeat {
            let step = try await adapter.sweep(tier: .session, cursor: cursor, now: now)
            cursor = step.next
        } while cursor != nil
        #expect(try await adapter.count(tier: .session, now: now) == model.entries.count)
        try await Self.checkIndexes(of: adapter, backend: backend, namespace: namespace, live: model.entries, now: now)
        _ = try await adapter.clear(tier: .session, now: now)
        await adapter.close()
    }

    /// Every index member names a live entry that has that source; every live entry is in each of its indexes;
    /// no index key exists without a live entry.
    static func checkIndexes(
        of adapter: any MemoryAdapter, backend: Backend, namespace: String, live: [String: MemoryEntry], now: Date
    ) async throws {
        let expected = Dictionary(uniqueKeysWithValues: live.map { id, entry in
            (id, Set(RecallPlan.sources(of: entry, profile: RecallRanking.Profile(entry), indexesWords: true)))
        })
        switch backend {
        case .inMemory:
            guard let memory = adapter as? InMemoryAdapter else { Issue.record("not an InMemoryAdapter"); return }
            let snapshot = memory.indexSnapshot(tier: .session)
            #expect(Set(snapshot.entries.keys) == Set(live.keys))
            var found: [String: Set<RecallPlan.Source>] = [:]
            for (source, ids) in snapshot.index {
                #expect(!ids.isEmpty)
                for id in ids { found[id, default: []].insert(source) }
            }
            #expect(found == expected)
        case .cluster, .tls:
            Issue.record("the raw layout is checked on the single plaintext server")
        case .redis:
            let connection = try await RedisConnection.connect(Backend.redisConfiguration)
            let prefix = RedisKeyspace(namespace: namespace).tierPrefix(.session)
            let tierIndex = try await connection.send("ZRANGE", prefix + "i", 0, -1, "WITHSCORES").array().map { try $0.string() }
            var expiries: [String: Int64] = [:]
            for index in stride(from: 0, to: tierIndex.count, by: 2) { expiries[tierIndex[index]] = Int64(tierIndex[index + 1]) }
            #expect(Set(expiries.keys) == Set(live.keys))
            for (id, entry) in live { #expect(expiries[id] == Milliseconds.of(entry.expiresAt)) }
            let priority = try await connection.send("ZRANGE", prefix + "p", 0, -1).array().map { try $0.string() }
            #expect(Set(priority) == Set(live.keys))
            for id in live.keys { #expect(try await connection.send("EXISTS", prefix + "e:" + id, prefix + "b:" + id).int() == 2, "\(id)") }
            // The ranking hash: each live id's record, 40 bytes starting with expiry, importance and created ms as big-endian doubles.
            let ranking = try await connection.send("HGETALL", prefix + "r").array().map { try $0.bytes() }
            #expect(Set(stride(from: 0, to: ranking.count, by: 2).map { String(decoding: ranking[$0], as: UTF8.self) }) == Set(live.keys))
            for index in stride(from: 0, to: ranking.count, by: 2) {
                #expect(ranking[index + 1].count == 40)
                let values = stride(from: 0, to: 24, by: 8).map { offset in
                    Double(bitPattern: ranking[index + 1][offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) })
                }
                guard let entry = live[String(decoding: ranking[index], as: UTF8.self)] else { continue }
                #expect(values == [Double(Milliseconds.of(entry.expiresAt)), entry.importance, Double(Milliseconds.of(entry.createdAt))])
            }
            var found: [String: Set<String>] = [:]
            for member in try await connection.send("ZRANGE", prefix + "x", 0, -1).array().map({ try $0.bytes() }) {
                guard let cut = member.firstIndex(of: 0) else { Issue.record("member without NUL"); continue }
                found[String(decoding: member[(cut + 1)...], as: UTF8.self), default: []].insert(String(decoding: member[..<cut], as: UTF8.self))
            }
            var wanted: [String: Set<String>] = [:]
            for (id, entry) in live {
                wanted[id] = Set(EntryCodec.sources(of: entry, profile: RecallRanking.Profile(entry), indexesWords: true).split(separator: "\n").map(String.init))
            }
            #expect(found == wanted)
            var cursor = "0"
            var hashes: Set<String> = []
            repeat {
                let reply = try await connection.send("SCAN", cursor, "MATCH", prefix + "e:*", "COUNT", 1000).array()
                cursor = try reply[0].string()
                for key in try reply[1].array() { hashes.insert(String(try key.string().dropFirst(prefix.count + 2))) }
            } while cursor != "0"
            #expect(hashes == Set(live.keys))
            if live.isEmpty {
                for key in ["i", "p", "r", "x"] { #expect(try await connection.send("EXISTS", prefix + key).int() == 0) }
            }
            await connection.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func writeOnlyTagsStayWithinLiveEntriesPlusOnePrune(backend: Backend) async throws {
        let namespace = "writeonly-\(UUID().uuidString)"
        let adapter = try backend.adapter(namespace: namespace, store: InMemoryStore())
        let connection = try await RedisConnection.connect(Backend.redisConfiguration)
        let source = "t" + RedisKeyspace.hex("hot")
        let key = RedisKeyspace(namespace: namespace).lexIndex(.ephemeral)
        let policy = TierPolicy(ttl: .seconds(1))
        var now = Milliseconds.truncated(Date())
        var expiries: [Date] = []
        var worst = 0
        for index in 0..<3000 {
            let entry = MemoryEntry(
                id: String(format: "%06d", index), text: "event \(index)", tier: .ephemeral, importance: 0.5, tags: ["hot"],
                createdAt: now, expiresAt: now + 1, lastAccessedAt: now)
            _ = try await adapter.store(entry, policy: policy, now: now)
            expiries.append(entry.expiresAt)
            now += 0.01
            if index % 25 == 0 {
                let live = expiries.filter { $0 > now }.count
                let members: Int
                switch backend {
                case .inMemory:
                    members = (adapter as? InMemoryAdapter)?.indexSnapshot(tier: .ephemeral).index[.tag("hot")]?.count ?? -1
                case .redis, .cluster, .tls:
                    members = Int(try await connection.send("ZLEXCOUNT", key, "[\(source)\u{0}", "(\(source)\u{1}").int())
                }
                worst = max(worst, members - live)
                // A tag that is never read holds its live entries plus at most what expired since the last write.
                #expect(members <= live + RedisAdapter.prunePerWrite, "after \(index) stores: \(members) members, \(live) live")
            }
        }
        #expect(worst <= 2)
        _ = try await adapter.clear(tier: .ephemeral, now: now)
        await connection.close()
        await adapter.close()
    }
}
