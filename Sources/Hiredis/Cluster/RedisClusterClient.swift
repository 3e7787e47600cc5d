import Foundation
import Logging
import Synchronization

/// A client for Redis Cluster with the same API as `RedisConnectionPool` (`RedisClient`), so the memory layer
/// and the primitives run on a cluster unchanged.
///
/// - **Slot map** from `CLUSTER SHARDS` (`CLUSTER SLOTS` on servers without it), read from the seeds on first
///   use, again on every redirect and connection error, and every `topologyRefreshInterval`.
/// - **Routing.** A command goes to the primary serving its keys' slot (CRC16 of the key or its hash tag);
///   scripts by their first `KEYS` entry. A command whose keys span slots fails with `crossSlot` before it is
///   sent. Keyless commands go to the first primary (by address); `SCRIPT` subcommands go to every primary.
/// - **One `RedisConnectionPool` per primary**, multiplexed as on a single server: no extra round trip per
///   command in steady state.
/// - **Redirects and transient states.** `MOVED` updates the map and resends to the new owner; `ASK` sends
///   `ASKING` and the command together to the importing node, once; `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` and
///   `MASTERDOWN` are retried with backoff (20 ms doubling, at most 6 attempts, about 1.5 s in all). A command
///   whose connect failed is retried after re-reading the map (it was never sent); one whose connection broke
///   after it was sent is not (it may have run), so the caller sees `connectionClosed`.
/// - **Pipelines** are split by node, sent concurrently, and reassembled in order; an element answered with a
///   redirect is resent on its own.
/// - Blocking and connection-state commands are refused as by the pool (see `RedisConnectionPool.send`).
public final class RedisClusterClient: RedisClient {
    /// Seeds and node settings.
    public let configuration: RedisClusterConfiguration
    private let logger: Logger
    private let telemetry: Telemetry
    private let state: Mutex<State>
    private let refreshIntervalNanoseconds: UInt64
    static let maxAttempts = 6

    private struct State {
        var topology: ClusterTopology? { didSet { snapshot = makeSnapshot() } }
        var pools: [ClusterTopology.Node: RedisConnectionPool] = [:] { didSet { snapshot = makeSnapshot() } }
        var commandKeys = CommandKeys.builtIn { didSet { snapshot = makeSnapshot() } }
        var commandTableLoaded = false
        var refreshedAt: ContinuousClock.Instant?
        /// When the map was last read (coarse monotonic nanoseconds).
        var refreshedAtNanoseconds: UInt64 = 0 { didSet { snapshot = makeSnapshot() } }
        var refresh: Task<ClusterTopology, any Error>?
        var closed = false
        /// What the hot path reads: taken under the lock (one retain), used outside it.
        var snapshot: RoutingSnapshot?

        func makeSnapshot() -> RoutingSnapshot? {
            guard let topology else { return nil }
            return RoutingSnapshot(
                topology: topology, commandKeys: commandKeys, pools: topology.primaries.map { pools[$0] },
                refreshedAtNanoseconds: refreshedAtNanoseconds)
        }
    }

    /// An immutable view of the routing state, replaced whenever the map, the pools or the command table change.
    private final class RoutingSnapshot: Sendable {
        let topology: ClusterTopology
        let commandKeys: CommandKeys
        /// The pool of each of `topology.primaries`, by index: a slot's pool without hashing an address.
        let pools: [RedisConnectionPool?]
        let refreshedAtNanoseconds: UInt64

        init(topology: ClusterTopology, commandKeys: CommandKeys, pools: [RedisConnectionPool?], refreshedAtNanoseconds: UInt64) {
            self.topology = topology
            self.commandKeys = commandKeys
            self.pools = pools
            self.refreshedAtNanoseconds = refreshedAtNanoseconds
        }
    }

    /// A client; nothing connects until the first command.
    public init(
        configuration: RedisClusterConfiguration, logger: Logger = Logger(label: "axon.redis.cluster"), telemetry: Telemetry = Telemetry()
    ) throws(RedisError) {
        guard !configuration.seeds.isEmpty else { throw RedisError(.invalidArgument, "a cluster needs at least one seed node") }
        guard configuration.maxConnectionsPerNode >= 1 else { throw RedisError(.invalidArgument, "maxConnectionsPerNode must be at least 1") }
        try configuration.node.validate()
        self.configuration = configuration
        self.logger = logger
        self.telemetry = telemetry
        refreshIntervalNanoseconds = configuration.topologyRefreshInterval.nanoseconds
        state = Mutex(State())
    }

