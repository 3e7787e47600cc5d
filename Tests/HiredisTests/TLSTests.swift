import Foundation
import Hiredis
import Testing
import TestSupport

/// TLS against real TLS redis-servers: the shared one `make test` starts (scripts/with-tls.sh) and servers of the
/// tests' own (mutual TLS, an expired certificate, kill and restart), with certificates from make-test-certs.sh.
@Suite("TLS", .enabled(if: SharedTLSServer.isAvailable))
struct TLSTests {
    @Test func commandsPipelinesAndConcurrentCallersOverTLS() async throws {
        let connection = try await RedisConnection.connect(SharedTLSServer.configuration())
        let key = uniqueKey()
        // 3 MiB each way: many TLS records, partial writes and reads across events.
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        _ = try await connection.send("SET", key, big)
        #expect(try await connection.send("GET", key).bytes() == big)
        let replies = try await connection.pipeline((0..<2000).map { _ in RedisCommand("INCR", key + ":n") })
        #expect(replies.count == 2000 && replies.last == .integer(2000))
        // An error reply travels like any other.
        await #expect(throws: RedisError.self) { try await connection.send("INCR", key) }
        // 64 callers at once on one connection: every reply reaches its own caller.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<64 {
                group.addTask {
                    for step in 0..<40 {
                        let value = "\(task)-\(step)"
                        _ = try await connection.send("SET", "\(key):\(task)", value)
                        let read = try await connection.send("GET", "\(key):\(task)").string()
                        guard read == value else { throw RedisError(.unexpectedReply, "task \(task) read \(read), wrote \(value)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        await connection.close()

        let pool = try RedisConnectionPool(configuration: SharedTLSServer.configuration(), maxConnections: 4)
        let results = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<32 { group.addTask { try await pool.send("INCR", key + ":pool").int() } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(Set(results) == Set(1...32))
        await pool.close()
    }

    @Test func mutualTLSNeedsAClientCertificateTheServerTrusts() async throws {
        let server = try await RedisServerProcess.startTLS(authClients: "yes")
        defer { server.stop() }
        do {
            _ = try await RedisConnection.connect(server.tlsConfiguration(SharedTLSServer.settings(), connectTimeout: .seconds(10)))
            Issue.record("a client without a certificate must be refused")
        } catch {
            // The refusal is an alert ("certificate required") when the first read gets it, a reset when a write meets
            // it first (timing); either way a handshake failure that names the setting.
            #expect(error.code == .tlsHandshakeFailed, "\(error)")
            #expect(error.message.contains("certificateFile"), "\(error)")
        }
        let connection = try await RedisConnection.connect(server.tlsConfiguration(SharedTLSServer.settings(clientCertificate: true)))
        #expect(try await connection.send("PING") == .status("PONG"))
        await connection.close()
    }

    @Test func untrustedExpiredAndMisnamedCertificatesAreRejectedWithTheirReason() async throws {
        guard let port = SharedTLSServer.port else { return }
        func rejection(_ configuration: RedisConfiguration) async -> RedisError? {
            do {
                let connection = try await RedisConnection.connect(configuration)
                await connection.close()
                return nil
            } catch {
                return error
            }
        }
        func configuration(_ settings: RedisTLSConfiguration, port: Int = port) -> RedisConfiguration {
            RedisConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(10), tls: settings)
        }
        let wrongCA = try #require(await rejection(configuration(SharedTLSServer.settings(caFile: "other-ca.pem"))))
        #expect(wrongCA.code == .certificateRejected, "\(wrongCA)")
        #expect(wrongCA.message.contains("other-ca.pem"), "\(wrongCA)")

        let misnamed = try #require(await rejection(configuration(SharedTLSServer.settings(serverName: "redis.example.com"))))
        #expect(misnamed.code == .certificateRejected && misnamed.message.contains("hostname mismatch"), "\(misnamed)")
        // The certificate names localhost and 127.0.0.1: both verify.
        #expect(await rejection(configuration(SharedTLSServer.settings(serverName: "localhost"))) == nil)

        let expiredServer = try await RedisServerProcess.startTLS(certificate: "expired")
        defer { expiredServer.stop() }
        let expired = try #require(await rejection(configuration(SharedTLSServer.settings(), port: expiredServer.port)))
        #expect(expired.code == .certificateRejected && expired.message.contains("expired"), "\(expired)")
        // Verification off (tests only): the same server is reachable.
        var insecure = SharedTLSServer.settings()
        insecure.verification = .insecureNoVerification
        #expect(await rejection(configuration(insecure, port: expiredServer.port)) == nil)

        // A missing CA file is a configuration error that names the file, before any network.
        let missing = try #require(await rejection(configuration(RedisTLSConfiguration(caFile: "/nonexistent/ca.pem"))))
        #expect(missing.code == .invalidArgument && missing.message.contains("/nonexistent/ca.pem"), "\(missing)")
    }

    @Test func tlsToAPlaintextPortAndPlaintextToATLSPortFailFastAndSaySo() async throws {
        guard let tlsPort = SharedTLSServer.port else { return }
        let meter = StallMeter()
        // TLS to the plaintext server: no TLS answer; the error names the likely cause.
        var toPlaintext = SharedServer.configuration()
        toPlaintext.connectTimeout = .seconds(2)
        toPlaintext.tls = SharedTLSServer.settings()
        let start = ContinuousClock.now
        do {
            _ = try await RedisConnection.connect(toPlaintext)
            Issue.record("TLS to a plaintext port must fail")
        } catch {
            #expect(error.code == .tlsHandshakeFailed, "\(error)")
            #expect(error.message.contains("plaintext"), "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(4) + meter.worstStall, "failed within the connect timeout")
        // Plaintext to the TLS server: dropped at once; the error suggests rediss://.
        let fromPlaintext = RedisConfiguration(host: "127.0.0.1", port: tlsPort, connectTimeout: .seconds(2))
        let second = ContinuousClock.now
        do {
            _ = try await RedisConnection.connect(fromPlaintext)
            Issue.record("plaintext to a TLS port must fail")
        } catch {
            #expect(error.message.contains("rediss://"), "\(error)")
        }
        #expect(ContinuousClock.now - second < .seconds(4) + meter.worstStall, "failed within the connect timeout")
    }

    @Test func aPoolOverTLSHealsAfterTheServerIsKilledAndRestarted() async throws {
        let server = try await RedisServerProcess.startTLS()
        defer { server.stop() }
        let pool = try RedisConnectionPool(configuration: server.tlsConfiguration(SharedTLSServer.settings(), connectTimeout: .seconds(5)), maxConnections: 2)
        _ = try await pool.send("SET", "before", "1")
        server.crash()
        await #expect(throws: RedisError.self) { try await pool.send("GET", "before") }
        try await server.restart()
        var healed = false
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !healed {
            if (try? await pool.send("SET", "after", "2")) != nil { healed = true } else { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(healed)
        #expect(try await pool.send("GET", "after").string() == "2")
        await pool.close()
    }
}
