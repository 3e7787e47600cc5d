import Foundation
import Hiredis
import TestSupport
import Testing

@Suite("RedisConnection failures, each with a server of its own")
struct ConnectionFailureTests {
    @Test func authenticationWithPasswordAndACLUser() async throws {
        let server = try await RedisServerProcess.start(["--requirepass", "s3cret-pw"])
        defer { server.stop() }

        let connection = try await RedisConnection.connect(server.configuration(password: "s3cret-pw"))
        #expect(try await connection.send("PING") == .status("PONG"))
        _ = try await connection.send("ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all")

        let alice = try await RedisConnection.connect(server.configuration(password: "alice-pw", username: "alice"))
        #expect(try await alice.send("ACL", "WHOAMI") == .bulk(Array("alice".utf8)))
        await alice.close()

        for configuration in [
            server.configuration(password: "wrong-pw-123"),
            server.configuration(password: "wrong-pw-123", username: "alice"),
        ] {
            do {
                _ = try await RedisConnection.connect(configuration)
                Issue.record("a wrong password must not connect")
            } catch {
                #expect(error.code == .authenticationFailed)
                #expect(!error.message.contains("wrong-pw-123"))
                #expect(!"\(error)".contains("wrong-pw-123"))
                #expect(error.message.contains("127.0.0.1:\(server.port)"))
            }
        }
        do {
            _ = try await RedisConnection.connect(server.configuration())
            Issue.record("no password must not connect to a protected server")
        } catch {
            #expect(error.code == .authenticationFailed)
        }
        await connection.close()
    }

