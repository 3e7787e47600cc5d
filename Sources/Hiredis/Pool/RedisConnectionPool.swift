import Dispatch
import Logging
import Synchronization

/// Many tasks, few connections. Plain `send`s and `pipeline`s multiplex over the pool's connections (each
/// goes to the least-loaded one, pipelined by hiredis); `withConnection` leases a connection to one caller
/// for MULTI/EXEC, WATCH or blocking commands.
///
/// - Connections open lazily, up to `maxConnections`: the first caller opens one, and another opens when the
///   least-loaded connection has `openWhenInFlightAtLeast` commands in flight. More callers than
///   connections is normal: shared callers never wait for a free connection, only exclusive ones do.
/// - A connection busy moving a large request or reply (64 KiB or more, `RedisConnection.isMovingLargeValue`)
///   counts as `openWhenInFlightAtLeast` more commands in flight: small commands go around it, to another
///   connection (opened for them if needed), instead of queueing behind a large value on the same socket.
/// - An exclusive caller waits in FIFO order up to `leaseTimeout`, then fails with `poolExhausted` (whose
///   message suggests raising limits only when every connection is leased).
/// - A shared caller that arrives while the pool (re)opens a connection waits for that connect: it is served
///   when the connect completes, or fails with the connect's own error (refused, timed out, auth) when it fails,
///   so at most `configuration.connectTimeout` later; its command then runs under the command timeout.
/// - A connection that closes (server gone, command timeout) leaves the pool; the next caller opens a
///   replacement. When connecting fails, reconnects back off exponentially (50 ms doubling to 1 s, with
///   jitter) and callers in that window fail at once with the last connect error, naming the server;
///   with the server down, a caller fails within the connect timeout instead of hanging.
/// - A connection idle longer than `idleCheckAfter` is PINGed before reuse.
/// - `withConnection`: if `body` throws, the connection is closed rather than returned, since its state
///   (an open MULTI, WATCHed keys) is unknown. If it returns, the connection goes back as it is.
/// - `close()` drains: new calls fail with `poolClosed`, in-flight commands finish, every socket closes.
///
/// Logging (`Logger` passed in): `debug` connection opened/closed, `info` connection broken, `warning`
/// connect failed and lease timeout; metadata `redis.endpoint`, `redis.pool.connection`, `redis.error`.
public final class RedisConnectionPool: Sendable {
    /// A snapshot of the pool's counters.
    public struct Statistics: Sendable, Hashable, CustomStringConvertible {
        /// Connections open (shared or leased).
        public var open: Int
        /// Open shared connections with nothing in flight.
        public var idle: Int
        /// Connections leased through `withConnection`.
        public var leased: Int
        /// Callers waiting for a connection.
        public var waiting: Int
        /// Connections opened successfully since the pool was created.
        public var totalCreated: Int
        /// Failed connect attempts plus connections that broke, since the pool was created.
        public var totalFailed: Int

        public var description: String {
            "open \(open), idle \(idle), leased \(leased), waiting \(waiting), created \(totalCreated), failed \(totalFailed)"
        }
    }

    /// The configuration every connection uses.
    public let configuration: RedisConfiguration
    /// The most connections the pool opens.
    public let maxConnections: Int
    /// How long an exclusive caller waits for a connection.
    public let leaseTimeout: Duration
    private let idleCheckNanoseconds: UInt64
    /// What a connection busy moving a large value adds to its load (`openWhenInFlightAtLeast`).
    private let busyLoad: Int
    private let logger: Logger
    private let state: Mutex<State>
    /// With Sentinel: where the master is asked for on every (re)connect.
    private let sentinel: SentinelResolver?
    /// Metrics and spans for the pool's connections (and its own gauges, `PoolMetrics`).
    private let telemetry: Telemetry
    private let metrics: PoolMetrics?

    /// One connection of the pool and when it was last handed out.
    final class PooledConnection: Sendable {
        let id: Int
        let connection: RedisConnection
        let lastUsed: Atomic<UInt64>

        init(id: Int, connection: RedisConnection, now: UInt64) {
            self.id = id
            self.connection = connection
            lastUsed = Atomic(now)
        }
    }

