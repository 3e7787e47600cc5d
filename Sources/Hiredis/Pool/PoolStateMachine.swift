import DequeModule

/// The pool's decisions, apart from its effects: which connection serves a caller, when to open one, who
/// waits, who is failed. Events go in, actions come out; `RedisConnectionPool` carries the actions out.
/// A value type with no I/O, so every rule is testable without a socket. `Connection` is what the shell keeps
/// per open connection (the machine only hands it back and asks its load).
struct PoolStateMachine<Connection> {
    struct Configuration {
        var maxConnections: Int
        /// A shared caller triggers one more connection when the least-loaded one has this many in flight.
        var openWhenInFlightAtLeast: Int
        /// First reconnect delay after a failed connect; doubles per failure up to `backoffMaxNanoseconds`.
        var backoffBaseNanoseconds: UInt64
        var backoffMaxNanoseconds: UInt64
    }

    enum Slot: Equatable {
        case connecting
        case shared
        case leased
    }

    struct Waiter: Equatable {
        let id: Int
        let exclusive: Bool
    }

    /// What a caller asking for a connection should do.
    enum AcquireAction: Equatable {
        /// Use this connection; if `open` is set, also start opening that new connection.
        case use(connection: Int, open: Int?)
        /// Wait for `resume`; if `open` is set, start opening that new connection.
        case wait(open: Int?)
        /// Fail at once.
        case fail(RedisError)
    }

    /// A waiter to resume with a connection (or to fail).
    enum WaiterAction: Equatable {
        case resume(waiter: Int, connection: Int)
        case fail(waiter: Int, RedisError)
        /// Start opening this connection (a replacement for waiters that still need one).
        case open(Int)
    }

    let configuration: Configuration
    private(set) var slots: [Int: Slot] = [:]
    /// Open connections by id (shared or leased).
    private var connections: [Int: Connection] = [:]
    /// The shared connections, in an array: the hot path scans it to find the least loaded.
    private var shared: [(id: Int, connection: Connection)] = []
    private(set) var waiters = Deque<Waiter>()
    private(set) var isClosing = false
    /// Connections opened successfully, ever.
    private(set) var totalCreated = 0
    /// Connect attempts that failed plus open connections that broke, ever.
    private(set) var totalFailed = 0
    private var nextConnectionID = 0
    private var consecutiveFailures = 0
    private var backoffUntil: UInt64 = 0
    private var lastConnectError: RedisError?

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// A caller wants a connection: `exclusive` for `withConnection`, shared for a multiplexed command.
    /// `load` gives a shared connection's in-flight count; `now` is a monotonic time in nanoseconds.
    mutating func acquire(waiter: Int, exclusive: Bool, now: UInt64, load: (Connection) -> Int) -> AcquireAction {
        acquireConnection(waiter: waiter, exclusive: exclusive, now: now, load: load).action
    }

    /// `acquire`, also returning the connection to use when the action is `.use`.
    mutating func acquireConnection(
        waiter: Int, exclusive: Bool, now: UInt64, load: (Connection) -> Int
    ) -> (action: AcquireAction, connection: Connection?) {
        if isClosing { return (.fail(Self.closedError), nil) }
        if let best = leastLoadedShared(load: load) {
            if exclusive {
                setSlot(best.id, .leased)
                return (.use(connection: best.id, open: nil), best.connection)
            }
            let grow = best.load >= configuration.openWhenInFlightAtLeast && canOpen(now: now) && !slots.values.contains(.connecting)
            return (.use(connection: best.id, open: grow ? openSlot() : nil), best.connection)
        }
        return (acquireWhenNoneShared(waiter: waiter, exclusive: exclusive, now: now), nil)
    }

