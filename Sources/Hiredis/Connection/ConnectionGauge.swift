import Synchronization

/// What other threads may read about a connection without a queue hop: commands in flight and whether it
/// has closed. Written on the connection's queue, read anywhere (a pool's load balancing and health checks).
final class ConnectionGauge: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// Adds `delta` to the in-flight count (negative to subtract).
    func add(_ delta: Int) { inFlight.add(delta, ordering: .relaxed) }

    /// Commands appended and not yet answered.
    var current: Int { inFlight.load(ordering: .relaxed) }

    /// Marks the connection closed for good.
    func markClosed() { closed.store(true, ordering: .releasing) }

    /// Whether the connection has closed (it never reopens).
    var isClosed: Bool { closed.load(ordering: .acquiring) }
}