    private struct State: ~Copyable {
        var machine: PoolStateMachine<PooledConnection>
        var continuations: [Int: UnsafeContinuation<PooledConnection, any Error>] = [:]
        /// Results that reached a waiter before its continuation was stored.
        var early: [Int: Result<PooledConnection, any Error>] = [:]
        var timeouts: [Int: Task<Void, Never>] = [:]
        var drainWaiters: [UnsafeContinuation<Void, Never>] = []
        var nextWaiterID = 0
    }

    /// What to do after leaving the lock.
    private enum Effect {
        case resume(UnsafeContinuation<PooledConnection, any Error>, Result<PooledConnection, any Error>)
        case open(Int)
        case cancelTimeout(Task<Void, Never>)
        case drained([UnsafeContinuation<Void, Never>])
    }

    /// Creates a pool; no connection opens until the first call.
    ///
    /// - Parameters:
    ///   - configuration: where and how to connect (address, credentials, database, timeouts).
    ///   - maxConnections: at most this many connections (default 20).
    ///   - leaseTimeout: how long `withConnection` waits for a connection before `poolExhausted` (default 5 s).
    ///   - openWhenInFlightAtLeast: a shared caller opens another connection when the least-loaded one has
    ///     this many commands in flight (default 128: Redis runs commands on one thread, and deep pipelines
    ///     on few connections beat shallow ones on many; measured with axon-bench).
    ///   - idleCheckAfter: PING a connection idle this long before reusing it (default 30 s).
    ///   - logger: connects, reconnects and failures are logged here (never a password).
    ///   - telemetry: where command durations, spans and pool gauges go (default: swift-metrics' and
    ///     swift-distributed-tracing's bootstrapped backends).
    public convenience init(
        configuration: RedisConfiguration,
        maxConnections: Int = 20,
        leaseTimeout: Duration = .seconds(5),
        openWhenInFlightAtLeast: Int = 128,
        idleCheckAfter: Duration = .seconds(30),
        logger: Logger = Logger(label: "axon.redis.pool"),
        telemetry: Telemetry = Telemetry()
    ) throws(RedisError) {
        try self.init(
            configuration: configuration, sentinel: nil, maxConnections: maxConnections, leaseTimeout: leaseTimeout,
            openWhenInFlightAtLeast: openWhenInFlightAtLeast, idleCheckAfter: idleCheckAfter, logger: logger, telemetry: telemetry)
    }

    /// A pool to the master that Redis Sentinel names. Every (re)connect asks the sentinels for the master and
    /// checks the node's `ROLE`; on a failover (the connection drops, or a write meets `READONLY` because the old
    /// master became a replica) the pool reconnects to the new master by itself, and a command refused with
    /// `READONLY` is resent there (it did not run). Other parameters as for `init(configuration:...)`.
    public convenience init(
        sentinel: RedisSentinelConfiguration,
        maxConnections: Int = 20,
        leaseTimeout: Duration = .seconds(5),
        openWhenInFlightAtLeast: Int = 128,
        idleCheckAfter: Duration = .seconds(30),
        logger: Logger = Logger(label: "axon.redis.pool"),
        telemetry: Telemetry = Telemetry()
    ) throws(RedisError) {
        guard !sentinel.sentinels.isEmpty else { throw RedisError(.invalidArgument, "at least one sentinel address is needed") }
        guard !sentinel.masterName.isEmpty else { throw RedisError(.invalidArgument, "the sentinel master name is empty") }
        try self.init(
            configuration: sentinel.node, sentinel: SentinelResolver(configuration: sentinel), maxConnections: maxConnections,
            leaseTimeout: leaseTimeout, openWhenInFlightAtLeast: openWhenInFlightAtLeast, idleCheckAfter: idleCheckAfter, logger: logger,
            telemetry: telemetry)
    }

