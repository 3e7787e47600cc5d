import Dispatch
import Synchronization

/// A task executor that runs jobs on a connection's serial queue (the fast path of `RedisConnection`).
///
/// Jobs resumed while the connection handles a read event (continuations of replies just parsed) are
/// collected and run inline right after `redisAsyncHandleRead` returns, instead of each going through
/// `DispatchQueue.async`; other jobs are queued with `async`.
///
/// `@unchecked Sendable`: `collecting` and `collected` are only touched on `queue` (checked with `isOnQueue`).
final class ConnectionTaskExecutor: TaskExecutor, @unchecked Sendable {
    /// Set on every connection's queue to that queue's number, so one lookup tells which connection's queue,
    /// if any, the current thread is running.
    private static let queueNumber = DispatchSpecificKey<Int>()
    private static let nextNumber = Atomic<Int>(1)

    let queue: DispatchQueue
    /// This queue's number under `queueNumber`.
    let number: Int
    private var collecting = false
    private var collected: [UnownedJob] = []

    /// Takes over `queue` (marks it with a fresh number).
    init(queue: DispatchQueue) {
        self.queue = queue
        number = Self.nextNumber.add(1, ordering: .relaxed).oldValue
        queue.setSpecific(key: Self.queueNumber, value: number)
    }

    /// The number of the connection queue the current thread is running a block of, or `nil` for any other thread.
    static var currentQueueNumber: Int? { DispatchQueue.getSpecific(key: queueNumber) }

    /// Whether the current thread is running a block of `queue`.
    var isOnQueue: Bool { Self.currentQueueNumber == number }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // `isOnQueue` first: `collecting` may only be read on the queue.
        if isOnQueue && collecting {
            collected.append(job)
        } else {
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    /// Runs `body` (a read event) collecting resumed jobs, then runs them, and any they resume, inline.
    /// Must be called on `queue`.
    func collectingJobs(_ body: () -> Void) {
        collecting = true
        body()
        var index = 0
        while index < collected.count {
            let job = collected[index]
            index += 1
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
        collected.removeAll(keepingCapacity: true)
        collecting = false
    }
}