    @Test func connectionRefusedNamesTheAddress() async throws {
        let port = try freePort()
        let stalls = StallMeter()
        let started = ContinuousClock.now
        do {
            _ = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(30)))
            Issue.record("nothing listens there")
        } catch {
            #expect(error.code == .connectionRefused)
            #expect(error.message.contains("127.0.0.1:\(port)"))
        }
        #expect(ContinuousClock.now - started < stalls.allowance)  // refused at once, not after the connect timeout
    }

    /// A server that answers and closes at once (maxclients reached, protected mode, a listener that is not Redis):
    /// every connect fails within milliseconds with the server's message or `connectionClosed`, never by waiting
    /// for the connect timeout.
    @Test(arguments: ClosingListener.Behaviour.allCases)
    func connectsToAServerThatClosesAtOnceFailFast(behaviour: ClosingListener.Behaviour) async throws {
        let listener = try ClosingListener(behaviour)
        defer { listener.close() }
        let configuration = RedisConfiguration(host: "127.0.0.1", port: listener.port, connectTimeout: .seconds(20))
        for attempt in 0..<100 {
            let stalls = StallMeter()
            let started = ContinuousClock.now
            do {
                _ = try await RedisConnection.connect(configuration)
                Issue.record("attempt \(attempt) connected to a server that closes at once")
            } catch {
                #expect(error.code != .connectTimeout, "attempt \(attempt): \(error)")
                switch behaviour {
                case .errorAtOnce: #expect(error.message.contains("max number of clients") || error.code == .connectionClosed || error.code == .connectionFailed, "\(error)")
                case .denyAfterRequest: #expect(error.message.contains("DENIED"), "\(error)")
                case .closeAtOnce: #expect(error.code == .connectionClosed || error.code == .connectionFailed, "\(error)")
                }
            }
            #expect(ContinuousClock.now - started < stalls.allowance, "attempt \(attempt)")
        }
    }

    @Test func connectTimeoutWhenTheHandshakeNeverCompletes() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let configuration = RedisConfiguration(host: "127.0.0.1", port: listener.port, connectTimeout: .milliseconds(300))
        let stalls = StallMeter()
        let started = ContinuousClock.now
        do {
            _ = try await withDeadline(.seconds(20)) { try await RedisConnection.connect(configuration) }
            Issue.record("a silent listener must not complete the handshake")
        } catch let error as RedisError {
            #expect(error.code == .connectTimeout)
            #expect(error.message.contains("127.0.0.1:\(listener.port)"))
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(290) && elapsed < .milliseconds(300) + stalls.allowance)
    }

    @Test func commandTimeoutFailsEveryInFlightCommand() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(server.configuration(commandTimeout: .milliseconds(400)))
        #expect(try await connection.send("PING") == .status("PONG"))
        server.pause()
        let stalls = StallMeter()
        let started = ContinuousClock.now
        let codes = try await withDeadline(.seconds(20)) {
            await withTaskGroup(of: RedisError.Code?.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await connection.send("ECHO", index)
                            return nil
                        } catch {
                            return (error as? RedisError)?.code
                        }
                    }
                }
                var codes: [RedisError.Code?] = []
                for await code in group { codes.append(code) }
                return codes
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(codes.count == 20)
        #expect(codes.allSatisfy { $0 == .commandTimeout })
        #expect(elapsed >= .milliseconds(390) && elapsed < .milliseconds(400) + stalls.allowance)
        // Later sends fail at once with the same reason.
        await #expect {
            try await connection.send("PING")
        } throws: { error in
            (error as? RedisError)?.code == .commandTimeout
        }
        server.resume()
    }

    @Test func serverKilledWithSixtyFourInFlightFailsEachExactlyOnce() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(server.configuration(commandTimeout: .seconds(30)))
        let stalls = StallMeter()
        server.pause()
        let results = try await withDeadline(.seconds(20)) {
            await withTaskGroup(of: RedisError.Code?.self) { group in
                for index in 0..<64 {
                    group.addTask {
                        do {
                            _ = try await connection.send("ECHO", index)
                            return nil
                        } catch {
                            return (error as? RedisError)?.code ?? .protocolError
                        }
                    }
                }
                while connection.inFlightCount < 64 { try? await Task.sleep(for: .milliseconds(5)) }
                server.crash()
                var results: [RedisError.Code?] = []
                for await code in group { results.append(code) }
                return results
            }
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 == .connectionClosed })
        #expect(connection.inFlightCount == 0)
        let started = ContinuousClock.now
        await #expect(throws: RedisError.self) { try await connection.send("PING") }
        #expect(ContinuousClock.now - started < stalls.allowance)  // at once, not after the 30 s command timeout
    }

    @Test func aPeerThatVanishesMidWriteDoesNotRaiseSIGPIPE() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let victim = try await RedisConnection.connect(server.configuration())
        let killer = try await RedisConnection.connect(server.configuration())
        let id = try await victim.send("CLIENT", "ID").int()
        let value = [UInt8](repeating: 7, count: 1 << 20)
        let failures = try await withDeadline(.seconds(20)) {
            await withTaskGroup(of: Bool.self) { group in
                for index in 0..<32 {
                    group.addTask { (try? await victim.send("SET", "big:\(index)", value)) == nil }
                }
                _ = try? await killer.send("CLIENT", "KILL", "ID", id)
                var failures = 0
                for await failed in group where failed { failures += 1 }
                return failures
            }
        }
        #expect(failures > 0)  // and the process is still here to count them
        #expect(try await killer.send("PING") == .status("PONG"))
        await killer.close()
    }

    @Test func scriptsReloadAfterScriptFlushAndShowTheirCommand() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(server.configuration())
        let script = RedisScript("return {KEYS[1], ARGV[1]}")
        let expected = RedisReply.array([.bulk(Array("k".utf8)), .bulk(Array("a".utf8))])
        #expect(try await script.run(on: connection, keys: ["k"], arguments: ["a"]) == expected)
        // What `run` sends, for another client: EVALSHA with the digest SCRIPT LOAD returned.
        let command = try await script.command(on: connection, keys: ["k"], arguments: ["a"])
        let digest = try await connection.send("SCRIPT", "LOAD", script.source).string()
        #expect(command.arguments == [Array("EVALSHA".utf8), Array(digest.utf8), Array("1".utf8), Array("k".utf8), Array("a".utf8)])
        #expect(try await connection.send(command) == expected)
        // After a flush (a restart or failover loses scripts too) the next run reloads it once, transparently.
        _ = try await connection.send("SCRIPT", "FLUSH")
        await #expect(throws: RedisError.self) { try await connection.send(command) }
        #expect(try await script.run(on: connection, keys: ["k"], arguments: ["a"]) == expected)
        #expect(try await connection.send("SCRIPT", "EXISTS", digest) == .array([.integer(1)]))
        // runAll: one pipeline, replies in order, an error reply in place; after a flush, reloaded and resent once.
        let calls: [(keys: [any RedisArgument], arguments: [any RedisArgument])] = (0..<5).map { (["k\($0)"], ["a\($0)"]) }
        let replies = (0..<5).map { RedisReply.array([.bulk(Array("k\($0)".utf8)), .bulk(Array("a\($0)".utf8))]) }
        #expect(try await script.runAll(on: connection, calls: calls) == replies)
        _ = try await connection.send("SCRIPT", "FLUSH")
        #expect(try await script.runAll(on: connection, calls: calls) == replies)
        let failing = RedisScript("if ARGV[1] == 'bad' then return redis.error_reply('ERR bad argument') end return ARGV[1]")
        let mixed = try await failing.runAll(on: connection, calls: [([], ["ok"]), ([], ["bad"]), ([], ["fine"])])
        #expect(mixed == [.bulk(Array("ok".utf8)), .error("ERR bad argument"), .bulk(Array("fine".utf8))])
        await connection.close()
    }
}