    /// The seeds, for messages.
    public var endpointDescription: String { "cluster " + configuration.seeds.map(\.description).joined(separator: ",") }

    /// The slot map as last read (`nil` before the first command).
    public var topology: ClusterTopology? { state.withLock { $0.topology } }

    // MARK: Commands

    /// Sends one command to the node serving its keys; an error reply throws `serverError`.
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        if let refusal = SharedConnectionRule.refusal(command) { throw RedisError(.invalidArgument, refusal) }
        if command.name.utf8.count == 6, command.name.uppercased() == "SCRIPT" { return try await broadcast(command) }
        // The common case: a keyed command whose slot's pool exists and a fresh map, decided outside the lock.
        let now = MonotonicClock.coarseNanoseconds()
        var fast: (pool: RedisConnectionPool, slot: Int)?
        if let snapshot = state.withLock({ $0.snapshot }), now &- snapshot.refreshedAtNanoseconds <= refreshIntervalNanoseconds,
           case .slot(let slot) = snapshot.commandKeys.keys(of: command), let index = snapshot.topology.primaryIndex(for: slot),
           index < snapshot.pools.count, let pool = snapshot.pools[index] {
            fast = (pool, slot)
        }
        if let fast {
            do {
                return try await fast.pool.send(command)
            } catch let error as RedisError where error.code == .serverError && ClusterRedirect(errorMessage: error.message) != nil
                || Self.neverSent(error) {
                let node = current(fast.slot) ?? configuration.seeds[0]
                return try await execute(command, at: node, slot: fast.slot)
            }
        }
        let (node, slot) = try await route(command)
        return try await execute(command, at: node, slot: slot)
    }

    /// Sends `name` with `arguments`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisReply {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends the commands, split by node and sent concurrently, and returns the replies in order (error replies
    /// as `.error` elements). A command whose keys span slots fails the whole pipeline before anything is sent.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        var routes: [(node: ClusterTopology.Node, slot: Int?)] = []
        routes.reserveCapacity(commands.count)
        for command in commands {
            if let refusal = SharedConnectionRule.refusal(command) { throw RedisError(.invalidArgument, refusal) }
            routes.append(try await route(command))
        }
        var groups: [ClusterTopology.Node: [Int]] = [:]
        for (index, route) in routes.enumerated() { groups[route.node, default: []].append(index) }
        var replies = [RedisReply](repeating: .null, count: commands.count)
        try await withThrowingTaskGroup(of: ([Int], [RedisReply]).self) { group in
            for (node, indexes) in groups {
                let pool = try self.pool(for: node)
                group.addTask { (indexes, try await pool.pipeline(indexes.map { commands[$0] })) }
            }
            for try await (indexes, answers) in group {
                for (index, answer) in zip(indexes, answers) { replies[index] = answer }
            }
        }
        // Elements answered with a redirect or a transient error are resent one by one.
        for index in replies.indices {
            guard case .error(let message) = replies[index], ClusterRedirect(errorMessage: message) != nil else { continue }
            do {
                replies[index] = try await execute(commands[index], at: routes[index].node, slot: routes[index].slot)
            } catch let error as RedisError where error.code == .serverError {
                replies[index] = .error(error.message)
            }
        }
        return replies
    }

    /// Closes every node's pool.
    public func close() async {
        let pools = state.withLock { state -> [RedisConnectionPool] in
            state.closed = true
            state.refresh?.cancel()
            return Array(state.pools.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for pool in pools { group.addTask { await pool.close() } }
        }
    }

    // MARK: Routing

    /// The node for `command` and its slot (`nil` for a keyless command).
    private func route(_ command: RedisCommand) async throws -> (node: ClusterTopology.Node, slot: Int?) {
        let (keys, topology, stale) = state.withLock { state in
            (state.commandKeys.keys(of: command), state.topology,
             state.refreshedAt.map { ContinuousClock.now - $0 > configuration.topologyRefreshInterval } ?? true)
        }
        var map: ClusterTopology
        if let topology {
            map = topology
            if stale { startRefresh() }
        } else {
            map = try await refreshTopology()
        }
        var keysOfCommand = keys
        if keysOfCommand == .unknown { keysOfCommand = try await keysFromServer(command, topology: map) }
        switch keysOfCommand {
        case .crossSlot:
            throw RedisError(
                .crossSlot,
                "\(command.name)'s keys hash to different slots of the cluster, so no node can run it: give related keys one hash tag, like {user42}:a and {user42}:b")
        case .slot(let slot):
            if let node = map.primary(for: slot) { return (node, slot) }
            map = try await refreshTopology()
            guard let node = map.primary(for: slot) else {
                throw RedisError(.clusterUnavailable, "no node of \(endpointDescription) serves slot \(slot) (CLUSTERDOWN)")
            }
            return (node, slot)
        case .none, .unknown:
            guard let node = map.primaries.first else {
                throw RedisError(.clusterUnavailable, "\(endpointDescription) has no primary serving slots")
            }
            return (node, nil)
        }
    }

    /// Keys of a command the table cannot place, from `COMMAND GETKEYS` (one round trip; rare commands only).
    private func keysFromServer(_ command: RedisCommand, topology: ClusterTopology) async throws -> CommandKeys.Keys {
        guard let node = topology.primaries.first else { return .none }
        var getKeys = RedisCommand("COMMAND", "GETKEYS")
        for argument in command.arguments { getKeys.append(argument) }
        guard let reply = try? await pool(for: node).send(getKeys), let keys = try? reply.array() else { return .none }
        var slot: Int?
        for key in keys {
            guard let bytes = try? key.bytes() else { continue }
            let keySlot = HashSlot.of(bytes)
            if let slot, slot != keySlot { return .crossSlot }
            slot = keySlot
        }
        return slot.map(CommandKeys.Keys.slot) ?? .none
    }

    /// Sends `command` to `node`, following redirects and retrying transient failures (see the type's notes).
    private func execute(_ command: RedisCommand, at start: ClusterTopology.Node, slot: Int?) async throws -> RedisReply {
        var node = start
        var asking = false
        var lastError: RedisError?
        for attempt in 0..<Self.maxAttempts {
            let pool = try self.pool(for: node)
            do {
                if asking {
                    let replies = try await pool.pipeline([RedisCommand("ASKING"), command])
                    guard replies.count == 2 else { throw RedisError(.unexpectedReply, "ASKING pipeline returned \(replies.count) replies") }
                    if case .error(let message) = replies[1] { throw RedisError(.serverError, message) }
                    return replies[1]
                }
                return try await pool.send(command)
            } catch let error as RedisError {
                lastError = error
                asking = false
                if error.code == .serverError, let redirect = ClusterRedirect(errorMessage: error.message) {
                    switch redirect {
                    case .moved(let movedSlot, let target):
                        state.withLock { $0.topology?.move(slot: movedSlot, to: target) }
                        startRefresh()
                        node = target
                    case .ask(let target):
                        node = target
                        asking = true
                    case .retry(let reason):
                        try await Task.sleep(for: Self.backoff(attempt))
                        if reason == "CLUSTERDOWN" || reason == "MASTERDOWN" { _ = try? await refreshTopology() }
                        node = current(slot) ?? node
                    }
                    continue
                }
                guard Self.neverSent(error) else { throw error }
                // The node is unreachable; it may have failed over. Read the map again and retry.
                try await Task.sleep(for: Self.backoff(attempt))
                _ = try? await refreshTopology()
                node = current(slot) ?? node
            }
        }
        throw RedisError(
            .clusterUnavailable,
            "\(command.name) on \(endpointDescription) failed after \(Self.maxAttempts) attempts: \(lastError?.message ?? "no reply")")
    }

    /// `SCRIPT ...` on every primary (a script must be loaded where its keys live); returns the first reply.
    private func broadcast(_ command: RedisCommand) async throws -> RedisReply {
        var map = state.withLock { $0.topology }
        if map == nil { map = try await refreshTopology() }
        let primaries = map?.primaries ?? []
        guard !primaries.isEmpty else { throw RedisError(.clusterUnavailable, "\(endpointDescription) has no primary") }
        var first: RedisReply?
        for node in primaries {
            let reply = try await execute(command, at: node, slot: nil)
            if first == nil { first = reply }
        }
        return first ?? .null
    }

    /// The primary serving `slot` in the current map.
    private func current(_ slot: Int?) -> ClusterTopology.Node? {
        guard let slot else { return nil }
        return state.withLock { $0.topology?.primary(for: slot) }
    }

    /// Errors that mean the command never reached the server, so resending it cannot run it twice.
    static func neverSent(_ error: RedisError) -> Bool {
        [.connectionRefused, .connectionFailed, .connectTimeout, .poolExhausted].contains(error.code)
    }

    static func backoff(_ attempt: Int) -> Duration {
        .milliseconds(min(20 << min(attempt, 5), 500))
    }

    // MARK: Topology

    private func pool(for node: ClusterTopology.Node) throws -> RedisConnectionPool {
        let existing = state.withLock { state -> (RedisConnectionPool?, Bool) in (state.pools[node], state.closed) }
        if existing.1 { throw RedisError(.poolClosed, "the cluster client is closed; create a new one") }
        if let pool = existing.0 { return pool }
        let made = try RedisConnectionPool(
            configuration: configuration.configuration(for: node), maxConnections: configuration.maxConnectionsPerNode, logger: logger,
            telemetry: telemetry)
        return state.withLock { state in
            if let raced = state.pools[node] { return raced }
            state.pools[node] = made
            return made
        }
    }

    private func startRefresh() {
        Task { _ = try? await self.refreshTopology() }
    }

    /// Reads the slot map (one read at a time; concurrent callers share it) from a known primary or a seed.
    @discardableResult
    private func refreshTopology() async throws -> ClusterTopology {
        let task = state.withLock { state -> Task<ClusterTopology, any Error> in
            if let running = state.refresh { return running }
            let candidates = (state.topology?.primaries ?? []) + configuration.seeds
            let loadCommands = !state.commandTableLoaded
            let task = Task { try await self.readTopology(from: candidates, loadCommands: loadCommands) }
            state.refresh = task
            return task
        }
        do {
            let topology = try await task.value
            state.withLock { state in
                state.topology = topology
                state.refreshedAt = ContinuousClock.now
                state.refreshedAtNanoseconds = MonotonicClock.coarseNanoseconds()
                state.refresh = nil
            }
            return topology
        } catch {
            state.withLock { $0.refresh = nil }
            throw error
        }
    }

    private func readTopology(from candidates: [ClusterTopology.Node], loadCommands: Bool) async throws -> ClusterTopology {
        var failures: [String] = []
        var tried: Set<ClusterTopology.Node> = []
        for node in candidates where tried.insert(node).inserted {
            do {
                let pool = try self.pool(for: node)
                let topology: ClusterTopology
                do {
                    topology = try ClusterTopology.fromShards(
                        try await pool.send("CLUSTER", "SHARDS"), defaultHost: node.host, tls: configuration.node.tls != nil)
                } catch let error as RedisError where error.code == .serverError {
                    topology = try ClusterTopology.fromSlots(try await pool.send("CLUSTER", "SLOTS"), defaultHost: node.host)
                }
                guard !topology.primaries.isEmpty else {
                    failures.append("\(node): no slots assigned")
                    continue
                }
                if loadCommands, let reply = try? await pool.send("COMMAND"), let keys = try? CommandKeys(commandReply: reply) {
                    state.withLock { state in
                        state.commandKeys = keys
                        state.commandTableLoaded = true
                    }
                }
                logger.debug("redis cluster slot map read", metadata: [
                    "redis.endpoint": "\(node)", "redis.cluster.primaries": "\(topology.primaries.count)",
                ])
                return topology
            } catch let error as RedisError {
                failures.append("\(node): \(error.message)")
            }
        }
        throw RedisError(.clusterUnavailable, "could not read the slot map of \(endpointDescription): \(failures.joined(separator: "; "))")
    }
}
