/// One way of running a row's baseline request(s) at the row's concurrency.
struct BaselinePlan: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// hiredis' blocking loop on `threads` threads with a connection each.
        case sync(threads: Int)
        /// `redis-benchmark -c clients -P pipeline`.
        case redisBenchmark(clients: Int, pipeline: Int)
    }

    let command: BaselineCommand
    let kind: Kind

    /// The row name: `hiredis-sync.get`, `redis-benchmark.get` (`-c N`), `redis-benchmark.P64.get` (`-P 64 -c 1`).
    var name: String {
        switch kind {
        case .sync: "hiredis-sync.\(command.key)"
        case .redisBenchmark(_, let pipeline) where pipeline > 1: "redis-benchmark.P\(pipeline).\(command.key)"
        case .redisBenchmark: "redis-benchmark.\(command.key)"
        }
    }

    /// Requests in flight: the concurrency column of the row.
    var concurrency: Int {
        switch kind {
        case .sync(let threads): threads
        case .redisBenchmark(let clients, let pipeline): clients * pipeline
        }
    }

    /// Identifies one baseline row of the report.
    var rowKey: String { "\(name)@\(concurrency)" }

    /// What a row of `group` at `concurrency` compares with, the ratio's baseline first; the others are measured
    /// beside it for reference. One caller: the sync loop (the floor for any client over hiredis). Above that, a
    /// single command: `redis-benchmark` with as many connections, and for the connection and pool rows the C
    /// ceiling for that many requests in flight, `redis-benchmark -P N -c 1` (N pipelined on one connection), which
    /// is then the ratio's baseline. A sequence or a mixed pipeline: the sync loop on a thread per caller.
    static func plans(for command: BaselineCommand, group: String, concurrency: Int, redisBenchmark: Bool) -> [BaselinePlan] {
        guard concurrency > 1 else { return [BaselinePlan(command: command, kind: .sync(threads: 1))] }
        guard command.single != nil, redisBenchmark else { return [BaselinePlan(command: command, kind: .sync(threads: concurrency))] }
        let perConnection = BaselinePlan(command: command, kind: .redisBenchmark(clients: concurrency, pipeline: 1))
        guard group == "connection" || group == "pool" else { return [perConnection] }
        return [BaselinePlan(command: command, kind: .redisBenchmark(clients: 1, pipeline: concurrency)), perConnection]
    }
}
