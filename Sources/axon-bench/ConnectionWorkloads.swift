import Hiredis

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
        // The sync loop pipelines the same 200 commands; redis-benchmark cannot mix commands in a pipeline.
        let pipelineBaseline = BaselineCommand(key: "pipeline.setget100", commands: pairs, pipelined: true)
        workloads.append(Workload(group: "shapes", name: "shape.connection.get", baseline: get, fixedConcurrency: 1, 50) {
            concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await connection.send(get.command) }
        })
        for fast in [false, true] {
            workloads.append(Workload(
                group: "connection", name: "connection.pipeline.setget100\(fast ? ".fast" : "")", baseline: pipelineBaseline
            ) { [pairs] concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits, executor: fast ? connection.executor : nil) { _ in
                    _ = try await connection.pipeline(pairs)
                }
            })
        }
        return workloads
    }
}
