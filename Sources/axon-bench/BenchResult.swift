import Histogram

/// One row of the report: a workload at one concurrency. Field names are the `--json` schema.
struct BenchResult: Codable, Sendable, Equatable {
    var group: String
    var workload: String
    var concurrency: Int
    var ops: Int
    var p50Microseconds: Double?
    var p90Microseconds: Double?
    var p99Microseconds: Double?
    var p999Microseconds: Double?
    var maxMicroseconds: Double?
    var opsPerSecond: Double
    var baseline: String?
    /// The median over the rounds of (our p50 / the baseline's p50 in the round beside it).
    var baselineRatio: Double?
    /// The smallest and largest per-round ratio: the spread a drifting machine left.
    var baselineRatioMin: Double?
    var baselineRatioMax: Double?
    /// Each round's ratio, in order.
    var baselineRatios: [Double]?
    /// For recall rows at one caller: the median over the rounds of (our p50 / `connection.get` p50 measured in the same
    /// round, right after ours), a ratio of two of our rows that a drifting machine cannot skew; and each round's.
    var referenceRatio: Double?
    var referenceRatios: [Double]?
    /// How many rounds (ours, then the baseline's) the row ran.
    var rounds: Int?
    /// Why the row could not be (fully) measured; the figures are those of the rounds that finished.
    var error: String?
    /// Why its baseline could not be measured (the other tool's own message); the row keeps its figures.
    var baselineError: String?
    /// (percentile, µs) points for the SVG plot; not part of the JSON.
    var curve: [PercentilePoint] = []
    /// Which baseline command this row compares with (`get`), if any; not part of the JSON.
    var baselineKey: String?

    struct PercentilePoint: Sendable, Equatable {
        var percentile: Double
        var microseconds: Double
    }

    enum CodingKeys: String, CodingKey {
        case group, workload, concurrency, ops
        case p50Microseconds = "p50_us"
        case p90Microseconds = "p90_us"
        case p99Microseconds = "p99_us"
        case p999Microseconds = "p999_us"
        case maxMicroseconds = "max_us"
        case opsPerSecond = "ops_per_sec"
        case baseline
        case baselineRatio = "baseline_ratio"
        case baselineRatioMin = "baseline_ratio_min"
        case baselineRatioMax = "baseline_ratio_max"
        case baselineRatios = "baseline_ratios"
        case referenceRatio = "connection_get_ratio"
        case referenceRatios = "connection_get_ratios"
        case rounds, error
        case baselineError = "baseline_error"
    }

    /// The percentiles the plot draws.
    static let plottedPercentiles: [Double] = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100]

    /// A row from a latency histogram in nanoseconds.
    init(group: String, workload: String, concurrency: Int, histogram: Histogram<UInt64>, elapsedNanoseconds: UInt64) {
        self.group = group
        self.workload = workload
        self.concurrency = concurrency
        ops = Int(histogram.totalCount)
        func us(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
        p50Microseconds = us(50)
        p90Microseconds = us(90)
        p99Microseconds = us(99)
        p999Microseconds = us(99.9)
        maxMicroseconds = Double(histogram.max) / 1000
        opsPerSecond = elapsedNanoseconds == 0 ? 0 : Double(ops) * 1e9 / Double(elapsedNanoseconds)
        curve = Self.plottedPercentiles.map { PercentilePoint(percentile: $0, microseconds: $0 == 100 ? Double(histogram.max) / 1000 : us($0)) }
    }

    /// A row from figures another tool reported (missing percentiles stay `nil`).
    init(group: String, workload: String, concurrency: Int, ops: Int, p50: Double?, p90: Double? = nil, p99: Double?,
         p999: Double? = nil, max: Double?, opsPerSecond: Double) {
        self.group = group
        self.workload = workload
        self.concurrency = concurrency
        self.ops = ops
        p50Microseconds = p50
        p90Microseconds = p90
        p99Microseconds = p99
        p999Microseconds = p999
        maxMicroseconds = max
        self.opsPerSecond = opsPerSecond
    }

    static func == (lhs: BenchResult, rhs: BenchResult) -> Bool {
        lhs.workload == rhs.workload && lhs.concurrency == rhs.concurrency && lhs.ops == rhs.ops
            && lhs.p50Microseconds == rhs.p50Microseconds && lhs.opsPerSecond == rhs.opsPerSecond
    }
}
