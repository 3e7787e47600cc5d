import Foundation
@testable import Hiredis
import TestSupport
import Testing

@Suite("RedisConnectionPool against real servers")
struct RedisConnectionPoolTests {
    @Test func thousandConcurrentTasksThroughFourConnections() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 4, openWhenInFlightAtLeast: 1)
        let matched = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<1_000 {
                group.addTask {
                    let payload = "pooled-\(index)"
                    return try await pool.send("ECHO", payload) == .bulk(Array(payload.utf8))
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(matched == 1_000)
        let statistics = pool.statistics
        #expect(statistics.open >= 1 && statistics.open <= 4)
        #expect(statistics.totalCreated == statistics.open)
        await pool.close()
    }

    @Test func elevenCallersOnTenConnectionsAllSucceed() async throws {
        // The seed's Python pool fails here with its default of 10 connections.
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 10)
        let key = uniqueKey()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<11 {
                group.addTask {
                    try await pool.withConnection { connection in
                        _ = try await connection.send("INCR", key)
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.send("GET", key) == .bulk(Array("11".utf8)))
        _ = try await pool.send("DEL", key)
        await pool.close()
    }

    @Test func exclusiveTransactionIsNotInterleaved() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 2, openWhenInFlightAtLeast: 1)
        let key = uniqueKey()
        let counter = key + ":counter"
        async let others: [RedisReply] = withThrowingTaskGroup(of: RedisReply.self) { group in
            for _ in 0..<500 { group.addTask { try await pool.send("INCR", counter) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let exec = try await pool.withConnection { connection in
            #expect(try await connection.send("MULTI") == .status("OK"))
            #expect(try await connection.send("SET", key, "a") == .status("QUEUED"))
            try await Task.sleep(for: .milliseconds(30))
            #expect(try await connection.send("GET", key) == .status("QUEUED"))
            return try await connection.send("EXEC")
        }
        #expect(exec == .array([.status("OK"), .bulk([97])]))
        let replies = try await others
        // A command interleaved into the MULTI block would have been answered QUEUED.
        #expect(replies.allSatisfy { if case .integer = $0 { true } else { false } })
        #expect(Set(replies).count == 500)
        _ = try await pool.send("DEL", key, counter)
        await pool.close()
    }

    @Test func leaseTimeoutWhenEveryConnectionIsHeld() async throws {
        let pool = try RedisConnectionPool(
            configuration: SharedServer.configuration(), maxConnections: 2, leaseTimeout: .milliseconds(200))
        let holding = Locked(0)
        let done = Locked(false)
        async let holders: Void = withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await pool.withConnection { _ in
                        holding.withLock { $0 += 1 }
                        while !done.value { try await Task.sleep(for: .milliseconds(5)) }  // held until the test is done
                    }
                }
            }
            try await group.waitForAll()
        }
        while holding.value < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(pool.statistics.leased == 2)
        let stalls = StallMeter()
        let started = ContinuousClock.now
        do {
            try await pool.withConnection { _ in Issue.record("no connection should be free") }
        } catch let error as RedisError {
            #expect(error.code == .poolExhausted)
            #expect(error.message.contains(SharedServer.host))
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(190) && waited < .milliseconds(200) + stalls.allowance)
        done.withLock { $0 = true }
        try await holders
        #expect(pool.statistics.leased == 0)
        #expect(pool.statistics.waiting == 0)
        await pool.close()
    }

    @Test func waitersAreServedInFIFOOrder() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 1)
        let order = Locked<[Int]>([])
        let waiters = try await pool.withConnection { _ in
            var tasks: [Task<Void, any Error>] = []
            for index in 0..<5 {
                tasks.append(Task { try await pool.withConnection { _ in order.withLock { $0.append(index) } } })
                // Each waiter queues before the next one starts.
                while pool.statistics.waiting < index + 1 { try await Task.sleep(for: .milliseconds(2)) }
            }
            return tasks
        }
        for task in waiters { try await task.value }
        #expect(order.value == [0, 1, 2, 3, 4])
        await pool.close()
    }

    @Test func statisticsFollowTheConnections() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 3)
        let empty = pool.statistics
        #expect([empty.open, empty.idle, empty.leased, empty.waiting, empty.totalCreated, empty.totalFailed] == [Int](repeating: 0, count: 6))
        _ = try await pool.send("PING")
        #expect(pool.statistics.open == 1)
        #expect(pool.statistics.idle == 1)
        try await pool.withConnection { _ in
            let inside = pool.statistics
            #expect(inside.leased == 1)
            #expect(inside.idle == 0)
        }
        try await pool.withConnection { _ in
            try await pool.withConnection { _ in
                #expect(pool.statistics.leased == 2)
                #expect(pool.statistics.open == 2)
            }
        }
        #expect(pool.statistics.totalCreated == 2)
        #expect(pool.statistics.totalFailed == 0)
        // A throwing body: its connection is closed, not returned.
        await #expect(throws: RedisError.self) {
            try await pool.withConnection { _ in throw RedisError(.invalidArgument, "test") }
        }
        #expect(pool.statistics.open == 1)
        await pool.close()
        #expect(pool.statistics.open == 0)
    }

    @Test func closeDrainsThenRefuses() async throws {
        let name = "axon-pool-\(UUID().uuidString.prefix(8))"
        var configuration = SharedServer.configuration()
        configuration.clientName = name
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 2)
        let key = uniqueKey()
        _ = try await pool.send("PING")
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 { group.addTask { (try? await pool.send("INCR", key)) != nil } }
            await pool.close()
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        do {
            _ = try await pool.send("PING")
            Issue.record("a closed pool must refuse commands")
        } catch let error as RedisError {
            #expect(error.code == .poolClosed)
        }
        let check = try await SharedServer.connect()
        // Every INCR that reported success really happened, and no socket of the pool is left.
        let succeeded = outcomes.filter { $0 }.count
        #expect(try await check.send("GET", key).optionalString().map { Int($0) } ?? 0 == succeeded)
        #expect(try await !check.send("CLIENT", "LIST").string().contains("name=\(name)"))
        _ = try await check.send("DEL", key)
        await check.close()
    }

    @Test func serverDownFailsFastWithTheAddress() async throws {
        let port = try freePort()
        let pool = try RedisConnectionPool(configuration: RedisConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(30)))
        let stalls = StallMeter()
        let started = ContinuousClock.now
        for _ in 0..<3 {
            do {
                _ = try await pool.send("PING")
                Issue.record("nothing listens there")
            } catch let error as RedisError {
                #expect(error.code == .connectionRefused)
                #expect(error.message.contains("127.0.0.1:\(port)"))
            }
        }
        // Refused at once, no connect timeout, no backoff wait. Three calls in a row: on a loaded machine each can meet
        // a stall of its own (5.37 s against a worst-stall allowance of 5.36 s in one fresh-clone run), so every stall counts.
        #expect(ContinuousClock.now - started < stalls.sumAllowance)
        #expect(pool.statistics.totalFailed >= 1)
        await pool.close()
    }

    @Test func survivesAServerRestartUnderLoad() async throws {
        var server = try await RedisServerProcess.start()
        let port = server.port
        let pool = try RedisConnectionPool(
            configuration: RedisConfiguration(host: "127.0.0.1", port: port, connectTimeout: .milliseconds(500), commandTimeout: .seconds(2)),
            maxConnections: 4, openWhenInFlightAtLeast: 8)
        let stop = Locked(false)
        let lastFailure = Locked<UInt64>(0)
        let successesAfterRestart = Locked(0)
        let restartedAt = Locked<UInt64>(0)
        let firstSuccessAfterRestart = Locked<UInt64>(0)
        let successes = Locked(0)
        let load = Task {
            await withTaskGroup(of: Int.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        var calls = 0
                        while !stop.value {
                            calls += 1
                            do {
                                _ = try await pool.send("INCR", "restart-counter")
                                successes.withLock { $0 += 1 }
                                if restartedAt.value != 0 {
                                    successesAfterRestart.withLock { $0 += 1 }
                                    let now = DispatchTime.now().uptimeNanoseconds
                                    firstSuccessAfterRestart.withLock { if $0 == 0 { $0 = now } }
                                }
                            } catch {
                                let now = DispatchTime.now().uptimeNanoseconds
                                lastFailure.withLock { $0 = now }
                                try? await Task.sleep(for: .milliseconds(5))
                            }
                        }
                        return calls
                    }
                }
                return await group.reduce(0, +)
            }
        }
        // The load runs before the crash, and the server stays down until a caller has seen the outage: on a
        // loaded machine (CI runs every suite at once on two cores) the load's tasks may not be scheduled for a
        // second, and a load that starts after the restart sees no outage at all.
        let loadDeadline = ContinuousClock.now + .seconds(20)
        while successes.value < 100 && ContinuousClock.now < loadDeadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(successes.value >= 100)
        let stalls = StallMeter()
        server.crash()
        server.stop()  // the crashed server's directory
        try await Task.sleep(for: .milliseconds(700))
        let outageDeadline = ContinuousClock.now + .seconds(20)
        while lastFailure.value == 0 && ContinuousClock.now < outageDeadline { try await Task.sleep(for: .milliseconds(20)) }
        server = try await RedisServerProcess.start(port: port)
        defer { server.stop() }
        let now = DispatchTime.now().uptimeNanoseconds
        restartedAt.withLock { $0 = now }
        // Load runs until a hundred calls succeed on the new server (seconds on a loaded machine).
        let deadline = ContinuousClock.now + .seconds(20)
        while successesAfterRestart.value <= 100 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        stop.withLock { $0 = true }
        let calls = try await withDeadline(.seconds(20)) { await load.value }
        #expect(calls > 64)
        #expect(lastFailure.value != 0)  // the outage was seen
        let first = firstSuccessAfterRestart.value
        #expect(first != 0)
        // Calls succeed again within 2 s of the restart (reconnect backoff is capped at 1 s), give or take what
        // the machine itself stalled this process.
        #expect(Duration.nanoseconds(first &- restartedAt.value) < .seconds(2) + stalls.worstStall)
        #expect(successesAfterRestart.value > 100)
        await pool.close()
    }
}

