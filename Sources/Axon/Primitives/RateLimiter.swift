import Foundation
import Hiredis
import Logging
import Synchronization

/// What a rate-limit check decided, with the figures for `RateLimit-*` and `Retry-After` headers.
public struct RateLimitDecision: Sendable, Hashable {
    /// Whether the request may proceed (its cost was taken).
    public var allowed: Bool
    /// Requests of cost 1 that would be allowed right now, after this one.
    public var remaining: Int
    /// When denied: how long until this request's cost would be allowed (zero when allowed).
    public var retryAfter: Duration
    /// How long until the limiter is back to full capacity (`RateLimit-Reset`).
    public var resetAfter: Duration
    /// The configured limit per period (`RateLimit-Limit`).
    public var limit: Int
}

/// A rate limiter: `limit` requests per `period` on average, with up to `burst` at once after a quiet spell.
///
/// It uses GCRA (the generic cell rate algorithm, a leaky bucket kept as one timestamp per key) rather than a
/// sliding window: one small value per key instead of one entry per request, and the retry-after and
/// reset-after figures fall out of the arithmetic. Each decision is one Lua script using the server's clock
/// (`TIME`), never the client's, so every process and pool shares one limit.
///
/// What GCRA guarantees, exactly: requests of cost 1 are allowed one per `period / limit` on average; a key
/// that has been quiet can take `burst` at once; in any window of length `w`, at most
/// `burst + limit × w / period` requests are allowed (rounded down, plus one on the window's closing edge). So
/// in one `period` up to `limit + burst`: with the default `burst` (= `limit`), twice the limit when a quiet key
/// is hit hard. For at most about `limit` in every period, pass a small `burst` (`burst: 1` allows `limit + 1`).
/// Ranges: `limit` and `burst` 1 to 1,000,000,000, `period` 1 ms to 366 days, and a full burst must refill
/// within 366 days (`burst × period / limit`).
public protocol RateLimiting: Sendable {
    /// Takes `cost` from `key`'s allowance if it is available. `cost` must be 1...burst.
    func check(_ key: String, cost: Int) async throws -> RateLimitDecision
}

extension RateLimiting {
    /// Takes one unit from `key`'s allowance if it is available.
    public func check(_ key: String) async throws -> RateLimitDecision { try await check(key, cost: 1) }
}

/// The GCRA arithmetic, in microseconds, shared by the in-process limiter (the Lua script mirrors it).
struct GCRA: Sendable {
    let limit: Int
    /// Microseconds between requests at the steady rate.
    let interval: Int64
    /// How far ahead of now the theoretical arrival time may run: `interval × burst`.
    let tolerance: Int64

    init(limit: Int, period: Duration, burst: Int) throws(MemoryError) {
        _ = try ValueRanges.count(limit, "a rate limit's limit", in: 1...ValueRanges.largestCount)
        _ = try ValueRanges.count(burst, "a rate limit's burst", in: 1...ValueRanges.largestCount)
        let micros = try ValueRanges.milliseconds(period, "a rate limit's period", code: .invalidConfiguration) * 1000
        guard micros >= Int64(limit) else { throw .invalidConfiguration("period \(period) is too short for \(limit) requests") }
        self.limit = limit
        interval = micros / Int64(limit)
        let (product, overflow) = interval.multipliedReportingOverflow(by: Int64(burst))
        guard !overflow, product <= ValueRanges.longestDuration.components.seconds * 1_000_000 else {
            throw .invalidConfiguration("a burst of \(burst) at \(limit) per \(period) takes more than 366 days to refill; lower the burst")
        }
        tolerance = product
    }

    /// Decides at `now` given the stored theoretical arrival time; returns the decision and the new TAT to store.
    func decide(now: Int64, storedTAT: Int64?, cost: Int) -> (RateLimitDecision, newTAT: Int64?) {
        let tat = max(storedTAT ?? now, now)
        let newTAT = tat + interval * Int64(cost)
        let allowAt = newTAT - tolerance
        if now < allowAt {
            let remaining = max(0, (now - (tat - tolerance)) / interval)
            return (RateLimitDecision(
                allowed: false, remaining: Int(remaining), retryAfter: .microseconds(allowAt - now),
                resetAfter: .microseconds(tat - now), limit: limit), nil)
        }
        let remaining = (now - allowAt) / interval
        return (RateLimitDecision(
            allowed: true, remaining: Int(remaining), retryAfter: .zero, resetAfter: .microseconds(newTAT - now), limit: limit), newTAT)
    }
}

/// `RateLimiting` in Redis: one key per limited subject, `axon:{ns.<hex>}:rl:<name hex>:<key hex>`.
public final class RedisRateLimiter: RateLimiting {
    private let client: any RedisCommandSender
    private let gcra: GCRA
    private let burst: Int
    private let prefix: String
    private let decisions: PrimitiveCounters?
    private let logger: Logger

