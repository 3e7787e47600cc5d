import Foundation
import Hiredis
import Logging
import ServiceLifecycle
import UnixSignals
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("The pool as a ServiceLifecycle service")
struct ServiceLifecycleTests {
    /// A signal shuts the group down while 32 tasks send: in-flight calls finish, later ones fail with poolClosed.
    @Test func aSignalDrainsThePoolWhileALoadRuns() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 4)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: pool)], gracefulShutdownSignals: [.sigusr2], logger: Logger(label: "test.service-group")))
        let running = Task { try await group.run() }
        let key = uniqueKey()
        _ = try await pool.send("SET", key, "v")
        let outcomes = Locked<[String: Int]>([:])
        let load = Task {
            await withTaskGroup(of: Void.self) { tasks in
                for _ in 0..<32 {
                    tasks.addTask {
                        while true {
                            do {
                                _ = try await pool.send("GET", key)
                                outcomes.withLock { $0["ok", default: 0] += 1 }
                            } catch let error as RedisError {
                                outcomes.withLock { $0[error.code.description, default: 0] += 1 }
                                if error.code == .poolClosed { return }
                            } catch {
                                outcomes.withLock { $0["\(error)", default: 0] += 1 }
                                return
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        kill(getpid(), SIGUSR2)
        try await withDeadline(.seconds(20)) { try await running.value }
        try await withDeadline(.seconds(20)) { await load.value }
        let counts = outcomes.value
        #expect((counts["ok"] ?? 0) > 0)
        #expect(Set(counts.keys).isSubset(of: ["ok", "poolClosed"]), "\(counts)")
        await #expect(throws: RedisError.self) { _ = try await pool.send("GET", key) }
    }
}