@Suite("Pool callers during a reconnect")
struct PoolReconnectTests {
    /// A server that accepts but never answers: shared callers wait for the connect, then fail with its error
    /// (a connect timeout), never with a lease timeout that blames the pool's limits.
    @Test func sharedCallersDuringASlowConnectGetTheConnectError() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let configuration = RedisConfiguration(host: "127.0.0.1", port: listener.port, connectTimeout: .milliseconds(1500))
        let pool = try RedisConnectionPool(configuration: configuration, maxConnections: 20, leaseTimeout: .milliseconds(200))
        let stalls = StallMeter()
        let started = ContinuousClock.now
        let errors = try await withThrowingTaskGroup(of: RedisError?.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    do {
                        _ = try await pool.send("GET", "k")
                        return nil
                    } catch let error as RedisError {
                        return error
                    }
                }
            }
            var errors: [RedisError] = []
            for try await error in group { if let error { errors.append(error) } }
            return errors
        }
        #expect(errors.count == 16)
        for error in errors {
            #expect(error.code == .connectTimeout, "\(error)")
            #expect(!error.message.contains("raise maxConnections"))
        }
        #expect(ContinuousClock.now - started < .milliseconds(1500) + stalls.allowance)
        await pool.close()
    }
}

@Suite("Commands that must not share a connection")
struct SharedConnectionRuleTests {
    @Test func everyListedNameIsRefusedInAnyCaseAndOthersPass() {
        for name in SharedConnectionRule.blocking.union(SharedConnectionRule.stateful) {
            for spelling in [name, name.lowercased(), name.prefix(1) + name.dropFirst().lowercased()] {
                #expect(SharedConnectionRule.refusal(RedisCommand(String(spelling), "k", "1")) != nil, "\(spelling)")
            }
        }
        for name in ["GET", "EVALSHA", "evalsha", "CLIENTS", "XREADS", "BLPOPX", "MULTIPLE", "SUBSCRIBER", "é", "BLPOPBLPOPBLPOP"] {
            #expect(SharedConnectionRule.refusal(RedisCommand(name, "k", "1")) == nil, "\(name)")
        }
        #expect(SharedConnectionRule.refusal(RedisCommand("xreadgroup", "GROUP", "g", "c", "BLOCK", "1", "STREAMS", "s", ">")) != nil)
        #expect(SharedConnectionRule.refusal(RedisCommand("Client", "Reply", "off")) != nil)
    }

