import CoreMetrics

/// A pool's gauges and counters, following OpenTelemetry's database client connection metrics where they apply:
/// `db.client.connection.count` (`db.client.connection.state` = `idle` for shared connections, `used` for
/// leased ones), `db.client.connection.pending_requests` (callers waiting), `db.client.connection.max`,
/// `db.client.connection.create_time` (one sample per connection opened, so its count is the connections
/// created) and `db.client.connection.failures` (failed connects plus connections that broke; ours). Every metric
/// carries `db.client.connection.pool.name` (the endpoint) and `db.system.name` = `redis`.
final class PoolMetrics: Sendable {
    private let idle: Gauge
    private let used: Gauge
    private let pending: Gauge
    private let createTime: Timer
    private let failures: Counter

    init?(telemetry: Telemetry, poolName: String, maxConnections: Int) {
        guard let factory = telemetry.metrics else { return nil }
        let base = [("db.client.connection.pool.name", poolName), ("db.system.name", "redis")]
        idle = Gauge(label: "db.client.connection.count", dimensions: base + [("db.client.connection.state", "idle")], factory: factory)
        used = Gauge(label: "db.client.connection.count", dimensions: base + [("db.client.connection.state", "used")], factory: factory)
        pending = Gauge(label: "db.client.connection.pending_requests", dimensions: base, factory: factory)
        createTime = Timer(label: "db.client.connection.create_time", dimensions: base, factory: factory)
        failures = Counter(label: "db.client.connection.failures", dimensions: base, factory: factory)
        Gauge(label: "db.client.connection.max", dimensions: base, factory: factory).record(maxConnections)
    }

    /// The pool's current counts.
    func update(open: Int, leased: Int, waiting: Int) {
        idle.record(open - leased)
        used.record(leased)
        pending.record(waiting)
    }

    func connected(afterNanoseconds elapsed: UInt64) { createTime.recordNanoseconds(Int64(clamping: elapsed)) }
    func failed() { failures.increment() }
}
