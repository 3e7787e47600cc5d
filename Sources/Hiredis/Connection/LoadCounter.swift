import Synchronization

/// The number of commands a connection has in flight, readable from any thread without a queue hop.
final class LoadCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds `delta` (negative to subtract).
    func add(_ delta: Int) { value.add(delta, ordering: .relaxed) }

    /// The current count.
    var current: Int { value.load(ordering: .relaxed) }
}
