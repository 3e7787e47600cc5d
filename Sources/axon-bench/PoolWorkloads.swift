import Hiredis
import Synchronization

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
        workloads += mixed(configuration: configuration, get: getCommand)
        return workloads
    }

    /// Small GETs at 64 callers through a default pool, alone, while one more task moves 1 MiB values (SET then
    /// GET) through the same pool, and while it moves them through a pool of its own (what the machine and the
    /// server pay for the large values, with no socket shared): a small reply must not queue behind a large one
    /// (the targets table compares their p99). Each run gets fresh default pools, so all start from one connection.
    static func mixed(configuration: RedisConfiguration, get: RedisCommand) -> [Workload] {
        let large = [UInt8](repeating: UInt8(ascii: "m"), count: 1 << 20)
        let variants = [("pool.mixed.get.alone", false, false), ("pool.mixed.get.beside-1mib", true, false), ("pool.mixed.get.beside-1mib.apart", true, true)]
        return variants.map { name, moving, apart in
            Workload(group: "pool", name: name, baseline: nil, fixedConcurrency: 64) { concurrency, limits in
                let pool = try RedisConnectionPool(configuration: configuration)
                let moverPool = apart ? try RedisConnectionPool(configuration: configuration) : pool
                let stop = Atomic<Bool>(false)
                let mover = Task {
                    guard moving else { return }
                    while !stop.load(ordering: .relaxed) {
                        _ = try await moverPool.send("SET", "bench:{axon}:large", large)
                        _ = try await moverPool.send("GET", "bench:{axon}:large")
                    }
                }
                let measurement: WorkloadRunner.Measurement
                do {
                    measurement = try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await pool.send(get) }
                } catch {
                    stop.store(true, ordering: .relaxed)
                    _ = await mover.result
                    await pool.close()
                    if apart { await moverPool.close() }
                    throw error
                }
                stop.store(true, ordering: .relaxed)
                let moved = await mover.result
                await pool.close()
                if apart { await moverPool.close() }
                try moved.get()
                return measurement
            }
        }
    }
}
