import Hiredis

/// GET and SET over TLS on one connection, and the same on the same server's plaintext port (`tls.plain.*`), when a
/// TLS server is given (`--tls` or scripts/with-tls.sh's variables). The cost of TLS is the ratio of `tls.get` to
/// `tls.plain.get` in the targets table; `connection.get` (the main server) is in the same run.
enum TLSWorkloads {
    static func make(
        server: (tls: RedisConfiguration, plain: RedisConfiguration)?, value: [UInt8]
    ) -> (workloads: [Workload], close: @Sendable () async -> Void) {
        guard let server else { return ([], {}) }
        let connections = ConnectionCache()
        let (get, set, _) = BaselineCommand.standard(value: value)
        var workloads: [Workload] = []
        // Each TLS row right before its plaintext twin, so the machine's drift hits both alike.
        for baseline in [get, set] {
            for (prefix, configuration) in [("tls", server.tls), ("tls.plain", server.plain)] {
                let command = baseline.command
                workloads.append(Workload(group: "tls", name: "\(prefix).\(baseline.key)", baseline: nil) { concurrency, limits in
                    let connection = try await connections.connection(configuration)
                    _ = try await connection.send("SET", "bench:{axon}:key", value)
                    return try await WorkloadRunner.run(concurrency: concurrency, limits: limits) { _ in _ = try await connection.send(command) }
                })
            }
        }
        return (workloads, { await connections.closeAll() })
    }

    /// One connection per configuration, opened on first use.
    actor ConnectionCache {
        private var open: [RedisConfiguration: RedisConnection] = [:]

        func connection(_ configuration: RedisConfiguration) async throws -> RedisConnection {
            if let connection = open[configuration] { return connection }
            let connection = try await RedisConnection.connect(configuration)
            open[configuration] = connection
            return connection
        }

        func closeAll() async {
            for connection in open.values { await connection.close() }
            open.removeAll()
        }
    }
}