    private init(
        configuration: RedisConfiguration,
        sentinel: SentinelResolver?,
        maxConnections: Int,
        leaseTimeout: Duration,
        openWhenInFlightAtLeast: Int,
        idleCheckAfter: Duration,
        logger: Logger,
        telemetry: Telemetry
    ) throws(RedisError) {
        self.sentinel = sentinel
        self.telemetry = telemetry
        try configuration.validate()
        guard maxConnections >= 1 else { throw RedisError(.invalidArgument, "maxConnections must be at least 1, got \(maxConnections)") }
        guard openWhenInFlightAtLeast >= 1 else { throw RedisError(.invalidArgument, "openWhenInFlightAtLeast must be at least 1") }
        guard leaseTimeout > .zero else { throw RedisError(.invalidArgument, "leaseTimeout must be positive") }
        self.configuration = configuration
        self.maxConnections = maxConnections
        self.leaseTimeout = leaseTimeout
        self.idleCheckNanoseconds = idleCheckAfter.nanoseconds
        self.busyLoad = openWhenInFlightAtLeast
        self.logger = logger
        metrics = PoolMetrics(
            telemetry: telemetry,
            poolName: sentinel.map { "sentinel:\($0.configuration.masterName)" } ?? configuration.endpoint.description,
            maxConnections: maxConnections)
        state = Mutex(State(machine: PoolStateMachine(configuration: .init(
            maxConnections: maxConnections,
            openWhenInFlightAtLeast: openWhenInFlightAtLeast,
            backoffBaseNanoseconds: 50_000_000,
            backoffMaxNanoseconds: 1_000_000_000))))
    }

    // MARK: Commands

