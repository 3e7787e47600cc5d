import Synchronization

/// What other threads may read about a connection without a queue hop: commands in flight and whether it
/// has closed. Written on the connection's queue, read anywhere (a pool's load balancing and health checks).
final class ConnectionGauge: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let alone = Atomic<Bool>(false)

    /// Adds `delta` to the in-flight count (negative to subtract).
    func add(_ delta: Int) { inFlight.add(delta, ordering: .relaxed) }

    /// Commands appended and not yet answered.
    var current: Int { inFlight.load(ordering: .relaxed) }

    /// Records, after each read event, whether commands have been going one at a time (see `ConnectionCore`);
    /// cleared while a read event runs.
    func setAlone(_ value: Bool) { alone.store(value, ordering: .relaxed) }

    /// Whether a caller may append and write from its own thread: commands have been going one at a time and
    /// nothing is in flight, so there is nothing to batch with and the queue is idle. Under concurrency this
    /// stays false and callers keep sharing one write per queue turn.
    var isAlone: Bool { alone.load(ordering: .relaxed) && inFlight.load(ordering: .relaxed) == 0 }

    /// Marks the connection closed for good.
    func markClosed() { closed.store(true, ordering: .releasing) }

    /// Whether the connection has closed (it never reopens).
    var isClosed: Bool { closed.load(ordering: .acquiring) }
}
