import Foundation
import Hiredis
import Histogram

/// Measures each row beside its baselines in interleaved rounds (ours, then each baseline, `rounds` times), so a
/// slow minute of the machine hits both sides of a ratio. The row's ratio is the median of the per-round ratios
/// (our p50 over the baseline's p50 in the round beside it); their spread goes into the JSON. A baseline that fails
/// leaves the row's own figures in place and says why (the other tool's message); a row that fails keeps the
/// rounds it finished and the error.
struct Interleaver {
    let options: BenchOptions
    /// Where the C baselines connect; `nil` (a Unix socket, or `--no-baselines`): no baselines.
    private let target: (host: String, port: Int)?
    private let redisBenchmark: RedisBenchmarkBaseline?
    /// Prepared baseline commands by key (made once, after the first round of the first row that needs one).
    private var commands: [String: Result<BaselineCommand, BenchError>] = [:]
    /// Baseline rows by `BaselinePlan.rowKey`, in first-seen order.
    private var baselineOrder: [String] = []
    private var baselineRounds: [String: [BenchResult]] = [:]
    private var baselineHistograms: [String: (histogram: Histogram<UInt64>, elapsed: UInt64)] = [:]
    /// Baselines that failed once are not run again; each row that needed one reports the same message.
    private var failed: [String: String] = [:]
    /// One Markdown line per failed baseline.
    private(set) var failureNotes: [String] = []

    /// `connection.get`, run in every round of a row at one caller that asks for it (`Workload.besideConnectionGet`).
    private let reference: Workload?

    init(options: BenchOptions, endpoint: RedisConfiguration.Endpoint, reference: Workload? = nil) {
        self.options = options
        self.reference = reference
        if !options.noBaselines, case .tcp(let host, let port) = endpoint {
            target = (host, port)
            redisBenchmark = RedisBenchmarkBaseline(host: host, port: port)
            if redisBenchmark == nil { BenchSuite.progress("redis-benchmark not installed: the sync loop on a thread per caller is every baseline") }
        } else {
            target = nil
            redisBenchmark = nil
        }
    }

    /// The limits of one round: the measured time and operation budget split over the rounds, warm-up before the first.
    static func limits(of limits: RunLimits, round: Int, rounds: Int) -> RunLimits {
        RunLimits(
            duration: limits.duration / rounds, warmup: round == 0 ? limits.warmup : .zero,
            maxOperations: limits.maxOperations.map { max(1, $0 / rounds) })
    }

    /// The median of `values` (the mean of the middle two for an even count); `nil` when empty.
    static func median(_ values: [Double]) -> Double? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Runs `workload` at `concurrency` beside its baselines (and `connection.get` when it asks) and returns its row.
    mutating func measure(_ workload: Workload, concurrency: Int) async -> BenchResult {
        let compared = workload.baselineKey != nil && target != nil
        let rounds = compared ? options.rounds : 1
        var ours: [WorkloadRunner.Measurement] = []
        var ratios: [Double] = []
        var referenceRatios: [Double] = []
        let referenced = concurrency == 1 && workload.besideConnectionGet ? reference : nil
        var plans: [BaselinePlan]?
        var rowError: String?
        var baselineError: String?
        for round in 0..<rounds {
            let limits = Self.limits(of: options.limits, round: round, rounds: rounds)
            do {
                ours.append(try await workload.run(concurrency, limits))
            } catch {
                rowError = Self.describe(error)
                break
            }
            if let referenced, let measured = ours.last {
                BenchSuite.progress("\(referenced.name) c=1 beside \(workload.name) (round \(round + 1) of \(rounds))")
                if let get = try? await referenced.run(1, limits), get.histogram.valueAtPercentile(50) > 0 {
                    referenceRatios.append(Double(measured.histogram.valueAtPercentile(50)) / Double(get.histogram.valueAtPercentile(50)))
                }
            }
            guard compared, let measured = ours.last else { continue }
            if plans == nil {
                switch await command(for: workload) {
                case .success(let command):
                    plans = BaselinePlan.plans(for: command, group: workload.group, concurrency: concurrency, redisBenchmark: redisBenchmark != nil)
                case .failure(let error):
                    baselineError = "preparing the \(workload.baselineKey ?? "") baseline failed: \(error.description)"
                    plans = []
                }
            }
            for (index, plan) in (plans ?? []).enumerated() {
                if let message = failed[plan.rowKey] {
                    if index == 0 { baselineError = message }
                    continue
                }
                BenchSuite.progress("\(plan.name) c=\(plan.concurrency) (round \(round + 1) of \(rounds))")
                do {
                    let theirs = try run(plan, limits: limits, ourRate: Self.rate(of: measured))
                    if index == 0, let p50 = theirs.p50Microseconds, p50 > 0 {
                        ratios.append(Double(measured.histogram.valueAtPercentile(50)) / 1000 / p50)
                    }
                } catch {
                    let message = "\(plan.name) c=\(plan.concurrency) failed: \(Self.describe(error))"
                    failed[plan.rowKey] = message
                    failureNotes.append("Baseline \(message)")
                    if index == 0 { baselineError = message }
                }
            }
        }
        var row = Self.row(of: workload, concurrency: concurrency, rounds: ours)
        row.baselineKey = workload.baselineKey
        row.error = rowError
        row.baselineError = baselineError
        if !referenceRatios.isEmpty {
            row.referenceRatio = Self.median(referenceRatios)
            row.referenceRatios = referenceRatios
        }
        if let first = plans?.first, !ratios.isEmpty {
            row.baseline = first.name
            row.baselineRatio = Self.median(ratios)
            row.baselineRatioMin = ratios.min()
            row.baselineRatioMax = ratios.max()
            row.baselineRatios = ratios
        }
        return row
    }

