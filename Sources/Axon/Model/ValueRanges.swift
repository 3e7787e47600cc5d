/// The ranges the memory layer and primitives accept for durations and counts, checked before any arithmetic, so
/// that no value a caller passes can overflow (which would trap and end the process).
package enum ValueRanges {
    /// The longest TTL, lock lease, period or timeout accepted anywhere: 366 days.
    package static let longestDuration: Duration = .seconds(366 * 24 * 3600)
    /// The largest count (limit, burst, cap, capacity) accepted anywhere.
    package static let largestCount = 1_000_000_000

    /// `duration` in whole milliseconds, when it is within `range` (default 1 ms to 366 days); otherwise an error
    /// of `code` naming `what` and the accepted range.
    package static func milliseconds(
        _ duration: Duration, _ what: String, in range: ClosedRange<Duration> = .milliseconds(1)...longestDuration,
        code: MemoryError.Code = .invalidArgument
    ) throws(MemoryError) -> Int64 {
        guard range.contains(duration) else {
            throw MemoryError(code, "\(what) must be \(describe(range.lowerBound)) to \(describe(range.upperBound)), got \(duration)")
        }
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `count` when it is within `range`; otherwise an error of `code` naming `what` and the range.
    package static func count(
        _ count: Int, _ what: String, in range: ClosedRange<Int>, code: MemoryError.Code = .invalidConfiguration
    ) throws(MemoryError) -> Int {
        guard range.contains(count) else { throw MemoryError(code, "\(what) must be \(range.lowerBound) to \(range.upperBound), got \(count)") }
        return count
    }

    /// A duration as a person reads it: `1 ms`, `60 s`, `366 days`.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds >= 86_400 && seconds % 86_400 == 0 { return "\(seconds / 86_400) days" }
        if attoseconds == 0 { return "\(seconds) s" }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
    }
}