    private mutating func acquireWhenNoneShared(waiter: Int, exclusive: Bool, now: UInt64) -> AcquireAction {
        if now < backoffUntil, let lastConnectError, !slots.values.contains(.connecting) {
            let wait = (backoffUntil - now) / 1_000_000
            return .fail(RedisError(lastConnectError.code, "\(lastConnectError.message) (next attempt in \(wait) ms)"))
        }
        waiters.append(Waiter(id: waiter, exclusive: exclusive))
        let connecting = slots.values.filter { $0 == .connecting }.count
        let needed = waiters.filter(\.exclusive).count + (waiters.contains { !$0.exclusive } ? 1 : 0)
        if connecting < needed && canOpen(now: now) { return .wait(open: openSlot()) }
        return .wait(open: nil)
    }

    /// A connection finished opening: it serves the waiters it can, in FIFO order.
    mutating func connected(_ connection: Int, _ value: Connection) -> [WaiterAction] {
        guard slots[connection] == .connecting else { return [] }
        connections[connection] = value
        setSlot(connection, .shared)
        totalCreated += 1
        consecutiveFailures = 0
        backoffUntil = 0
        lastConnectError = nil
        return serveWaiters(load: { _ in 0 })
    }

    /// The open connection with `id`, shared or leased.
    func connection(_ id: Int) -> Connection? { connections[id] }

    /// A connection failed to open: back off; if nothing else can serve the waiters, fail them with `error`.
    /// `jitter` in 0...1 spreads reconnects of many pools (half to full delay).
    mutating func connectFailed(_ connection: Int, error: RedisError, now: UInt64, jitter: Double) -> [WaiterAction] {
        guard slots[connection] != nil else { return [] }
        setSlot(connection, nil)
        totalFailed += 1
        consecutiveFailures += 1
        lastConnectError = error
        let exponent = min(consecutiveFailures - 1, 20)
        let delay = min(configuration.backoffBaseNanoseconds << UInt64(exponent), configuration.backoffMaxNanoseconds)
        backoffUntil = now + UInt64(Double(delay) * (0.5 + 0.5 * min(max(jitter, 0), 1)))
        if slots.isEmpty {
            let failed = waiters.map { WaiterAction.fail(waiter: $0.id, error) }
            waiters.removeAll()
            return failed
        }
        return []
    }

    /// An exclusive lease ended; `reusable` is false when the connection is closed or was left in doubt.
    mutating func released(_ connection: Int, reusable: Bool, now: UInt64, load: (Connection) -> Int) -> [WaiterAction] {
        guard slots[connection] == .leased else { return [] }
        if reusable && !isClosing {
            setSlot(connection, .shared)
            return serveWaiters(load: load)
        }
        return removed(connection, now: now)
    }

    /// A shared connection was found closed (server gone, command timeout): it leaves the pool.
    mutating func broken(_ connection: Int, now: UInt64) -> [WaiterAction] {
        guard slots[connection] != nil else { return [] }
        totalFailed += 1
        return removed(connection, now: now)
    }

    /// What a waiter's lease timer decides when it fires.
    enum TimeoutDecision: Equatable {
        /// Already served or failed: nothing to do.
        case none
        /// A shared caller waiting for a connection that is still opening keeps waiting: the connect ends within
        /// the connect timeout and then serves it or fails it with the connect error. Arm the timer again.
        case keepWaiting
        /// Fail the waiter with this error (it has left the queue).
        case fail(RedisError)
    }

