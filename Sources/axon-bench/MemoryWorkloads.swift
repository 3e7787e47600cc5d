import Axon
import Foundation
import Hiredis
import Synchronization

/// The memory layer through `RedisAdapter`: store, get, forget, recall by tag (10 of a 10,000-entry
/// namespace, then again with 100,000 unrelated keys in the database), and recall by text.
enum MemoryWorkloads {
    static func make(
        configuration: RedisConfiguration, progress: @escaping @Sendable (String) -> Void
    ) throws -> (workloads: [Workload], cleanUp: @Sendable () async -> Void) {
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 4)
        let run = UUID().uuidString.prefix(8)
        let adapter = RedisAdapter(pool: pool, namespace: "bench-\(run)")
        let recallAdapter = RedisAdapter(pool: pool, namespace: "bench-recall-\(run)")
        let ephemeral = try EphemeralPolicy(ttl: .seconds(60))
        let session = try SessionPolicy(ttl: .seconds(600), maxEntries: 20_000, refreshOnRead: false)
        let config = MemoryConfig(ephemeral: ephemeral, session: session)
        let ephemeralPolicy = ephemeral.tierPolicy
        let memory = try MemorySystem(config: config, redis: adapter)
        let recallMemory = try MemorySystem(config: config, redis: recallAdapter)
        let state = Setup(pool: pool, memory: memory, recallMemory: recallMemory, progress: progress)
        let needle = MemoryFilter(tags: ["needle"])
        let recallNeedles: @Sendable (Int) async throws -> Void = { _ in
            let found = try await recallMemory.recall("", tier: .session, filter: needle, limit: 10)
            guard found.count == 10 else { throw BenchError("recall by tag found \(found.count) entries, expected 10") }
        }
        // Both tag-recall rows compare with the same script call (run after both, with the unrelated keys present).
        let recallByTag: @Sendable () async throws -> BaselineCommand = {
            try await state.fillRecallNamespace()
            let query = RecallQuery(text: "", filter: needle, limit: 10, budget: session.recallBudget)
            let command = try await recallAdapter.recallCommand(query, tier: .session, policy: session.tierPolicy, now: Date())
            return BaselineCommand(key: "memory.recall.tag", commands: [command])
        }
        let workloads = [
            Workload(group: "memory", name: "memory.store", baseline: nil) { concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { worker in
                    _ = try await memory.store("bench entry from worker \(worker)", importance: 0.5, tier: .ephemeral, tags: ["bench"])
                }
            }.comparedWith("memory.store") {
                // The same entry as worker 0's, under a fresh id per operation.
                let now = Date()
                let entry = MemoryEntry(
                    id: BaselineCommand.uniqueMarker, text: "bench entry from worker 0", tier: .ephemeral, importance: 0.5, tags: ["bench"],
                    createdAt: now, expiresAt: now + 60, lastAccessedAt: now)
                return BaselineCommand(key: "memory.store", commands: [try await adapter.storeCommand(entry, policy: ephemeralPolicy, now: now)])
            },
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
                let ids = try await state.storeForForget(count: 20_000)
                let next = Locked(0)
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                    let index = next.increment()
                    _ = try await memory.forget(index < ids.count ? ids[index] : "absent\(index)", tier: .ephemeral)
                }
            }.comparedWith("memory.forget") {
                // Each operation forgets an entry that does not exist: a little less server work than ours.
                BaselineCommand(key: "memory.forget", commands: [try await adapter.forgetCommand(id: BaselineCommand.uniqueMarker, tier: .ephemeral, now: Date())])
            },
            Workload(group: "memory", name: "memory.recall.tag", baseline: nil) { concurrency, limits in
                try await state.fillRecallNamespace()
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits, operation: recallNeedles)
            }.comparedWith("memory.recall.tag", recallByTag),
            Workload(group: "memory", name: "memory.recall.tag.unrelated100k", baseline: nil) { concurrency, limits in
                try await state.fillRecallNamespace()
                try await state.addUnrelatedKeys(100_000)
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits, operation: recallNeedles)
            }.comparedWith("memory.recall.tag", recallByTag),
            Workload(group: "memory", name: "memory.recall.text", baseline: nil) { concurrency, limits in
                try await state.fillRecallNamespace()
                return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in
                    _ = try await recallMemory.recall("needle seven", tier: .session, limit: 10)
                }
            }.comparedWith("memory.recall.text") {
                try await state.fillRecallNamespace()
                let query = RecallQuery(text: "needle seven", filter: .none, limit: 10, budget: session.recallBudget)
                let command = try await recallAdapter.recallCommand(query, tier: .session, policy: session.tierPolicy, now: Date())
                return BaselineCommand(key: "memory.recall.text", commands: [command])
            },
        ]
        return (workloads, { await state.cleanUp() })
    }

    /// Data the workloads need, made once per run, and removed by `cleanUp`.
    final class Setup: Sendable {
        let pool: RedisConnectionPool
        let memory: MemorySystem
        let recallMemory: MemorySystem
        let progress: @Sendable (String) -> Void
        private let filled = Mutex(false)
        private let unrelated = Mutex(0)

        init(pool: RedisConnectionPool, memory: MemorySystem, recallMemory: MemorySystem, progress: @escaping @Sendable (String) -> Void) {
            self.pool = pool
            self.memory = memory
            self.recallMemory = recallMemory
            self.progress = progress
        }

        func storeForForget(count: Int) async throws -> [String] {
            try await memory.storeBatch((0..<count).map { .init("forget me \($0)", tier: .ephemeral) })
        }

        /// 10,000 session entries, 10 of them tagged `needle`.
        func fillRecallNamespace() async throws {
            guard filled.withLock({ let was = $0; $0 = true; return !was }) else { return }
            progress("storing 10,000 entries for the recall workloads")
            let inputs = (0..<10_000).map { index in
                MemorySystem.Input(
                    index % 1000 == 7 ? "needle number \(index)" : "hay \(index) of the stack", importance: 0.5, tier: .session,
                    tags: index % 1000 == 7 ? ["needle"] : ["hay\(index % 100)"])
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for chunk in stride(from: 0, to: inputs.count, by: 500) {
                    let slice = Array(inputs[chunk..<min(chunk + 500, inputs.count)])
                    group.addTask { _ = try await self.recallMemory.storeBatch(slice) }
                }
                try await group.waitForAll()
            }
        }

        /// Plain keys outside any namespace, so the database is not just ours.
        func addUnrelatedKeys(_ count: Int) async throws {
            guard unrelated.withLock({ let was = $0; $0 = count; return was == 0 }) else { return }
            progress("adding \(count) unrelated keys")
            for start in stride(from: 0, to: count, by: 1000) {
                _ = try await pool.pipeline((start..<min(start + 1000, count)).map { RedisCommand("SET", "bench:unrelated:\($0)", "x") })
            }
        }

        func cleanUp() async {
            _ = try? await memory.clear(tier: .ephemeral)
            _ = try? await memory.clear(tier: .session)
            _ = try? await recallMemory.clear(tier: .session)
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
}
