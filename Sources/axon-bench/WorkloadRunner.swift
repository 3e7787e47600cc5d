import Dispatch
import Histogram

/// How long each workload runs.
struct RunLimits: Sendable {
    /// Measured time (the run also stops at `maxOperations` when set).
    var duration: Duration
    /// Unmeasured time before it, to open connections and warm caches.
    var warmup: Duration
    /// Stop after this many measured operations in total, if set.
    var maxOperations: Int?
}

/// Runs an operation from `concurrency` tasks in a closed loop and records each operation's latency.
enum WorkloadRunner {
    struct Measurement: Sendable {
        var histogram: Histogram<UInt64>
        var elapsedNanoseconds: UInt64
    }

    private struct WorkerResult: Sendable {
        var histogram: Histogram<UInt64>
        var lastFinish: UInt64
    }

    static func newHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Runs `operation(worker)` repeatedly from `concurrency` child tasks, on `executor` when given.
    static func run(
        concurrency: Int,
        limits: RunLimits,
        executor: (any TaskExecutor)? = nil,
        operation: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> Measurement {
        let start = DispatchTime.now().uptimeNanoseconds
        let measureFrom = start + limits.warmup.nanoseconds
        let measureUntil = measureFrom + limits.duration.nanoseconds
        let quota = limits.maxOperations.map { max(1, $0 / concurrency) } ?? Int.max
        let body = { @Sendable () async throws -> [WorkerResult] in
            try await withThrowingTaskGroup(of: WorkerResult.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var histogram = newHistogram()
                        var now = DispatchTime.now().uptimeNanoseconds
                        var lastFinish = now
                        var measured = 0
                        // Every worker measures at least one operation, so each row has figures.
                        while (now < measureUntil || measured == 0) && measured < quota {
                            let began = now
                            try await operation(worker)
                            now = DispatchTime.now().uptimeNanoseconds
                            if began >= measureFrom || now >= measureUntil {
                                _ = histogram.record(now - began)
                                measured += 1
                                lastFinish = now
                            }
                        }
                        return WorkerResult(histogram: histogram, lastFinish: lastFinish)
                    }
                }
                var results: [WorkerResult] = []
                for try await result in group { results.append(result) }
                return results
            }
        }
        let results = try await withTaskExecutorPreference(executor) { try await body() }
        var merged = newHistogram()
        var lastFinish = measureFrom
        for result in results {
            merged.add(result.histogram)
            lastFinish = max(lastFinish, result.lastFinish)
        }
        return Measurement(histogram: merged, elapsedNanoseconds: lastFinish - measureFrom)
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(seconds, 0)) * 1_000_000_000 + UInt64(max(attoseconds, 0) / 1_000_000_000)
    }
}