    /// A waiter's lease timer fired after `leaseTimeout`. Exclusive callers fail with `poolExhausted`; the
    /// message suggests raising limits only when every connection is leased, and says so when a connect is what
    /// it waited for. Shared callers wait for a connect in progress instead (see `TimeoutDecision.keepWaiting`).
    mutating func leaseTimedOut(waiter: Int, endpoint: String, leaseTimeout: Duration) -> TimeoutDecision {
        guard let index = waiters.firstIndex(where: { $0.id == waiter }) else { return .none }
        let connecting = slots.values.contains(.connecting)
        if !waiters[index].exclusive && connecting { return .keepWaiting }
        waiters.remove(at: index)
        let leased = slots.values.filter { $0 == .leased }.count
        let queued = waiters.count
        let message: String
        if leased >= configuration.maxConnections {
            message = "no connection to \(endpoint) became free within \(leaseTimeout) (\(leased) of \(configuration.maxConnections) "
                + "leased, \(queued) waiting); raise maxConnections or leaseTimeout, or hold leases shorter"
        } else if connecting {
            message = "no connection to \(endpoint) was ready within \(leaseTimeout): a connect to it is still under way "
                + "(\(leased) of \(configuration.maxConnections) leased); the server is slow to accept connections"
        } else {
            message = "no connection to \(endpoint) was ready within \(leaseTimeout) (\(leased) of \(configuration.maxConnections) "
                + "leased, none opening after a failed connect); retry, the next call reconnects"
        }
        return .fail(RedisError(.poolExhausted, message))
    }

    /// A waiter gave up (lease timeout or cancellation); `false` if it was already served or failed.
    mutating func abandon(waiter: Int) -> Bool {
        guard let index = waiters.firstIndex(where: { $0.id == waiter }) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// Stops serving: every waiter fails; returns the shared connections to close now (leased ones close on
    /// release, connecting ones when they open).
    mutating func close() -> (waiters: [WaiterAction], closeNow: [Connection]) {
        isClosing = true
        let failed = waiters.map { WaiterAction.fail(waiter: $0.id, Self.closedError) }
        waiters.removeAll()
        let closing = shared.sorted { $0.id < $1.id }
        for (id, _) in closing { setSlot(id, nil) }
        return (failed, closing.map(\.connection))
    }

    /// Whether a connection that just opened must be closed at once (the pool closed meanwhile).
    mutating func discardIfClosing(_ connection: Int) -> Bool {
        guard isClosing else { return false }
        setSlot(connection, nil)
        return true
    }

    var isDrained: Bool { slots.isEmpty }

    static var closedError: RedisError { RedisError(.poolClosed, "the connection pool is closed; create a new pool") }

    // MARK: Helpers

    private func leastLoadedShared(load: (Connection) -> Int) -> (id: Int, connection: Connection, load: Int)? {
        var best: (id: Int, connection: Connection, load: Int)?
        for (id, connection) in shared {
            let current = load(connection)
            if let chosen = best, current > chosen.load || (current == chosen.load && id > chosen.id) { continue }
            best = (id, connection, current)
        }
        return best
    }

    /// The one place slots change, keeping `shared` and `connections` in step with `slots`.
    private mutating func setSlot(_ id: Int, _ slot: Slot?) {
        if slots[id] == .shared { shared.removeAll { $0.id == id } }
        slots[id] = slot
        switch slot {
        case .shared:
            if let connection = connections[id] { shared.append((id, connection)) }
        case nil:
            connections.removeValue(forKey: id)
        case .connecting, .leased:
            break
        }
    }

    private func canOpen(now: UInt64) -> Bool {
        !isClosing && slots.count < configuration.maxConnections && now >= backoffUntil
    }

    private mutating func openSlot() -> Int {
        let id = nextConnectionID
        nextConnectionID += 1
        setSlot(id, .connecting)
        return id
    }

    private mutating func removed(_ connection: Int, now: UInt64) -> [WaiterAction] {
        setSlot(connection, nil)
        guard !waiters.isEmpty, canOpen(now: now) else { return [] }
        let connecting = slots.values.filter { $0 == .connecting }.count
        return connecting == 0 ? [.open(openSlot())] : []
    }

    /// Serves waiters in FIFO order until the front one cannot be served.
    private mutating func serveWaiters(load: (Connection) -> Int) -> [WaiterAction] {
        var actions: [WaiterAction] = []
        while let front = waiters.first, let best = leastLoadedShared(load: load) {
            waiters.removeFirst()
            if front.exclusive { setSlot(best.id, .leased) }
            actions.append(.resume(waiter: front.id, connection: best.id))
        }
        return actions
    }
}
