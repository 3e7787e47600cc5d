import Axon
import Foundation
import Hiredis
import Synchronization

/// The memory layer through `RedisAdapter`: store (also a 10-word text with and without the word index, and
/// while 8 tasks recall), get, forget, and recall by text, tag and session over tiers of `recallSizes`
/// entries, with a selective query (10 matches) and with a word or tag every entry has.
enum MemoryWorkloads {
    static func make(
        configuration: RedisConfiguration, recallSizes: [Int], progress: @escaping @Sendable (String) -> Void
    ) throws -> (workloads: [Workload], setup: Setup) {
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 4)
        let run = UUID().uuidString.prefix(8)
        let adapter = RedisAdapter(pool: pool, namespace: "bench-\(run)")
        let ephemeral = try EphemeralPolicy(ttl: .seconds(60))
        let unindexed = try EphemeralPolicy(ttl: .seconds(60), indexesWords: false)
        let session = try SessionPolicy(ttl: .seconds(3600), maxEntries: 1_000_000, refreshOnRead: false)
        let memory = try MemorySystem(config: MemoryConfig(ephemeral: ephemeral, session: session), redis: adapter)
        let plainAdapter = RedisAdapter(pool: pool, namespace: "bench-noindex-\(run)")
        let plainMemory = try MemorySystem(config: MemoryConfig(ephemeral: unindexed), redis: plainAdapter)
        let ephemeralPolicy = ephemeral.tierPolicy
        let tiers = try recallSizes.map { size in
            try RecallTier(size: size, adapter: RedisAdapter(pool: pool, namespace: "bench-recall\(size)-\(run)"), policy: session)
        }
        let setup = Setup(
            pool: pool, memory: memory, plainMemory: plainMemory, tiers: tiers, progress: progress)
        let tenWords = "user asked about the weather in paris today please thanks"

