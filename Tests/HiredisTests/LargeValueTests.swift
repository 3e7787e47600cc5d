import Foundation
import Hiredis
import TestSupport
import Testing

@Suite("Large values: whole replies, busy connections and pool routing")
struct LargeValueTests {
    /// A value of `count` bytes whose content depends on `seed`, so a mixed-up reply cannot match.
    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test func largeRepliesArriveWholeAndInOrderBesideSmallOnes() async throws {
        let connection = try await RedisConnection.connect(SharedServer.configuration())
        let key = "test:{large}:\(UUID().uuidString)"
        let big = Self.pattern(5 << 20, seed: 7)
        let replies = try await connection.pipeline([
            RedisCommand("SET", key, big), RedisCommand("GET", key), RedisCommand("SET", key + ":s", "small"),
            RedisCommand("GET", key + ":s"), RedisCommand("GET", key), RedisCommand("PING"),
        ])
        #expect(try replies[1].bytes() == big)
        #expect(try replies[3].string() == "small")
        #expect(try replies[4].bytes() == big)
        #expect(try replies[5].string() == "PONG")
        // Large and small replies interleaved across 8 callers on one connection.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<4 {
                        let large = (task + round) % 2 == 0
                        let got = try await connection.send("GET", large ? key : key + ":s").bytes()
                        #expect(large ? got == big : got == Array("small".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await connection.send("DEL", key, key + ":s")
        await connection.close()
    }

    @Test func aLargeRequestMarksItsConnectionBusyUntilItsReply() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let admin = try await RedisConnection.connect(server.configuration())
        let connection = try await RedisConnection.connect(server.configuration())
        #expect(!connection.isMovingLargeValue)
        // Write commands wait while the server is paused for writes: the large SET stays in flight.
        _ = try await admin.send("CLIENT", "PAUSE", 5000, "WRITE")
        let set = Task { try await connection.send("SET", "large", Self.pattern(1 << 20, seed: 1)) }
        #expect(await Self.eventually { connection.isMovingLargeValue })
        _ = try await admin.send("CLIENT", "UNPAUSE")
        _ = try await set.value
        #expect(!connection.isMovingLargeValue)
        await connection.close()
        await admin.close()
    }

    @Test func smallCommandsGoAroundAConnectionMovingALargeValue() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let admin = try await RedisConnection.connect(server.configuration())
        let pool = try RedisConnectionPool(configuration: server.configuration())
        _ = try await pool.send("SET", "small", "x")
        #expect(pool.statistics.open == 1)
        _ = try await admin.send("CLIENT", "PAUSE", 10000, "WRITE")
        let set = Task { try await pool.send("SET", "large", Self.pattern(1 << 20, seed: 2)) }
        // The next small command finds the only connection busy: the pool opens another for what follows. (Waits for
        // the large SET to be in flight: on a loaded machine its task can start after a fixed sleep, and then the GET
        // went first, found nothing busy, and the test's own GET was the one to queue behind the SET.)
        #expect(await Self.eventually { pool.statistics.idle == 0 })
        let first = Task { try await pool.send("GET", "small") }
        #expect(await Self.eventually { pool.statistics.open == 2 })
        let began = ContinuousClock.now
        #expect(try await pool.send("GET", "small").string() == "x")
        let waited = ContinuousClock.now - began
        // Served while the large SET is still held by the pause, not behind it.
        #expect(waited < .seconds(5), "a small GET waited \(waited) behind a large SET")
        _ = try await admin.send("CLIENT", "UNPAUSE")
        _ = try await set.value
        #expect(try await first.value.string() == "x")
        await pool.close()
        await admin.close()
    }

    /// Polls `condition` every 5 ms for up to 3 s.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<600 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }
}
