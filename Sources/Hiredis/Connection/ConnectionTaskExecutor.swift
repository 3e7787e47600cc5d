import Dispatch

/// A task executor that runs jobs on a connection's serial queue (the fast path of `RedisConnection`).
///
/// Jobs resumed while the connection handles a read event (continuations of replies just parsed) are
/// collected and run inline right after `redisAsyncHandleRead` returns, instead of each going through
/// `DispatchQueue.async`; other jobs are queued with `async`.
///
/// `@unchecked Sendable`: `collecting` and `collected` are only touched on `queue` (checked with `isOnQueue`).
final class ConnectionTaskExecutor: TaskExecutor, @unchecked Sendable {
    let queue: DispatchQueue
    private let queueKey: DispatchSpecificKey<UInt8>
    private var collecting = false
    private var collected: [UnownedJob] = []

    init(queue: DispatchQueue, queueKey: DispatchSpecificKey<UInt8>) {
        self.queue = queue
        self.queueKey = queueKey
    }

    /// Whether the current thread is running a block of `queue`.
    var isOnQueue: Bool { DispatchQueue.getSpecific(key: queueKey) != nil }

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
