import Foundation
import Hiredis
import TestSupport
import Testing

@Suite("RedisConnection against a real server")
struct RedisConnectionTests {
    @Test func everyReplyTypeRoundTrips() async throws {
        let connection = try await SharedServer.connect()
        let key = uniqueKey()
        #expect(try await connection.send("PING") == .status("PONG"))
        #expect(try await connection.send("SET", key, "v") == .status("OK"))
        #expect(try await connection.send("GET", key) == .bulk(Array("v".utf8)))
        #expect(try await connection.send("INCR", key + ":n") == .integer(1))
        #expect(try await connection.send("GET", key + ":missing") == .null)
        _ = try await connection.send("RPUSH", key + ":list", "a", "b")
        #expect(try await connection.send("LRANGE", key + ":list", 0, -1) == .array([.bulk([97]), .bulk([98])]))
        let nested = try await connection.send("EVAL", "return {1, {2, 'x'}, false}", 0)
        #expect(nested == .array([.integer(1), .array([.integer(2), .bulk([120])]), .null]))
        // An error reply throws from send, and is an element of a pipeline.
        await #expect {
            try await connection.send("INCR", key)
        } throws: { error in
            (error as? RedisError)?.code == .serverError && (error as? RedisError)?.serverErrorPrefix == "ERR"
        }
        let replies = try await connection.pipeline([RedisCommand("LPUSH", key, "x"), RedisCommand("PING")])
        #expect(replies.count == 2)
        guard case .error(let message) = replies[0] else { Issue.record("expected an error reply"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(replies[1] == .status("PONG"))
        _ = try await connection.send("DEL", key, key + ":n", key + ":list")
        await connection.close()
    }

    @Test func typedAccessorsFailClearlyOnMismatch() throws {
        #expect(try RedisReply.bulk(Array("42".utf8)).int() == 42)
        #expect(try RedisReply.bulk(Array("1.5".utf8)).double() == 1.5)
        #expect(try RedisReply.status("OK").string() == "OK")
        #expect(try RedisReply.null.optionalString() == nil)
        #expect(throws: RedisError.self) { try RedisReply.integer(1).array() }
        do {
            _ = try RedisReply.bulk([0xff, 0xfe]).string()
            Issue.record("invalid UTF-8 must not decode")
        } catch {
            #expect(error.code == .unexpectedReply)
        }
        do {
            _ = try RedisReply.array([]).int()
            Issue.record("array is not an integer")
        } catch {
            #expect(error.code == .unexpectedReply)
            #expect(error.message.contains("expected integer"))
        }
        do {
            _ = try RedisReply.error("WRONGTYPE nope").bytes()
            Issue.record("an error reply has no bytes")
        } catch {
            #expect(error.code == .serverError)
        }
    }

    @Test(arguments: [
        ("nul", [0, 1, 0, 2] as [UInt8]),
        ("crlf", Array("a\r\nb\r\n$3\r\n*1\r\n".utf8)),
        ("invalid utf8", [0xff, 0xfe, 0xc3, 0x28]),
        ("empty", []),
    ])
    func binarySafeRoundTrip(name: String, value: [UInt8]) async throws {
        let connection = try await SharedServer.connect()
        var key = Array(uniqueKey().utf8)
        key.append(contentsOf: value)  // keys are bytes too
        #expect(try await connection.send("SET", key, value) == .status("OK"))
        #expect(try await connection.send("GET", key) == .bulk(value))
        #expect(try await connection.send("STRLEN", key) == .integer(Int64(value.count)))
        _ = try await connection.send("DEL", key)
        await connection.close()
    }

    @Test func fourMebibyteValueRoundTrips() async throws {
        let connection = try await SharedServer.connect()
        var generator = SystemRandomNumberGenerator()
        let value = (0..<(4 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = uniqueKey()
        #expect(try await connection.send("SET", key, value) == .status("OK"))
        #expect(try await connection.send("GET", key) == .bulk(value))
        _ = try await connection.send("DEL", key)
        await connection.close()
    }

    @Test(arguments: [false, true])
    func tenThousandConcurrentSendsEachGetTheirOwnReply(fastPath: Bool) async throws {
        let connection = try await SharedServer.connect()
        let body: @Sendable (RedisConnection) async throws -> Int = { connection in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10_000 {
                    group.addTask {
                        let payload = "reply-\(index)"
                        return try await connection.send("ECHO", payload) == .bulk(Array(payload.utf8))
                    }
                }
                var matched = 0
                for try await ok in group where ok { matched += 1 }
                return matched
            }
        }
        let matched = fastPath ? try await connection.withExecutor(body) : try await body(connection)
        #expect(matched == 10_000)
        #expect(connection.inFlightCount == 0)
        await connection.close()
    }

    @Test func pipelineRepliesComeInOrder() async throws {
        let connection = try await SharedServer.connect()
        let commands = (0..<1_000).map { RedisCommand("ECHO", "\($0)") }
        let replies = try await connection.pipeline(commands)
        #expect(replies == (0..<1_000).map { .bulk(Array("\($0)".utf8)) })
        #expect(try await connection.pipeline([]) == [])
        await connection.close()
    }

    @Test func selectIsolatesDatabases() async throws {
        let first = try await SharedServer.connect(database: 1)
        let second = try await SharedServer.connect(database: 2)
        let key = uniqueKey()
        _ = try await first.send("SET", key, "one")
        _ = try await second.send("SET", key, "two")
        #expect(try await first.send("GET", key) == .bulk(Array("one".utf8)))
        #expect(try await second.send("GET", key) == .bulk(Array("two".utf8)))
        let zero = try await SharedServer.connect()
        #expect(try await zero.send("EXISTS", key) == .integer(0))
        _ = try await first.send("DEL", key)
        _ = try await second.send("DEL", key)
        for connection in [first, second, zero] { await connection.close() }
    }

    @Test func unixSocketConnects() async throws {
        guard let path = SharedServer.socketPath else { return }
        let connection = try await RedisConnection.connect(RedisConfiguration(unixSocketPath: path))
        #expect(try await connection.send("PING") == .status("PONG"))
        await connection.close()
    }

    @Test func clientNameIsSet() async throws {
        var configuration = SharedServer.configuration()
        configuration.clientName = "axon-\(UUID().uuidString.prefix(8))"
        let connection = try await RedisConnection.connect(configuration)
        #expect(try await connection.send("CLIENT", "GETNAME").string() == configuration.clientName)
        await connection.close()
    }

    @Test func pubSubAndMonitorAreRefused() async throws {
        let connection = try await SharedServer.connect()
        for name in ["SUBSCRIBE", "psubscribe", "MONITOR", "unsubscribe", "HELLO"] {
            await #expect {
                try await connection.send(RedisCommand(name, "channel"))
            } throws: { error in
                (error as? RedisError)?.code == .invalidArgument
            }
        }
        #expect(try await connection.send("PING") == .status("PONG"))
        await connection.close()
    }

    @Test func cancelledTaskSendsNothing() async throws {
        let connection = try await SharedServer.connect()
        let key = uniqueKey()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await connection.send("INCR", key)
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(try await connection.send("GET", key) == .null)
        await connection.close()
    }

    @Test func closeWaitsForInFlightRepliesThenRefusesNewCommands() async throws {
        let connection = try await SharedServer.connect()
        let key = uniqueKey()
        let answered = Locked(0)
        let results = try await withThrowingTaskGroup(of: RedisReply.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    let reply = try await connection.send("INCR", key)
                    answered.withLock { $0 += 1 }
                    return reply
                }
            }
            // Close behind the sends once every one has reached the connection (in flight or answered).
            while connection.inFlightCount + answered.value < 200 { try await Task.sleep(for: .milliseconds(1)) }
            await connection.close()
            var replies: [RedisReply] = []
            for try await reply in group { replies.append(reply) }
            return replies
        }
        #expect(Set(results).count == 200)
        do {
            _ = try await connection.send("PING")
            Issue.record("a closed connection must refuse commands")
        } catch let error as RedisError {
            #expect(error.code == .connectionClosed)
        }
        let check = try await SharedServer.connect()
        #expect(try await check.send("GET", key) == .bulk(Array("200".utf8)))
        _ = try await check.send("DEL", key)
        await check.close()
    }

    @Test func droppingAConnectionWithoutCloseReleasesTheSocket() async throws {
        let name = "axon-drop-\(UUID().uuidString.prefix(8))"
        var configuration = SharedServer.configuration()
        configuration.clientName = name
        do {
            let connection = try await RedisConnection.connect(configuration)
            _ = try await connection.send("PING")
        }
        let observer = try await SharedServer.connect()
        var gone = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !gone && ContinuousClock.now < deadline {
            let clients = try await observer.send("CLIENT", "LIST").string()
            gone = !clients.contains("name=\(name)")
            if !gone { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(gone)
        await observer.close()
    }
}
