import Testing
@testable import Hiredis

@Suite("RedisConnection fast path")
struct FastPathTests {
    @Test func repliesResumeTheCallerOnTheConnectionQueue() async throws {
        let connection = try await SharedServer.connect()
        let onQueue = try await connection.withExecutor { connection in
            var all = true
            for _ in 0..<100 {
                _ = try await connection.send("PING")
                all = all && connection.core.executor.isOnQueue
            }
            return all
        }
        #expect(onQueue)
        // The plain path resumes elsewhere.
        _ = try await connection.send("PING")
        #expect(!connection.core.executor.isOnQueue)
        await connection.close()
    }
}
