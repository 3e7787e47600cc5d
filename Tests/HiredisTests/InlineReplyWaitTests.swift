import Dispatch
import TestSupport
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Hiredis

/// A caller alone on a plaintext connection waits for its reply on its own thread (`RedisConfiguration.inlineReplyWait`).
@Suite("RedisConnection inline reply wait")
struct InlineReplyWaitTests {
    /// Sends until the connection is in lone mode (set when a read event ends, on the connection's thread).
    func becomeAlone(_ connection: RedisConnection) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            _ = try await connection.send("PING")
        } while !connection.core.gauge.isAlone && ContinuousClock.now < deadline
        #expect(connection.core.gauge.isAlone)
    }

    func readInline(_ connection: RedisConnection) -> Int { connection.core.queue.sync { connection.core.repliesReadInline } }

    /// Sends ECHOs, each checked against its reply, until `count` replies were read inline (or a minute passed): on a
    /// loaded machine a reply later than 200 µs takes the usual way and makes the next 16 commands skip the wait, so
    /// the tests count up to a number, not a share.
    func echoUntilReadInline(_ connection: RedisConnection, _ count: Int, label: String) async throws {
        let before = readInline(connection)
        let deadline = ContinuousClock.now + .seconds(60)
        var index = 0
        while readInline(connection) - before < count && ContinuousClock.now < deadline {
            #expect(try await connection.send("ECHO", "\(label) \(index)") == .bulk(Array("\(label) \(index)".utf8)))
            index += 1
        }
        #expect(readInline(connection) - before >= count)
    }

    /// A script that keeps the server busy for about `milliseconds` (longer than the inline wait).
    static let busy = "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] "
        + "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1]) * 1000 return ARGV[2]"

    @Test func aLoneCallerReadsItsRepliesOnItsOwnThread() async throws {
        let connection = try await SharedServer.connect()
        try await becomeAlone(connection)
        try await echoUntilReadInline(connection, 50, label: "inline")
        await connection.close()
    }

    /// Runs jobs one at a time on a serial queue: a busy executor, on which the tasks of a burst take turns.
    final class OneAtATime: TaskExecutor, @unchecked Sendable {  // `queue` is its only state, and serial
        let queue = DispatchQueue(label: "test.one-at-a-time")
        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    @Test func aBurstOfTasksTakingTurnsSharesWritesInsteadOfWaitingInline() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(server.configuration())
        try await becomeAlone(connection)
        let stats = try await connection.send("INFO", "stats").string()
        let before = Int(stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") }?
            .split(separator: ":").last ?? "") ?? -1
        let inlineBefore = readInline(connection)
        // 200 tasks on an executor that runs one at a time: the first finds the connection alone; had it waited on
        // the executor's only thread, every next one would have found it alone too, one round trip each.
        let matched = try await withTaskExecutorPreference(OneAtATime()) {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask { try await connection.send("ECHO", "b\(index)") == .bulk(Array("b\(index)".utf8)) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        #expect(matched == 200)
        let after = try await connection.send("INFO", "stats").string()
        let reads = (Int(after.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") }?
            .split(separator: ":").last ?? "") ?? -1) - before
        #expect(reads < 100, "\(reads) reads for 200 commands")
        #expect(readInline(connection) - inlineBefore < 20)
        await connection.close()
    }

    @Test func aSlowReplyArrivesTheUsualWayAndLaterCommandsStillMatchTheirReplies() async throws {
        let connection = try await SharedServer.connect()
        try await becomeAlone(connection)
        for round in 0..<3 {
            #expect(try await connection.send("EVAL", Self.busy, 0, 5, "slow \(round)") == .bulk(Array("slow \(round)".utf8)))
            for index in 0..<40 {
                #expect(try await connection.send("ECHO", "\(round).\(index)") == .bulk(Array("\(round).\(index)".utf8)))
            }
        }
        // A reply larger than one read (2 MiB): the caller reads what has arrived, the read source the rest.
        let large = [UInt8](repeating: 0x61, count: 2 << 20)
        try await connection.send("SET", "inline:large", large)
        for _ in 0..<5 { #expect(try await connection.send("GET", "inline:large") == .bulk(large)) }
        try await connection.send("DEL", "inline:large")
        await connection.close()
    }

    @Test func aLoneCallersPipelinesAreReadOnItsOwnThreadToo() async throws {
        let connection = try await SharedServer.connect()
        let value = [UInt8](repeating: 0x62, count: 4096)
        try await connection.send("SET", "inline:pipeline", value)
        // Pipelines one after another make the connection a lone caller's as single commands do.
        let deadline = ContinuousClock.now + .seconds(60)
        var before = readInline(connection)
        var round = 0
        while readInline(connection) - before < 500 && ContinuousClock.now < deadline {
            let replies = try await connection.pipeline((0..<100).map { RedisCommand("ECHO", "\(round).\($0)") })
            #expect(replies == (0..<100).map { .bulk(Array("\(round).\($0)".utf8)) })
            if round == 0 { before = readInline(connection) }
            round += 1
        }
        #expect(readInline(connection) - before >= 500)
        // Replies of 4 MiB in all, over many reads: the caller keeps reading while they come.
        for _ in 0..<3 {
            let replies = try await connection.pipeline(Array(repeating: RedisCommand("GET", "inline:pipeline"), count: 1000))
            #expect(replies.count == 1000 && replies.allSatisfy { $0 == .bulk(value) })
        }
        try await connection.send("DEL", "inline:pipeline")
        await connection.close()
    }

    @Test func anIdleConnectionTheServerClosedFailsItsNextCommandUnsent() async throws {
        let connection = try await SharedServer.connect()
        try await becomeAlone(connection)
        let id = try await connection.send("CLIENT", "ID").int()
        // Usually the read source is paused now (the caller read its reply) and the close is noticed when the next
        // command is about to leave; after a wait that timed out, the source notices it at once. Either way the
        // command is not sent and says so.
        try await becomeAlone(connection)
        let killer = try await SharedServer.connect()
        #expect(try await killer.send("CLIENT", "KILL", "ID", id) == .integer(1))
        await killer.close()
        try await Task.sleep(for: .milliseconds(50))
        do {
            _ = try await connection.send("INCR", "inline:unsent")
            Issue.record("a command on a connection the server closed succeeded")
        } catch let error as RedisError {
            #expect(error.code == .connectionClosed)
            #expect(error.commandNotSent)
        }
        #expect(connection.isClosed)
        let checker = try await SharedServer.connect()
        #expect(try await checker.send("EXISTS", "inline:unsent") == .integer(0))
        await checker.close()
    }

    @Test func aPoolSendsACommandItsIdleConnectionCouldNotSendOnAnotherOne() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 1)
        for _ in 0..<50 { _ = try await pool.send("PING") }
        let id = try await pool.send("CLIENT", "ID").int()
        let killer = try await SharedServer.connect()
        #expect(try await killer.send("CLIENT", "KILL", "ID", id) == .integer(1))
        await killer.close()
        try await Task.sleep(for: .milliseconds(50))
        // Whether the pool's connection noticed the close by itself or only when this command was about to leave,
        // the command runs, once, on a new connection.
        #expect(try await pool.send("INCR", "inline:pool") == .integer(1))
        #expect(try await pool.send("CLIENT", "ID").int() != id)
        #expect(try await pool.send("GETDEL", "inline:pool") == .bulk(Array("1".utf8)))
        await pool.close()
    }

    @Test func aConnectionOnADescriptorAbove1024WaitsInlineToo() async throws {
        // Many open descriptors (a busy service): the connection's socket gets a number `select` could not watch.
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 2048 {
            limit.rlim_cur = min(2048, limit.rlim_max)
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        while held.count < 1100 {
            let fd = dup(0)
            guard fd >= 0 else { break }
            held.append(fd)
        }
        try #require((held.last ?? 0) >= 1024, "could not open 1,100 descriptors (limit \(limit.rlim_cur))")
        let connection = try await SharedServer.connect()
        try await becomeAlone(connection)
        try await echoUntilReadInline(connection, 20, label: "fd")
        await connection.close()
    }

    @Test func noWaitWhenTheBudgetIsZero() async throws {
        var configuration = SharedServer.configuration()
        configuration.inlineReplyWait = .zero
        let connection = try await RedisConnection.connect(configuration)
        try await becomeAlone(connection)
        for index in 0..<50 { #expect(try await connection.send("ECHO", "\(index)") == .bulk(Array("\(index)".utf8))) }
        #expect(readInline(connection) == 0)
        await connection.close()
    }

    @Test func theBudgetIsValidated() {
        for wait in [Duration.microseconds(-1), .seconds(1), .seconds(5)] {
            var configuration = SharedServer.configuration()
            configuration.inlineReplyWait = wait
            #expect(throws: RedisError.self) { try configuration.validate() }
        }
        var configuration = SharedServer.configuration()
        configuration.inlineReplyWait = .milliseconds(999)
        #expect(throws: Never.self) { try configuration.validate() }
        #expect("\(configuration)".contains("inlineReplyWait"))
    }
}
