import Synchronization

/// What other threads may read about a connection without a queue hop: commands in flight and whether it
/// has closed. Written on the connection's queue, read anywhere (a pool's load balancing and health checks).
final class ConnectionGauge: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let alone = Atomic<Bool>(false)
    private let largeRequestBytes = Atomic<Int>(0)
    private let receivingLarge = Atomic<Bool>(false)

    /// A request, or a reply partly received, of this many bytes or more makes the connection busy moving a large
    /// value (64 KiB: far above the usual command, and a few socket buffers' worth of waiting for what follows).
    static let largeBytes = 64 * 1024

    /// Adds `delta` bytes of large requests awaiting their replies (negative when a reply or failure ends one).
    func addLargeRequestBytes(_ delta: Int) { largeRequestBytes.add(delta, ordering: .relaxed) }

    /// Records, after each read event, whether a large reply is partly received; written only when it changes.
    func setReceivingLarge(_ value: Bool) {
        if receivingLarge.load(ordering: .relaxed) != value { receivingLarge.store(value, ordering: .relaxed) }
    }

    /// Whether the socket is busy with a large request or reply: a small command sent now would queue behind it.
    var isMovingLargeValue: Bool { largeRequestBytes.load(ordering: .relaxed) > 0 || receivingLarge.load(ordering: .relaxed) }

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