    /// A limiter named `name` in `namespace`: `limit` per `period`, `burst` at once (default: `limit`). With
    /// telemetry on, every decision counts in `axon.ratelimit.decisions` (`axon.ratelimit.name`, `outcome`).
    public init(
        client: some RedisCommandSender, namespace: String = "default", name: String, limit: Int, period: Duration, burst: Int? = nil,
        logger: Logger = Logger(label: "axon.ratelimit"), telemetry: Telemetry = Telemetry()
    ) throws(MemoryError) {
        self.client = client
        self.burst = burst ?? limit
        self.logger = logger
        gcra = try GCRA(limit: limit, period: period, burst: self.burst)
        prefix = RedisKeyspace(namespace: namespace).prefix + "rl:" + RedisKeyspace.hex(name) + ":"
        decisions = PrimitiveCounters(
            telemetry, label: "axon.ratelimit.decisions", dimensions: [("axon.ratelimit.name", name)], outcomes: ["allowed", "denied"])
    }

    /// KEYS[1] the subject's TAT (µs). ARGV[1] interval µs, ARGV[2] tolerance µs, ARGV[3] cost, ARGV[4] limit.
    /// Returns {allowed (0/1), remaining, retry-after µs, reset-after µs}.
    static let script = RedisScript("""
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local interval, tolerance, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
    local tat = tonumber(redis.call('GET', KEYS[1]) or now)
    if tat < now then tat = now end
    local newTat = tat + interval * cost
    local allowAt = newTat - tolerance
    if now < allowAt then
      local remaining = math.max(0, math.floor((now - (tat - tolerance)) / interval))
      return {0, remaining, allowAt - now, tat - now}
    end
    redis.call('SET', KEYS[1], string.format('%d', newTat), 'PX', math.ceil((newTat - now) / 1000))
    return {1, math.floor((now - allowAt) / interval), 0, newTat - now}
    """)

    public func check(_ key: String, cost: Int) async throws -> RateLimitDecision {
        guard (1...burst).contains(cost) else {
            throw MemoryError.invalidArgument("cost \(cost) can never be allowed: it must be 1...\(burst) (the burst)")
        }
        let reply: RedisReply
        do {
            reply = try await Self.script.run(on: client, keys: [subjectKey(key)], arguments: scriptArguments(cost: cost))
        } catch {
            logger.debug("rate-limit check failed", metadata: ["redis.error": "\(error)"])
            throw MemoryError.storage(error)
        }
        let values = try reply.array().map { try $0.int() }
        guard values.count == 4 else { throw MemoryError(.storage, "unexpected rate-limit script reply") }
        decisions?.record(values[0] == 1 ? "allowed" : "denied")
        return RateLimitDecision(
            allowed: values[0] == 1, remaining: Int(values[1]), retryAfter: .microseconds(values[2]),
            resetAfter: .microseconds(values[3]), limit: gcra.limit)
    }

    /// The EVALSHA that `check` sends (loading the script if needed), for a benchmark's baseline.
    package func checkCommand(_ key: String, cost: Int) async throws -> RedisCommand {
        try await Self.script.command(on: client, keys: [subjectKey(key)], arguments: scriptArguments(cost: cost))
    }

    private func subjectKey(_ key: String) -> String { prefix + RedisKeyspace.hex(key) }
    private func scriptArguments(cost: Int) -> [any RedisArgument] { [gcra.interval, gcra.tolerance, cost, gcra.limit] }
}

/// `RateLimiting` in this process, with the same arithmetic as `RedisRateLimiter`.
public final class InMemoryRateLimiter: RateLimiting {
    private let gcra: GCRA
    private let burst: Int
    private let state = Mutex<[String: Int64]>([:])
    private let decisions: PrimitiveCounters?

    /// `limit` per `period`, `burst` at once (default: `limit`); `name` labels its `axon.ratelimit.decisions`.
    public init(limit: Int, period: Duration, burst: Int? = nil, name: String = "default", telemetry: Telemetry = Telemetry()) throws(MemoryError) {
        self.burst = burst ?? limit
        gcra = try GCRA(limit: limit, period: period, burst: self.burst)
        decisions = PrimitiveCounters(
            telemetry, label: "axon.ratelimit.decisions", dimensions: [("axon.ratelimit.name", name)], outcomes: ["allowed", "denied"])
    }

    public func check(_ key: String, cost: Int) async throws -> RateLimitDecision {
        guard (1...burst).contains(cost) else {
            throw MemoryError.invalidArgument("cost \(cost) can never be allowed: it must be 1...\(burst) (the burst)")
        }
        let now = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        return state.withLock { tats in
            if tats.count > 10_000 { tats = tats.filter { $0.value > now } }
            let (decision, newTAT) = gcra.decide(now: now, storedTAT: tats[key], cost: cost)
            if let newTAT { tats[key] = newTAT }
            decisions?.record(decision.allowed ? "allowed" : "denied")
            return decision
        }
    }
}
