#if canImport(Glibc)
import Glibc
#endif

/// A cheap monotonic clock for bookkeeping that tolerates a few milliseconds of error (command-timeout
/// stamps, backoff, idle checks).
enum MonotonicClock {
    /// `CLOCK_MONOTONIC_COARSE` in nanoseconds: a few ns to read, a scheduler tick (1–4 ms) of resolution.
    static func coarseNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
