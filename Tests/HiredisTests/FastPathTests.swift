import TestSupport
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

@Suite("RedisConnection write batching")
struct WriteBatchingTests {
    /// The server's count of socket reads that returned data.
    func readsProcessed(_ connection: RedisConnection) async throws -> Int {
        let info = try await connection.send("INFO", "stats").string()
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") }
        return Int(line?.split(separator: ":").last ?? "") ?? -1
    }

    @Test func commandsAppendedInOneQueueTurnLeaveInOneWrite() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(server.configuration())
        let before = try await readsProcessed(connection)
        let replies = try await connection.pipeline((0..<200).map { RedisCommand("ECHO", "\($0)") })
        #expect(replies.count == 200)
        // 200 commands in one write: the server reads the pipeline once (plus the INFO that measures it).
        #expect(try await readsProcessed(connection) - before <= 3)

        // Fast path: 100 tasks started in one turn of the connection's queue share one write too.
        let start = try await readsProcessed(connection)
        let echoed = try await connection.withExecutor { connection in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<100 { group.addTask { try await connection.send("ECHO", "\(index)") == .bulk(Array("\(index)".utf8)) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        #expect(echoed == 100)
        #expect(try await readsProcessed(connection) - start <= 5)
        await connection.close()
    }

    @Test func aLoneCallerWritesItselfAndConcurrencySharesWritesAgain() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(server.configuration())
        for round in 0..<3 {
            // One caller at a time: after a few round trips it appends and writes from its own thread.
            for index in 0..<20 { #expect(try await connection.send("ECHO", "s\(round).\(index)") == .bulk(Array("s\(round).\(index)".utf8))) }
            // (The flag is set when the read event that resumed us ends, on the connection's thread.)
            let deadline = ContinuousClock.now + .seconds(30)
            while !connection.core.gauge.isAlone && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            #expect(connection.core.gauge.isAlone)
            // Then 200 callers at once: every reply still reaches its own caller, and the connection leaves lone mode.
            let matched = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask { try await connection.send("ECHO", "c\(round).\(index)") == .bulk(Array("c\(round).\(index)".utf8)) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(matched == 200)
        }
        // 200 commands sent together by concurrent callers take far fewer reads than 200 on the server.
        let before = try await readsProcessed(connection)
        let echoed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<200 { group.addTask { try await connection.send("ECHO", "\(index)") == .bulk(Array("\(index)".utf8)) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(echoed == 200)
        let reads = try await readsProcessed(connection) - before
        #expect(reads < 150, "\(reads) reads")
        await connection.close()
    }
}
