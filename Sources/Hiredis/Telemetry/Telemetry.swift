import CoreMetrics
import Dispatch
import Synchronization
import Tracing

/// Where this package's metrics and spans go: a metrics factory and a tracer, each `nil` when none is set up, so
/// that instrumented code costs nothing then (no clock reads, no allocations, one `nil` check).
///
/// Decided when a connection, pool, client or memory system is made: bootstrap `MetricsSystem` and
/// `InstrumentationSystem` first (or pass a factory or tracer explicitly).
public struct Telemetry: Sendable {
    /// The metrics factory, or `nil` when metrics are off (the global factory is the no-op one).
    public let metrics: (any MetricsFactory)?
    /// The tracer, or `nil` when tracing is off (the global tracer is the no-op one).
    public let tracer: (any Tracer)?

    /// Telemetry from `metrics` and `tracer`, or the bootstrapped global ones when `nil`.
    public init(metrics: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil) {
        let factory = metrics ?? MetricsSystem.factory
        self.metrics = factory is NOOPMetricsHandler ? nil : factory
        let chosen = tracer ?? InstrumentationSystem.tracer
        self.tracer = chosen is NoOpTracer ? nil : chosen
    }

    /// No metrics, no spans.
    public static let off = Telemetry(metrics: NOOPMetricsHandler.instance, tracer: NoOpTracer())

    /// Whether anything is recorded.
    public var isActive: Bool { metrics != nil || tracer != nil }

    /// Monotonic nanoseconds, for durations.
    package static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// Records each command's duration (`db.client.operation.duration`) and span, following OpenTelemetry's database
/// client conventions: `db.system.name` = `redis`, `db.operation.name` (the command, upper-case; `PIPELINE` for a
/// pipeline), `server.address`, `server.port`, and `error.type` (the `RedisError` code) when the command failed.
final class CommandObserver: Sendable {
    let telemetry: Telemetry
    private let address: String
    private let port: String
    /// One timer per command name and outcome, made once (at most 256 names; rarer ones are `OTHER`).
    private let timers = Mutex<[String: Timer]>([:])

    init?(telemetry: Telemetry, endpoint: RedisConfiguration.Endpoint) {
        guard telemetry.isActive else { return nil }
        self.telemetry = telemetry
        switch endpoint {
        case .tcp(let host, let port):
            address = host
            self.port = String(port)
        case .unixSocket(let path):
            address = path
            port = ""
        }
    }

    /// Runs `body` (one command, or a pipeline of `batch` commands), timing it and wrapping it in a span.
    func observe<T>(_ name: String, batch: Int? = nil, _ body: () async throws -> T) async throws -> T {
        let operation = name.utf8.contains(where: { (97...122).contains($0) }) ? name.uppercased() : name
        let start = Telemetry.now()
        let span = telemetry.tracer.map { tracer in
            let span = tracer.startAnySpan(operation, context: .current ?? .topLevel, ofKind: .client)
            span.attributes["db.system.name"] = "redis"
            span.attributes["db.operation.name"] = operation
            span.attributes["server.address"] = address
            if let port = Int(port) { span.attributes["server.port"] = port }
            if let batch { span.attributes["db.operation.batch.size"] = batch }
            return span
        }
        do {
            let result = try await body()
            record(operation, since: start, error: nil)
            span?.end()
            return result
        } catch {
            let code = (error as? RedisError)?.code.description ?? String(describing: type(of: error))
            record(operation, since: start, error: code)
            span?.recordError(error)
            span?.setStatus(SpanStatus(code: .error, message: code))
            span?.attributes["error.type"] = code
            span?.end()
            throw error
        }
    }

    private func record(_ operation: String, since start: UInt64, error: String?) {
        guard let factory = telemetry.metrics else { return }
        let elapsed = Telemetry.now() &- start
        let key = error.map { operation + "\u{0}" + $0 } ?? operation
        let timer = timers.withLock { timers -> Timer in
            if let timer = timers[key] { return timer }
            let name = timers.count < 256 ? operation : "OTHER"
            var dimensions = [
                ("db.system.name", "redis"), ("db.operation.name", name), ("server.address", address), ("server.port", port),
            ]
            if let error { dimensions.append(("error.type", error)) }
            let timer = Timer(label: "db.client.operation.duration", dimensions: dimensions, factory: factory)
            timers[key] = timer
            return timer
        }
        timer.recordNanoseconds(Int64(clamping: elapsed))
    }
}