    @Test func blockingAndStatefulCommandsAreRefusedOnSharedPathsAtOnce() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 2)
        let key = uniqueKey()
        let refused: [RedisCommand] = [
            RedisCommand("BLPOP", key, "2"), RedisCommand("brpop", key, "0"), RedisCommand("BRPOPLPUSH", key, key + "b", "1"),
            RedisCommand("BLMOVE", key, key + "b", "LEFT", "RIGHT", "1"), RedisCommand("BZPOPMIN", key, "1"),
            RedisCommand("XREAD", "COUNT", "1", "block", "1000", "STREAMS", key, "$"), RedisCommand("WAIT", "1", "1000"),
            RedisCommand("MULTI"), RedisCommand("EXEC"), RedisCommand("WATCH", key), RedisCommand("SELECT", "3"),
            RedisCommand("CLIENT", "REPLY", "OFF"), RedisCommand("client", "setname", "x"), RedisCommand("CLIENT", "TRACKING", "on"),
            RedisCommand("READONLY"), RedisCommand("RESET"), RedisCommand("QUIT"),
        ]
        let started = ContinuousClock.now
        for command in refused {
            do {
                _ = try await pool.send(command)
                Issue.record("\(command.name) was sent on a shared connection")
            } catch let error as RedisError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("withConnection"), "\(error.message)")
            }
            await #expect(throws: RedisError.self) { _ = try await pool.pipeline([RedisCommand("PING"), command]) }
        }
        #expect(ContinuousClock.now - started < .seconds(1))  // refused before anything was sent
        // Their harmless relatives pass, and a leased connection takes them all.
        _ = try await pool.send("XREAD", "COUNT", "1", "STREAMS", key, "0")
        _ = try await pool.send("CLIENT", "ID")
        await #expect(throws: RedisError.self) { _ = try await pool.send("EVALSHA", String(repeating: "0", count: 40), 0) }  // NOSCRIPT
        let queued = try await pool.withConnection { connection in
            _ = try await connection.send("MULTI")
            _ = try await connection.send("INCR", key)
            return try await connection.send("EXEC")
        }
        #expect(try queued.array().count == 1)
        await pool.close()
    }
}