    /// The baseline rows, each over every round it ran (merged histograms for the sync loop; medians of
    /// redis-benchmark's figures, which come without histograms).
    func baselineRows() -> [BenchResult] {
        baselineOrder.compactMap { key in
            guard let rounds = baselineRounds[key], let first = rounds.first else { return nil }
            var row: BenchResult
            if let merged = baselineHistograms[key] {
                row = BenchResult(
                    group: "baseline", workload: first.workload, concurrency: first.concurrency, histogram: merged.histogram,
                    elapsedNanoseconds: merged.elapsed)
            } else {
                row = BenchResult(
                    group: "baseline", workload: first.workload, concurrency: first.concurrency, ops: rounds.map(\.ops).reduce(0, +),
                    p50: Self.median(rounds.compactMap(\.p50Microseconds)), p99: Self.median(rounds.compactMap(\.p99Microseconds)),
                    max: rounds.compactMap(\.maxMicroseconds).max(), opsPerSecond: Self.median(rounds.map(\.opsPerSecond)) ?? 0)
            }
            row.rounds = rounds.count
            return row
        }
    }

    // MARK: Private

    /// Our row over all its rounds: one histogram, operations per second over the measured time of every round.
    private static func row(of workload: Workload, concurrency: Int, rounds: [WorkloadRunner.Measurement]) -> BenchResult {
        guard !rounds.isEmpty else {
            return BenchResult(
                group: workload.group, workload: workload.name, concurrency: concurrency, ops: 0, p50: nil, p99: nil, max: nil, opsPerSecond: 0)
        }
        var merged = WorkloadRunner.newHistogram()
        var elapsed: UInt64 = 0
        for round in rounds {
            merged.add(round.histogram)
            elapsed += round.elapsedNanoseconds
        }
        var row = BenchResult(group: workload.group, workload: workload.name, concurrency: concurrency, histogram: merged, elapsedNanoseconds: elapsed)
        row.rounds = rounds.count
        return row
    }

    private static func rate(of measurement: WorkloadRunner.Measurement) -> Double {
        measurement.elapsedNanoseconds == 0 ? 0 : Double(measurement.histogram.totalCount) * 1e9 / Double(measurement.elapsedNanoseconds)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as RedisError: error.message
        case let error as BenchError: error.description
        default: String(describing: error)
        }
    }

    /// The workload's baseline command: given, or prepared once its data exists (after its first round).
    private mutating func command(for workload: Workload) async -> Result<BaselineCommand, BenchError> {
        if let command = workload.baseline { return .success(command) }
        guard let prepared = workload.prepared else { return .failure(BenchError("no baseline")) }
        if let known = commands[prepared.key] { return known }
        BenchSuite.progress("preparing the \(prepared.key) baseline")
        let made: Result<BaselineCommand, BenchError>
        do {
            made = .success(try await prepared.make())
        } catch {
            made = .failure(BenchError(Self.describe(error)))
        }
        commands[prepared.key] = made
        return made
    }

    /// One round of a baseline, recorded in its baseline row.
    private mutating func run(_ plan: BaselinePlan, limits: RunLimits, ourRate: Double) throws(BenchError) -> BenchResult {
        guard let target else { throw BenchError("no baseline target") }
        let result: BenchResult
        switch plan.kind {
        case .sync(let threads):
            let measurement = try HiredisSyncBaseline(host: target.host, port: target.port).run(plan.command, concurrency: threads, limits: limits)
            result = BenchResult(
                group: "baseline", workload: plan.name, concurrency: plan.concurrency, histogram: measurement.histogram,
                elapsedNanoseconds: measurement.elapsedNanoseconds)
            var merged = baselineHistograms[plan.rowKey] ?? (WorkloadRunner.newHistogram(), 0)
            merged.histogram.add(measurement.histogram)
            merged.elapsed += measurement.elapsedNanoseconds
            baselineHistograms[plan.rowKey] = merged
        case .redisBenchmark(let clients, let pipeline):
            guard let redisBenchmark, let single = plan.command.single else { throw BenchError("redis-benchmark cannot run \(plan.command.key)") }
            // About as long as our round took: a 25 ms text recall must not run 15,000 times.
            let seconds = Double(limits.duration.nanoseconds) / 1e9
            var requests = limits.maxOperations ?? max(10_000, Int(seconds * (plan.concurrency == 1 ? 30_000 : 150_000)))
            if ourRate > 0 { requests = min(requests, max(2 * plan.concurrency, Int(ourRate * 1.5 * seconds))) }
            func attempt() throws(BenchError) -> BenchResult {
                try redisBenchmark.run(
                    name: plan.name, command: single.map { String(decoding: $0, as: UTF8.self) }, concurrency: clients,
                    requests: max(requests, plan.concurrency), pipeline: pipeline, unique: plan.command.hasUniqueMarker,
                    valueSize: options.valueSize)
            }
            // A second try before the baseline counts as failed: one run of the tool failed once in a test run while every
            // suite ran beside it on two cores, and passed on its own.
            do {
                result = try attempt()
            } catch {
                BenchSuite.progress("\(plan.name) c=\(plan.concurrency) failed (\(error.description)); once more")
                result = try attempt()
            }
        }
        if baselineRounds[plan.rowKey] == nil { baselineOrder.append(plan.rowKey) }
        baselineRounds[plan.rowKey, default: []].append(result)
        return result
    }
}
