import DequeModule

/// The pool's decisions, apart from its effects: which connection serves a caller, when to open one, who
/// waits, who is failed. Events go in, actions come out; `RedisConnectionPool` carries the actions out.
/// A value type with no I/O, so every rule is testable without a socket.
struct PoolStateMachine {
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
    mutating func acquire(waiter: Int, exclusive: Bool, now: UInt64, load: (Int) -> Int) -> AcquireAction {
        if isClosing { return .fail(Self.closedError) }
        if let best = leastLoadedShared(load: load) {
            if exclusive {
                slots[best.id] = .leased
                return .use(connection: best.id, open: nil)
            }
            let grow = best.load >= configuration.openWhenInFlightAtLeast && canOpen(now: now) && !slots.values.contains(.connecting)
            return .use(connection: best.id, open: grow ? openSlot() : nil)
        }
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
    mutating func connected(_ connection: Int) -> [WaiterAction] {
        guard slots[connection] == .connecting else { return [] }
        slots[connection] = .shared
        totalCreated += 1
        consecutiveFailures = 0
        backoffUntil = 0
        lastConnectError = nil
        return serveWaiters(load: { _ in 0 })
    }

    /// A connection failed to open: back off; if nothing else can serve the waiters, fail them with `error`.
    /// `jitter` in 0...1 spreads reconnects of many pools (half to full delay).
    mutating func connectFailed(_ connection: Int, error: RedisError, now: UInt64, jitter: Double) -> [WaiterAction] {
        guard slots.removeValue(forKey: connection) != nil else { return [] }
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
    mutating func released(_ connection: Int, reusable: Bool, now: UInt64, load: (Int) -> Int) -> [WaiterAction] {
        guard slots[connection] == .leased else { return [] }
        if reusable && !isClosing {
            slots[connection] = .shared
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

    /// A waiter gave up (lease timeout or cancellation); `false` if it was already served or failed.
    mutating func abandon(waiter: Int) -> Bool {
        guard let index = waiters.firstIndex(where: { $0.id == waiter }) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// Stops serving: every waiter fails; returns the shared connections to close now (leased ones close on
    /// release, connecting ones when they open).
    mutating func close() -> (waiters: [WaiterAction], closeNow: [Int]) {
        isClosing = true
        let failed = waiters.map { WaiterAction.fail(waiter: $0.id, Self.closedError) }
        waiters.removeAll()
        let shared = slots.filter { $0.value == .shared }.map(\.key).sorted()
        for id in shared { slots.removeValue(forKey: id) }
        return (failed, shared)
    }

    /// Whether a connection that just opened must be closed at once (the pool closed meanwhile).
    mutating func discardIfClosing(_ connection: Int) -> Bool {
        guard isClosing else { return false }
        slots.removeValue(forKey: connection)
        return true
    }

    /// Forgets a connection that the shell closed (after `close()` or `discardIfClosing`).
    mutating func forget(_ connection: Int) {
        slots.removeValue(forKey: connection)
    }

    var isDrained: Bool { slots.isEmpty }

    static let closedError = RedisError(.poolClosed, "the connection pool is closed; create a new pool")

    // MARK: Helpers

    private func leastLoadedShared(load: (Int) -> Int) -> (id: Int, load: Int)? {
        var best: (id: Int, load: Int)?
        for (id, slot) in slots where slot == .shared {
            let current = load(id)
            if let chosen = best, current > chosen.load || (current == chosen.load && id > chosen.id) { continue }
            best = (id, current)
        }
        return best
    }

    private func canOpen(now: UInt64) -> Bool {
        !isClosing && slots.count < configuration.maxConnections && now >= backoffUntil
    }

    private mutating func openSlot() -> Int {
        let id = nextConnectionID
        nextConnectionID += 1
        slots[id] = .connecting
        return id
    }

    private mutating func removed(_ connection: Int, now: UInt64) -> [WaiterAction] {
        slots.removeValue(forKey: connection)
        guard !waiters.isEmpty, canOpen(now: now) else { return [] }
        let connecting = slots.values.filter { $0 == .connecting }.count
        return connecting == 0 ? [.open(openSlot())] : []
    }

    /// Serves waiters in FIFO order until the front one cannot be served.
    private mutating func serveWaiters(load: (Int) -> Int) -> [WaiterAction] {
        var actions: [WaiterAction] = []
        while let front = waiters.first, let best = leastLoadedShared(load: load) {
            waiters.removeFirst()
            if front.exclusive { slots[best.id] = .leased }
            actions.append(.resume(waiter: front.id, connection: best.id))
        }
        return actions
    }
}
