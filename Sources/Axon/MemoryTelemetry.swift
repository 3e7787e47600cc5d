import CoreMetrics
import Hiredis
import Synchronization
import Tracing

/// The memory layer's metrics and spans: `axon.memory.operation.duration` (timer; dimensions
/// `axon.memory.operation` = store, storeBatch, get, forget, recall, count, clear, sweep, rebuild, export, import, diagnostics,
/// `axon.memory.tier`, and for recall `axon.memory.recall.kind` = text, tag, user, session or list), and the counters
/// `axon.memory.evictions` (entries the session cap evicted), `axon.memory.index.pruned` (expired entries and stray
/// index members removed by sweeps) and `axon.memory.sweeps`. Spans are named `memory.<operation>` with the same
/// attributes. Nothing is made when telemetry is off.
final class MemoryTelemetry: Sendable {
    private let telemetry: Telemetry
    private let timers = Mutex<[String: Timer]>([:])
    private let counters = Mutex<[String: Counter]>([:])

    init?(_ telemetry: Telemetry) {
        guard telemetry.isActive else { return nil }
        self.telemetry = telemetry
    }

    /// Times `body` and wraps it in a span.
    func observe<T>(_ operation: String, tier: MemoryTier?, kind: String? = nil, _ body: () async throws -> T) async throws -> T {
        var dimensions = [("axon.memory.operation", operation), ("axon.memory.tier", tier?.rawValue ?? "all")]
        if let kind { dimensions.append(("axon.memory.recall.kind", kind)) }
        let start = Telemetry.now()
        let span = telemetry.tracer.map { tracer in
            let span = tracer.startAnySpan("memory.\(operation)", context: .current ?? .topLevel, ofKind: .internal)
            for (key, value) in dimensions { span.attributes[key] = value }
            return span
        }
        do {
            let result = try await body()
            time(dimensions, since: start)
            span?.end()
            return result
        } catch {
            time(dimensions + [("error.type", (error as? MemoryError)?.code.rawValue ?? "\(type(of: error))")], since: start)
            span?.recordError(error)
            span?.setStatus(SpanStatus(code: .error))
            span?.end()
            throw error
        }
    }

    /// Adds `amount` to counter `label` for `tier`.
    func count(_ label: String, tier: MemoryTier, _ amount: Int) {
        guard amount > 0, let factory = telemetry.metrics else { return }
        let key = label + "\u{0}" + tier.rawValue
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: [("axon.memory.tier", tier.rawValue)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment(by: amount)
    }

    private func time(_ dimensions: [(String, String)], since start: UInt64) {
        guard let factory = telemetry.metrics else { return }
        let key = dimensions.map { $0.1 }.joined(separator: "\u{0}")
        let timer = timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Timer(label: "axon.memory.operation.duration", dimensions: dimensions, factory: factory)
            timers[key] = timer
            return timer
        }
        timer.recordNanoseconds(Int64(clamping: Telemetry.now() &- start))
    }

    /// The kind of a recall, for the metric's dimension: by the query's words and filters.
    static func kind(of query: RecallQuery) -> String {
        if !query.words.isEmpty { return "text" }
        if !query.filter.tags.isEmpty || !query.filter.anyTags.isEmpty { return "tag" }
        if query.filter.sessionID != nil { return "session" }
        if query.filter.userID != nil { return "user" }
        return "list"
    }
}

/// Counters of the primitives: `axon.ratelimit.decisions` (`axon.ratelimit.name`, `outcome` = allowed or denied)
/// and `axon.lock.events` (`outcome` = acquired, contended, or expired: a release or extend found the lease gone).
final class PrimitiveCounters: Sendable {
    private let counters: [String: Counter]

    init?(_ telemetry: Telemetry, label: String, dimensions: [(String, String)], outcomes: [String]) {
        guard let factory = telemetry.metrics else { return nil }
        var counters: [String: Counter] = [:]
        for outcome in outcomes {
            counters[outcome] = Counter(label: label, dimensions: dimensions + [("outcome", outcome)], factory: factory)
        }
        self.counters = counters
    }

    func record(_ outcome: String) { counters[outcome]?.increment() }
}
