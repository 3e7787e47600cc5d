import Hiredis

/// One benchmarked operation, runnable at any concurrency.
struct Workload: Sendable {
    /// The table it belongs to (`connection`, `pool`, `memory`, ...).
    let group: String
    /// Stable name used in `--json` and `--filter` (`connection.get`, `connection.get.fast`).
    let name: String
    /// The command the baselines run for comparison (`get` → `hiredis-sync.get`, `redis-benchmark.get`), if any.
    let baseline: BaselineCommand?
    /// Concurrency levels this workload always runs at (a fixed shape), instead of `--concurrency`.
    var fixedConcurrency: [Int]? = nil
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
}

/// A command both baselines can run: hiredis' sync loop with `arguments`, redis-benchmark with the same.
struct BaselineCommand: Sendable, Hashable {
    let key: String
    let arguments: [[UInt8]]

    /// GET of the bench key, SET of it to `value`, DEL of an absent key: the rows every client group has.
    static func standard(value: [UInt8]) -> (get: BaselineCommand, set: BaselineCommand, del: BaselineCommand) {
        let key = Array("bench:{axon}:key".utf8)
        return (
            BaselineCommand(key: "get", arguments: [Array("GET".utf8), key]),
            BaselineCommand(key: "set", arguments: [Array("SET".utf8), key, value]),
            BaselineCommand(key: "del", arguments: [Array("DEL".utf8), Array("bench:{axon}:absent".utf8)]))
    }

    /// The same command for our clients.
    var command: RedisCommand {
        RedisCommand(String(decoding: arguments[0], as: UTF8.self), arguments: arguments.dropFirst().map { $0 as any RedisArgument })
    }
}

/// The raw-command workloads on one connection: plain path and fast path (caller on the connection's executor).
enum ConnectionWorkloads {
    static func make(connection: RedisConnection, value: [UInt8]) -> [Workload] {
        let (get, set, del) = BaselineCommand.standard(value: value)
        var workloads: [Workload] = []
        for baseline in [get, set, del] {
            let command = baseline.command
            for fast in [false, true] {
                workloads.append(Workload(
                    group: "connection", name: "connection.\(baseline.key)\(fast ? ".fast" : "")", baseline: baseline
                ) { concurrency, limits in
                    try await WorkloadRunner.run(concurrency: concurrency, limits: limits, executor: fast ? connection.executor : nil) { _ in
                        _ = try await connection.send(command)
                    }
                })
            }
        }
        var pairs: [RedisCommand] = []
        for index in 0..<100 {
            pairs.append(RedisCommand("SET", "bench:{axon}:p:\(index)", value))
            pairs.append(RedisCommand("GET", "bench:{axon}:p:\(index)"))
        }
        workloads.append(Workload(group: "shapes", name: "shape.connection.get", baseline: get, fixedConcurrency: 1, 50) {
            concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await connection.send(get.command) }
        })
        for fast in [false, true] {
            workloads.append(Workload(
                group: "connection", name: "connection.pipeline.setget100\(fast ? ".fast" : "")", baseline: nil
            ) { [pairs] concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits, executor: fast ? connection.executor : nil) { _ in
                    _ = try await connection.pipeline(pairs)
                }
            })
        }
        return workloads
    }
}
