import Hiredis

/// One benchmarked operation, runnable at any concurrency.
struct Workload: Sendable {
    /// The table it belongs to (`connection`, `pool`, `memory`, ...).
    let group: String
    /// Stable name used in `--json` and `--filter` (`connection.get`, `connection.get.fast`).
    let name: String
    /// The command the baselines run for comparison (`get` → `hiredis-sync.get`, `redis-benchmark.get`), if any.
    let baseline: BaselineCommand?
    /// A baseline built once the workload's data exists, when `baseline` is `nil`.
    private(set) var prepared: PreparedBaseline?
    /// Concurrency levels this workload always runs at (a fixed shape), instead of `--concurrency`.
    var fixedConcurrency: [Int]? = nil
    /// Whether each round at one caller also runs `connection.get` (`BenchResult.referenceRatio`): the recall rows,
    /// whose targets are stated as multiples of it.
    var besideConnectionGet = false
    /// Runs the workload at a concurrency.
    let run: @Sendable (_ concurrency: Int, _ limits: RunLimits) async throws -> WorkloadRunner.Measurement

    init(
        group: String, name: String, baseline: BaselineCommand?, fixedConcurrency: Int...,
        run: @escaping @Sendable (_ concurrency: Int, _ limits: RunLimits) async throws -> WorkloadRunner.Measurement
    ) {
        self.group = group
        self.name = name
        self.baseline = baseline
        self.fixedConcurrency = fixedConcurrency.isEmpty ? nil : fixedConcurrency
        self.run = run
    }

    /// The key of whichever baseline this workload is compared with.
    var baselineKey: String? { baseline?.key ?? prepared?.key }

    /// This workload compared with the request(s) `make` returns, built after every workload ran and before
    /// the clean-up (the exact script call on data the workload stored).
    func comparedWith(_ key: String, _ make: @escaping @Sendable () async throws -> BaselineCommand) -> Workload {
        var copy = self
        copy.prepared = PreparedBaseline(key: key, make: make)
        return copy
    }
}

/// A baseline whose request exists only once the workload's data does.
struct PreparedBaseline: Sendable {
    let key: String
    let make: @Sendable () async throws -> BaselineCommand
}