        func storeRow(_ name: String, into system: MemorySystem, text: String, policy: TierPolicy, through storeAdapter: RedisAdapter) -> Workload {
            Workload(group: "memory", name: name, baseline: nil) { concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                    _ = try await system.store(text, importance: 0.5, tier: .ephemeral, tags: ["bench"])
                }
            }.comparedWith(name) {
                try await storeBaseline(name, text: text, adapter: storeAdapter, policy: policy)
            }
        }

        var workloads = [
            storeRow("memory.store", into: memory, text: "bench entry from a worker", policy: ephemeralPolicy, through: adapter),
            storeRow("memory.store.words10", into: memory, text: tenWords, policy: ephemeralPolicy, through: adapter),
            storeRow("memory.store.words10.noindex", into: plainMemory, text: tenWords, policy: unindexed.tierPolicy, through: plainAdapter),
            Workload(group: "memory", name: "memory.get", baseline: nil) { concurrency, limits in
                let id = try await memory.store("the entry every get reads", tier: .ephemeral, tags: ["bench"])
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                    _ = try await memory.get(id, tier: .ephemeral)
                }
            }.comparedWith("memory.get") {
                let id = try await memory.store("the entry every get reads", tier: .ephemeral, tags: ["bench"])
                let command = try await adapter.getCommand(id: id, tier: .ephemeral, policy: ephemeralPolicy, now: Date())
                return BaselineCommand(key: "memory.get", commands: [command])
            },
            Workload(group: "memory", name: "memory.forget", baseline: nil) { concurrency, limits in
                let ids = try await setup.storeForForget(count: 20_000)
                let next = Locked(0)
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                    let index = next.increment()
                    _ = try await memory.forget(index < ids.count ? ids[index] : "absent\(index)", tier: .ephemeral)
                }
            }.comparedWith("memory.forget") {
                // Each operation forgets an entry that does not exist: a little less server work than ours.
                BaselineCommand(
                    key: "memory.forget", commands: [try await adapter.forgetCommand(id: BaselineCommand.uniqueMarker, tier: .ephemeral, now: Date())])
            },
            batchRow(memory: memory, adapter: adapter, policy: ephemeralPolicy),
            importRow(pool: pool, run: String(run), session: session),
        ]
        for tier in tiers {
            let label = tier.label
            let rows: [(String, String, MemoryFilter)] = [
                ("memory.recall.text.\(label)", "needle", .none),
                ("memory.recall.text.every.\(label)", "common", .none),
                ("memory.recall.tag.\(label)", "", MemoryFilter(tags: ["needle"])),
                ("memory.recall.tag.every.\(label)", "", MemoryFilter(tags: ["all"])),
            ]
            for (name, query, filter) in rows { workloads.append(recallRow(name, tier: tier, setup: setup, query: query, filter: filter)) }
        }
        if let first = tiers.first {
            // Where a selective recall's time goes: the same EVALSHA through the pool, its reply not decoded.
            workloads.append(recallCommandRow("memory.recall.text.\(first.label).command", tier: first, setup: setup, query: "needle"))
        }
        if let largest = tiers.max(by: { $0.size < $1.size }) {
            // The seed's session example: a session's entries among every other entry of the tier.
            workloads.append(recallRow(
                "memory.recall.session.\(largest.label)", tier: largest, setup: setup, query: "session",
                filter: MemoryFilter(sessionID: RecallTier.sessionOfTen)))
            workloads.append(recallRow(
                "memory.recall.tag.unrelated100k", tier: tiers[0], setup: setup, query: "", filter: MemoryFilter(tags: ["needle"]),
                unrelatedKeys: 100_000))
            // Stores right before and while 8 tasks recall by text ("common", in every entry) in the largest tier: the
            // pair is compared in the targets table. Both run after the tier is filled and minutes into the run, when
            // the entries the first store rows made are expiring (each store prunes a bounded number of them), so the
            // "before" row, not `memory.store`, is the fair "alone".
            for recalling in [false, true] {
                workloads.append(Workload(
                    group: "memory", name: recalling ? "memory.store.during-recall" : "memory.store.before-recall", baseline: nil
                ) { concurrency, limits in
                    try await setup.fill(largest)
                    let stop = Locked(0)
                    let recallers = Task {
                        guard recalling else { return }
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for _ in 0..<8 {
                                group.addTask {
                                    while stop.current == 0 { _ = try await largest.memory.recall("common", tier: .session, limit: 10) }
                                }
                            }
                            try await group.waitForAll()
                        }
                    }
                    defer { _ = stop.increment() }
                    let measurement = try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                        _ = try await memory.store("bench entry from a worker", importance: 0.5, tier: .ephemeral, tags: ["bench"])
                    }
                    _ = stop.increment()
                    try await recallers.value
                    return measurement
                }.comparedWith("memory.store") {
                    try await storeBaseline("memory.store", text: "bench entry from a worker", adapter: adapter, policy: ephemeralPolicy)
                })
            }
        }
        return (workloads, setup)
    }

    /// The C client's twin of a store row: the same entry (importance 0.5, tag `bench`, 60 s) under a fresh id per
    /// operation, through `adapter`'s store script.
    static func storeBaseline(_ key: String, text: String, adapter: RedisAdapter, policy: TierPolicy) async throws -> BaselineCommand {
        let now = Date()
        let entry = MemoryEntry(
            id: BaselineCommand.uniqueMarker, text: text, tier: .ephemeral, importance: 0.5, tags: ["bench"],
            createdAt: now, expiresAt: now + 60, lastAccessedAt: now)
        return BaselineCommand(key: key, commands: [try await adapter.storeCommand(entry, policy: policy, now: now)])
    }

    /// `storeBatch` of 100 entries per operation (one caller), against the C client writing the same batch store
    /// scripts in one pipeline (fresh ids per operation on both sides).
    static func batchRow(memory: MemorySystem, adapter: RedisAdapter, policy: TierPolicy) -> Workload {
        let inputs = (0..<100).map { MemorySystem.Input("batch entry \($0) from a worker", importance: 0.5, tier: .ephemeral, tags: ["bench"]) }
        return Workload(group: "memory", name: "memory.storeBatch.100", baseline: nil, fixedConcurrency: 1) { concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                _ = try await memory.storeBatch(inputs)
            }
        }.comparedWith("memory.storeBatch.100") {
            let now = Date()
            let entries = inputs.indices.map { index in
                MemoryEntry(
                    id: BaselineCommand.uniqueMarker + "b\(index)", text: inputs[index].text, tier: .ephemeral, importance: 0.5, tags: ["bench"],
                    createdAt: now, expiresAt: now + 60, lastAccessedAt: now)
            }
            let commands = try await adapter.storeAllCommands(entries, policies: entries.map { _ in policy }, now: now)
            return BaselineCommand(key: "memory.storeBatch.100", commands: commands, pipelined: true)
        }
    }

    /// `import` of a 1,000-line export per operation (one caller; the same ids each time, so every operation after
    /// the first replaces them), against the C client writing the same batch store scripts in one pipeline.
    static func importRow(pool: RedisConnectionPool, run: String, session: SessionPolicy) -> Workload {
        let source = RedisAdapter(pool: pool, namespace: "bench-export-\(run)")
        let target = RedisAdapter(pool: pool, namespace: "bench-import-\(run)")
        let exported = Mutex<String?>(nil)
        @Sendable func export() async throws -> String {
            if let text = exported.withLock({ $0 }) { return text }
            let system = try MemorySystem(config: MemoryConfig(session: session), redis: source)
            _ = try await system.storeBatch((0..<1000).map {
                .init("imported entry \($0) about w\($0 % 97) and c\($0 % 13)", importance: 0.5, tier: .session, tags: ["t\($0 % 20)"])
            })
            let text = try await system.export(tier: .session)
            _ = try await system.clear(tier: .session)
            exported.withLock { $0 = text }
            return text
        }
        return Workload(group: "memory", name: "memory.import.1000", baseline: nil, fixedConcurrency: 1) { concurrency, limits in
            let text = try await export()
            let system = try MemorySystem(config: MemoryConfig(session: session), redis: target)
            let measurement = try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                guard try await system.import(text) == 1000 else { throw BenchError("memory.import.1000 did not import 1000 entries") }
            }
            _ = try await system.clear(tier: .session)
            return measurement
        }.comparedWith("memory.import.1000") {
            let now = Date()
            var entries: [MemoryEntry] = []
            for line in try await export().split(separator: "\n") {
                var entry = try MemoryEntryJSON.decoder.decode(MemoryEntry.self, from: Data(line.utf8))
                entry.expiresAt = min(entry.expiresAt, now + 3600)
                entries.append(entry)
            }
            let commands = try await target.storeAllCommands(entries, policies: entries.map { _ in session.tierPolicy }, now: now)
            return BaselineCommand(key: "memory.import.1000", commands: commands, pipelined: true)
        }
    }

    /// A recall row and its baseline: the same script call from the C client.
    static func recallRow(
        _ name: String, tier: RecallTier, setup: Setup, query: String, filter: MemoryFilter, unrelatedKeys: Int = 0
    ) -> Workload {
        var row = Workload(group: "memory", name: name, baseline: nil) { concurrency, limits in
            try await setup.fill(tier)
            if unrelatedKeys > 0 { try await setup.addUnrelatedKeys(unrelatedKeys) }
            return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                let found = try await tier.memory.recall(query, tier: .session, filter: filter, limit: 10)
                guard found.count == 10 else { throw BenchError("\(name) found \(found.count) entries, expected 10") }
            }
        }.comparedWith(name) {
            try await setup.fill(tier)
            let request = RecallQuery(text: query, filter: filter, limit: 10, budget: tier.policy.recallBudget)
            let command = try await tier.adapter.recallCommand(request, tier: .session, policy: tier.policy.tierPolicy, now: Date())
            return BaselineCommand(key: name, commands: [command])
        }
        row.besideConnectionGet = true
        return row
    }

    /// The EVALSHA a recall row sends, sent as a command through the pool (the reply is checked for 10 entries, not
    /// decoded), beside the C client sending it: our connection's share of a recall.
    static func recallCommandRow(_ name: String, tier: RecallTier, setup: Setup, query: String) -> Workload {
        @Sendable func prepared() async throws -> RedisCommand {
            try await setup.fill(tier)
            let request = RecallQuery(text: query, filter: .none, limit: 10, budget: tier.policy.recallBudget)
            return try await tier.adapter.recallCommand(request, tier: .session, policy: tier.policy.tierPolicy, now: Date())
        }
        return Workload(group: "memory", name: name, baseline: nil) { concurrency, limits in
            let recall = try await prepared()
            return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                let reply = try await setup.pool.send(recall).array()
                guard reply.count == 32 else { throw BenchError("\(name) returned \(reply.count) values, expected 32") }
            }
        }.comparedWith(name) {
            BaselineCommand(key: name, commands: [try await prepared()])
        }
    }

    /// A session tier of `size` entries for the recall rows: every entry has the word "common", the tag "all",
    /// the word "session"; 10 have the word and tag "needle"; sessions hold 10 entries each.
    struct RecallTier: Sendable {
        let size: Int
        let adapter: RedisAdapter
        let policy: SessionPolicy
        let memory: MemorySystem

        /// A session with 10 entries.
        static let sessionOfTen = "sess_abc123"

        init(size: Int, adapter: RedisAdapter, policy: SessionPolicy) throws {
            self.size = size
            self.adapter = adapter
            self.policy = policy
            memory = try MemorySystem(config: MemoryConfig(session: policy), redis: adapter)
        }

        var label: String { size % 1000 == 0 ? "\(size / 1000)k" : "\(size)" }

        func inputs() -> [MemorySystem.Input] {
            let needleEvery = max(1, size / 10)
            return (0..<size).map { index in
                let needle = index % needleEvery == 7 % needleEvery
                let filler = "w\((index * 7919) % 5000) w\((index * 104_729) % 5000)"
                return MemorySystem.Input(
                    "session event \(index): user u\(index % 1000) logged in \(filler) \(needle ? "needle" : "hay") common",
                    importance: Double(index % 10) / 10, tier: .session, tags: needle ? ["all", "needle"] : ["all", "hay\(index % 1000)"],
                    sessionID: index / 10 == size / 20 ? Self.sessionOfTen : "sess\(index / 10)")
            }
        }
    }

    /// Data the workloads need, made once per run, and removed by `cleanUp`.
    final class Setup: Sendable {
        let pool: RedisConnectionPool
        let memory: MemorySystem
        let plainMemory: MemorySystem
        let tiers: [RecallTier]
        let progress: @Sendable (String) -> Void
        private let filled = Mutex<Set<Int>>([])
        private let unrelated = Mutex(0)
        /// The slow log's entries taken aside (then reset) right before each fill, which belong to the measured rows,
        /// and right after it, which belong to the fill: the report tells the setup's slow commands from the rows'.
        let slowBeforeFills = Mutex<[RedisReply]>([])
        let slowDuringFills = Mutex<[RedisReply]>([])

        init(
            pool: RedisConnectionPool, memory: MemorySystem, plainMemory: MemorySystem, tiers: [RecallTier],
            progress: @escaping @Sendable (String) -> Void
        ) {
            self.pool = pool
            self.memory = memory
            self.plainMemory = plainMemory
            self.tiers = tiers
            self.progress = progress
        }

        func storeForForget(count: Int) async throws -> [String] {
            try await memory.storeBatch((0..<count).map { .init("forget me \($0)", tier: .ephemeral) })
        }

        /// Stores the tier's entries once, 4 batches at a time (more writers only compete with the server for the
        /// two cores of the machine this runs on: with 16, batch scripts of 1 ms showed 5-8 ms in the slow log).
        /// Then moves the slow log's entries aside (`slowDuringFills`).
        func fill(_ tier: RecallTier) async throws {
            guard filled.withLock({ $0.insert(tier.size).inserted }) else { return }
            progress("storing \(tier.size) entries for the recall workloads")
            let slow = [RedisCommand("SLOWLOG", "GET", 128), RedisCommand("SLOWLOG", "RESET")]
            if let entries = try? await pool.pipeline(slow).first?.array() { slowBeforeFills.withLock { $0 += entries } }
            let inputs = tier.inputs()
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func add() {
                    guard next < inputs.count else { return }
                    let slice = Array(inputs[next..<min(next + 250, inputs.count)])
                    next += 250
                    group.addTask { _ = try await tier.memory.storeBatch(slice) }
                }
                for _ in 0..<4 { add() }
                while try await group.next() != nil { add() }
            }
            if let entries = try? await pool.pipeline(slow).first?.array() { slowDuringFills.withLock { $0 += entries } }
        }

        /// Plain keys outside any namespace, so the database is not just ours.
        func addUnrelatedKeys(_ count: Int) async throws {
            guard unrelated.withLock({ let was = $0; $0 = max($0, count); return was == 0 }) else { return }
            progress("adding \(count) unrelated keys")
            for start in stride(from: 0, to: count, by: 1000) {
                _ = try await pool.pipeline((start..<min(start + 1000, count)).map { RedisCommand("SET", "bench:unrelated:\($0)", "x") })
            }
        }

        /// Redis memory per entry of `count` 10-word entries with and without the word index: `used_memory`
        /// before and after storing them in a namespace of their own (run before the workloads, while nothing
        /// else changes the database), then cleared.
        func footprint(count: Int) async throws -> (indexed: Double, unindexed: Double) {
            func measure(_ system: MemorySystem) async throws -> Double {
                let inputs = (0..<count).map { index in
                    MemorySystem.Input(
                        "user \(index) asked about w\(index % 997) in c\(index % 89) today please thanks", importance: 0.5,
                        tier: .ephemeral, tags: ["t\(index % 50)"])
                }
                let before = try await usedMemory()
                for chunk in stride(from: 0, to: count, by: 500) { _ = try await system.storeBatch(Array(inputs[chunk..<min(chunk + 500, count)])) }
                let after = try await usedMemory()
                _ = try await system.clear(tier: .ephemeral)
                return Double(after - before) / Double(count)
            }
            return (try await measure(memory), try await measure(plainMemory))
        }

        private func usedMemory() async throws -> Int {
            let info = try await pool.send("INFO", "memory").string()
            for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("used_memory:") {
                return Int(line.dropFirst("used_memory:".count)) ?? 0
            }
            throw BenchError("INFO memory has no used_memory line")
        }

        func cleanUp() async {
            _ = try? await memory.clear(tier: .ephemeral)
            _ = try? await plainMemory.clear(tier: .ephemeral)
            for tier in tiers { _ = try? await tier.memory.clear(tier: .session) }
            let count = unrelated.withLock { $0 }
            for start in stride(from: 0, to: count, by: 1000) {
                _ = try? await pool.pipeline((start..<min(start + 1000, count)).map { RedisCommand("UNLINK", "bench:unrelated:\($0)") })
            }
        }
    }
}

/// A counter shared by workers.
final class Locked: Sendable {
    private let value: Mutex<Int>
    init(_ value: Int) { self.value = Mutex(value) }
    /// Returns the current value and adds one.
    func increment() -> Int { value.withLock { let current = $0; $0 += 1; return current } }
    /// The current value.
    var current: Int { value.withLock { $0 } }
}