    /// Sends one command on the least-loaded connection; an error reply throws `serverError`. Blocking commands
    /// (`BLPOP`, `XREAD ... BLOCK`, `WAIT`, ...) and commands that change a connection's state (`MULTI`, `SELECT`,
    /// `CLIENT REPLY`, ...) are refused with `invalidArgument` naming `withConnection`, where the connection is
    /// the caller's alone: on a shared connection they would stall or change every other caller's commands.
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        if let refusal = SharedConnectionRule.refusal(command) { throw RedisError(.invalidArgument, refusal) }
        guard sentinel != nil else { return try await withSharedConnection { try await $0.send(command) } }
        // With Sentinel: a command refused with READONLY did not run; it goes to the new master (a few tries while
        // the sentinels finish the failover).
        var attempt = 0
        while true {
            do {
                return try await withSharedConnection { try await $0.send(command) }
            } catch let error as RedisError where error.serverErrorPrefix == "READONLY" && attempt < 5 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(50 << attempt))
            }
        }
    }

    /// Sends `name` with `arguments` on the least-loaded connection.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisReply {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends the commands in one write on one connection and returns the replies in order (error replies as
    /// `.error` elements). The same commands as for `send` are refused.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        for command in commands {
            if let refusal = SharedConnectionRule.refusal(command) { throw RedisError(.invalidArgument, refusal) }
        }
        return try await withSharedConnection { try await $0.pipeline(commands) }
    }

    /// Runs one multiplexed operation on the least-loaded connection; a connection found closed afterwards
    /// leaves the pool. A command that found its connection closed before it was written (an idle connection the
    /// server closed, noticed only then: `RedisConfiguration.inlineReplyWait`) goes to another connection.
    @inline(__always)
    private func withSharedConnection<T>(_ operation: (RedisConnection) async throws -> T) async throws -> T {
        var resends = 0
        while true {
            let pooled: PooledConnection
            let immediate = try acquireNow(exclusive: false)
            if case .ready(let ready) = immediate {
                pooled = ready  // the common path: no async call before the command itself
            } else {
                pooled = try await complete(immediate, exclusive: false)
            }
            do {
                return try await operation(pooled.connection)
            } catch {
                try handleSharedFailure(error, of: pooled)
                resends += 1
                if resends > maxConnections { throw error }
            }
        }
    }

    /// After an operation on a shared connection threw: drops the connection when it is closed or reaches a former
    /// master, then rethrows `error`, unless it failed a command that was never sent (then returns, to resend it).
    private func handleSharedFailure(_ error: any Error, of pooled: PooledConnection) throws {
        if pooled.connection.isClosed {
            reportBroken(pooled, error)
            if let redis = error as? RedisError, redis.commandNotSent { return }
        } else if sentinel != nil, let redis = error as? RedisError, redis.serverErrorPrefix == "READONLY" {
            // This connection reaches a former master, now a replica: drop it; the next connect asks the sentinels.
            reportBroken(pooled, redis)
            Task { await pooled.connection.close() }
        }
        throw error
    }

    /// Leases a connection to `body` alone: nothing else is sent on it until `body` returns. Waits in FIFO
    /// order up to `leaseTimeout` when every connection is leased.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: (RedisConnection) async throws -> T) async throws -> T {
        let pooled = try await acquire(exclusive: true)
        reportGauges()
        let result: T
        do {
            result = try await body(pooled.connection)
        } catch {
            release(pooled, reusable: false)
            throw error
        }
        release(pooled, reusable: !pooled.connection.isClosed)
        return result
    }

    /// The server's address, or the sentinel master's name and sentinels.
    public var endpointDescription: String {
        guard let sentinel else { return configuration.endpoint.description }
        return "master '\(sentinel.configuration.masterName)' via sentinels "
            + sentinel.configuration.sentinels.map(\.description).joined(separator: ",")
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        state.withLock { state in
            var statistics = Statistics(
                open: 0, idle: 0, leased: 0, waiting: state.machine.waiters.count,
                totalCreated: state.machine.totalCreated, totalFailed: state.machine.totalFailed)
            for (id, slot) in state.machine.slots {
                switch slot {
                case .connecting: break
                case .leased:
                    statistics.open += 1
                    statistics.leased += 1
                case .shared:
                    statistics.open += 1
                    if state.machine.connection(id)?.connection.inFlightCount == 0 { statistics.idle += 1 }
                }
            }
            return statistics
        }
    }

    /// Drains and closes: new calls fail with `poolClosed`, commands in flight finish, every connection
    /// closes (leased ones when their `withConnection` returns, so `close()` waits for those bodies).
    /// Returns when all sockets are closed.
    public func close() async {
        let (effects, toClose) = state.withLock { state -> ([Effect], [RedisConnection]) in
            let (failed, closeNow) = state.machine.close()
            let effects = Self.resolve(failed, in: &state)
            return (effects, closeNow.map(\.connection))
        }
        perform(effects)
        await withTaskGroup(of: Void.self) { group in
            for connection in toClose { group.addTask { await connection.close() } }
        }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.machine.isDrained { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
        logger.debug("redis pool closed", metadata: ["redis.endpoint": "\(endpointDescription)"])
    }

    // MARK: Acquiring

    /// A shared connection's load for routing: its commands in flight, plus `busy` while it moves a large value.
    @inline(__always)
    private static func load(_ connection: RedisConnection, busy: Int) -> Int {
        connection.inFlightCount + (connection.isMovingLargeValue ? busy : 0)
    }

    /// What `acquireNow` decided without suspending.
    private enum Immediate {
        case ready(PooledConnection)
        case check(PooledConnection)
        case wait(Int)
    }

    private func acquire(exclusive: Bool) async throws -> PooledConnection {
        try await complete(try acquireNow(exclusive: exclusive), exclusive: exclusive)
    }

    /// Finishes what `acquireNow` started: health check or wait.
    private func complete(_ immediate: Immediate, exclusive: Bool) async throws -> PooledConnection {
        switch immediate {
        case .ready(let pooled): return pooled
        case .check(let pooled): return try await checked(pooled, exclusive: exclusive)
        case .wait(let waiter): return try await checked(try await wait(for: waiter, exclusive: exclusive), exclusive: exclusive)
        }
    }

    /// The synchronous part of acquiring: one lock, the machine's decision, no suspension on the common path.
    private func acquireNow(exclusive: Bool) throws -> Immediate {
        let now = MonotonicClock.coarseNanoseconds()
        let (action, waiter, pooled) = state.withLock { state -> (PoolStateMachine<PooledConnection>.AcquireAction, Int, PooledConnection?) in
            let waiter = state.nextWaiterID
            state.nextWaiterID &+= 1
            let (action, pooled) = state.machine.acquireConnection(waiter: waiter, exclusive: exclusive, now: now) {
                Self.load($0.connection, busy: busyLoad)
            }
            return (action, waiter, pooled)
        }
        switch action {
        case .use(_, let open):
            if let open { self.open(open) }
            guard let pooled else { throw RedisError(.connectionClosed, "the pool lost a connection to \(endpointDescription)") }
            if pooled.connection.isClosed { return .check(pooled) }
            // Written only when it moved by a millisecond: a shared cache line written per command costs more.
            let last = pooled.lastUsed.load(ordering: .relaxed)
            if now &- last > idleCheckNanoseconds { return .check(pooled) }
            if now &- last > 1_000_000 { pooled.lastUsed.store(now, ordering: .relaxed) }
            return .ready(pooled)
        case .fail(let error):
            throw error
        case .wait(let open):
            if let open { self.open(open) }
            return .wait(waiter)
        }
    }

    /// Returns `pooled` unless it closed, or it was idle long and fails a PING; then acquires another.
    private func checked(_ pooled: PooledConnection, exclusive: Bool) async throws -> PooledConnection {
        let now = MonotonicClock.coarseNanoseconds()
        let last = pooled.lastUsed.exchange(now, ordering: .relaxed)
        var healthy = !pooled.connection.isClosed
        if healthy && now &- last > idleCheckNanoseconds {
            healthy = (try? await pooled.connection.send("PING")) != nil
        }
        if healthy { return pooled }
        if exclusive {
            release(pooled, reusable: false)
        } else {
            reportBroken(pooled, RedisError(.connectionClosed, "connection closed while idle"))
        }
        return try await acquire(exclusive: exclusive)
    }

    private func wait(for waiter: Int, exclusive: Bool) async throws -> PooledConnection {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<PooledConnection, any Error>) in
                let early = state.withLock { state -> Result<PooledConnection, any Error>? in
                    if let early = state.early.removeValue(forKey: waiter) { return early }
                    state.continuations[waiter] = continuation
                    state.timeouts[waiter] = leaseTimer(for: waiter)
                    return nil
                }
                if let early { continuation.resume(with: early) } else { reportGauges() }
            }
        } onCancel: {
            abandon(waiter, with: nil)
        }
    }

    private func leaseTimer(for waiter: Int) -> Task<Void, Never> {
        Task { [leaseTimeout] in
            try? await Task.sleep(for: leaseTimeout)
            if !Task.isCancelled { self.timeOut(waiter) }
        }
    }

    /// The lease timer fired: the machine decides (see `PoolStateMachine.leaseTimedOut`).
    private func timeOut(_ waiter: Int) {
        let (decision, continuation) = state.withLock { state -> (PoolStateMachine<PooledConnection>.TimeoutDecision, UnsafeContinuation<PooledConnection, any Error>?) in
            let decision = state.machine.leaseTimedOut(waiter: waiter, endpoint: "\(endpointDescription)", leaseTimeout: leaseTimeout)
            switch decision {
            case .none:
                return (decision, nil)
            case .keepWaiting:
                state.timeouts[waiter] = leaseTimer(for: waiter)
                return (decision, nil)
            case .fail(let error):
                state.timeouts.removeValue(forKey: waiter)
                let continuation = state.continuations.removeValue(forKey: waiter)
                if continuation == nil { state.early[waiter] = .failure(error) }
                return (decision, continuation)
            }
        }
        if case .fail(let error) = decision {
            logger.warning("redis pool lease timeout", metadata: ["redis.endpoint": "\(endpointDescription)", "redis.error": "\(error.message)"])
            continuation?.resume(throwing: error)
        }
    }

    /// A waiter gives up (cancellation): it fails with `CancellationError` when `error` is nil.
    private func abandon(_ waiter: Int, with error: RedisError?) {
        let (continuation, timeout) = state.withLock { state -> (UnsafeContinuation<PooledConnection, any Error>?, Task<Void, Never>?) in
            guard state.machine.abandon(waiter: waiter) else { return (nil, nil) }
            let continuation = state.continuations.removeValue(forKey: waiter)
            if continuation == nil { state.early[waiter] = .failure(error ?? CancellationError()) }
            return (continuation, state.timeouts.removeValue(forKey: waiter))
        }
        timeout?.cancel()
        guard let continuation else { return }
        if let error { continuation.resume(throwing: error) } else { continuation.resume(throwing: CancellationError()) }
    }

    // MARK: Connection lifecycle

    private func open(_ id: Int) {
        Task {
            do {
                let started = Telemetry.now()
                let connection: RedisConnection
                if let sentinel {
                    connection = try await sentinel.connectToMaster(logger: logger, telemetry: telemetry)
                } else {
                    connection = try await RedisConnection.connect(configuration, logger: logger, telemetry: telemetry)
                }
                metrics?.connected(afterNanoseconds: Telemetry.now() &- started)
                let now = MonotonicClock.coarseNanoseconds()
                let pooled = PooledConnection(id: id, connection: connection, now: now)
                let (effects, discard) = state.withLock { state -> ([Effect], Bool) in
                    if state.machine.discardIfClosing(id) { return (Self.drainEffects(in: &state), true) }
                    return (Self.resolve(state.machine.connected(id, pooled), in: &state), false)
                }
                if discard { await connection.close() }
                logger.debug("redis pool connection opened", metadata: ["redis.endpoint": "\(endpointDescription)", "redis.pool.connection": "\(id)"])
                perform(effects)
                reportGauges()
            } catch {
                let failure = (error as? RedisError) ?? RedisError(.connectionFailed, "\(error)")
                logger.warning("redis pool connect failed", metadata: ["redis.endpoint": "\(endpointDescription)", "redis.error": "\(failure.message)"])
                let effects = state.withLock { state -> [Effect] in
                    let actions = state.machine.connectFailed(
                        id, error: failure, now: MonotonicClock.coarseNanoseconds(), jitter: Double.random(in: 0...1))
                    return Self.resolve(actions, in: &state) + Self.drainEffects(in: &state)
                }
                perform(effects)
                metrics?.failed()
                reportGauges()
            }
        }
    }

    /// Publishes the counts to the pool's gauges (when metrics are on).
    private func reportGauges() {
        guard let metrics else { return }
        let statistics = self.statistics
        metrics.update(open: statistics.open, leased: statistics.leased, waiting: statistics.waiting)
    }

    private func release(_ pooled: PooledConnection, reusable: Bool) {
        let (effects, removed) = state.withLock { state -> ([Effect], Bool) in
            let actions = state.machine.released(
                pooled.id, reusable: reusable, now: MonotonicClock.coarseNanoseconds()) { Self.load($0.connection, busy: busyLoad) }
            let removed = state.machine.slots[pooled.id] == nil
            return (Self.resolve(actions, in: &state), removed)
        }
        if removed {
            Task {
                await pooled.connection.close()
                self.perform(self.state.withLock { Self.drainEffects(in: &$0) })
            }
        }
        perform(effects)
        reportGauges()
    }

    private func reportBroken(_ pooled: PooledConnection, _ error: any Error) {
        let effects = state.withLock { state -> [Effect]? in
            guard state.machine.connection(pooled.id) === pooled else { return nil }
            return Self.resolve(state.machine.broken(pooled.id, now: MonotonicClock.coarseNanoseconds()), in: &state)
                + Self.drainEffects(in: &state)
        }
        guard let effects else { return }
        metrics?.failed()
        defer { reportGauges() }
        logger.info("redis pool connection broken", metadata: [
            "redis.endpoint": "\(endpointDescription)", "redis.pool.connection": "\(pooled.id)",
            "redis.error": "\((error as? RedisError)?.message ?? "\(error)")",
        ])
        perform(effects)
    }

    // MARK: Effects

    /// Turns the machine's waiter actions into effects, taking continuations out of the state.
    private static func resolve(_ actions: [PoolStateMachine<PooledConnection>.WaiterAction], in state: inout State) -> [Effect] {
        var effects: [Effect] = []
        for action in actions {
            let waiter: Int
            let result: Result<PooledConnection, any Error>
            switch action {
            case .open(let id):
                effects.append(.open(id))
                continue
            case .resume(let id, let connection):
                waiter = id
                guard let pooled = state.machine.connection(connection) else {
                    result = .failure(RedisError(.connectionClosed, "the pool lost the connection it picked"))
                    break
                }
                result = .success(pooled)
            case .fail(let id, let error):
                waiter = id
                result = .failure(error)
            }
            if let timeout = state.timeouts.removeValue(forKey: waiter) { effects.append(.cancelTimeout(timeout)) }
            if let continuation = state.continuations.removeValue(forKey: waiter) {
                effects.append(.resume(continuation, result))
            } else {
                state.early[waiter] = result
            }
        }
        return effects
    }

    private static func drainEffects(in state: inout State) -> [Effect] {
        guard state.machine.isClosing, state.machine.isDrained, !state.drainWaiters.isEmpty else { return [] }
        defer { state.drainWaiters.removeAll() }
        return [.drained(state.drainWaiters)]
    }

    private func perform(_ effects: [Effect]) {
        for effect in effects {
            switch effect {
            case .resume(let continuation, let result): continuation.resume(with: result)
            case .open(let id): open(id)
            case .cancelTimeout(let task): task.cancel()
            case .drained(let waiters): waiters.forEach { $0.resume() }
            }
        }
    }
}
