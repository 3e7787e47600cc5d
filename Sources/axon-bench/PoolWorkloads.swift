import Hiredis

/// Raw commands through `RedisConnectionPool`, and the shapes Swift clients are usually compared on.
enum PoolWorkloads {
    static func make(configuration: RedisConfiguration, value: [UInt8]) throws -> [Workload] {
        let pool4 = try RedisConnectionPool(configuration: configuration, maxConnections: 4)
        let pool20 = try RedisConnectionPool(configuration: configuration, maxConnections: 20)
        let pool16 = try RedisConnectionPool(configuration: configuration, maxConnections: 16)
        let (get, set, del) = BaselineCommand.standard(value: value)
        var workloads: [Workload] = []
        for baseline in [get, set, del] {
            let command = baseline.command
            workloads.append(Workload(group: "pool", name: "pool.\(baseline.key)", baseline: baseline) { concurrency, limits in
                try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await pool4.send(command) }
            })
        }
        let getCommand = get.command
        workloads.append(Workload(group: "shapes", name: "shape.pool20.get", baseline: get, fixedConcurrency: 50) { concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await pool20.send(getCommand) }
        })
        workloads.append(Workload(group: "shapes", name: "shape.pool16.get", baseline: get, fixedConcurrency: 256) { concurrency, limits in
            try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await pool16.send(getCommand) }
        })
        return workloads
    }
}
