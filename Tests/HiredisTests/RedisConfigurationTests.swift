import Hiredis
import TestSupport
import Testing

@Suite("RedisConfiguration from the environment")
struct RedisConfigurationTests {
    @Test func defaultsWhenNothingIsSet() throws {
        let configuration = try RedisConfiguration.fromEnvironment([:])
        #expect(configuration.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(configuration.database == 0)
        #expect(configuration.password == nil)
    }

    @Test func redisURLWithUserPasswordPortAndDatabase() throws {
        let configuration = try RedisConfiguration.fromEnvironment(["REDIS_URL": "redis://bob:p%40ss@cache.internal:6380/3"])
        #expect(configuration.endpoint == .tcp(host: "cache.internal", port: 6380))
        #expect(configuration.username == "bob")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == 3)
    }

    @Test func redisURLWithPasswordOnlyAndIPv6() throws {
        let configuration = try RedisConfiguration(url: "redis://:secret@[::1]:7000")
        #expect(configuration.endpoint == .tcp(host: "::1", port: 7000))
        #expect(configuration.username == nil)
        #expect(configuration.password == "secret")
        #expect("\(configuration.endpoint)" == "[::1]:7000")
    }

    @Test func unixURL() throws {
        let configuration = try RedisConfiguration.fromEnvironment(["REDIS_URL": "unix:///run/redis.sock?db=2"])
        #expect(configuration.endpoint == .unixSocket(path: "/run/redis.sock"))
        #expect(configuration.database == 2)
    }

    @Test func separateVariablesOverrideTheURL() throws {
        let configuration = try RedisConfiguration.fromEnvironment([
            "REDIS_URL": "redis://a:b@host1:1111/1",
            "REDIS_HOST": "host2", "REDIS_PORT": "2222", "REDIS_PASSWORD": "pw2", "REDIS_USERNAME": "u2", "REDIS_DB": "5",
        ])
        #expect(configuration.endpoint == .tcp(host: "host2", port: 2222))
        #expect(configuration.password == "pw2")
        #expect(configuration.username == "u2")
        #expect(configuration.database == 5)
    }

    @Test(arguments: [
        ["REDIS_PORT": "abc"],
        ["REDIS_PORT": "0"],
        ["REDIS_PORT": "70000"],
        ["REDIS_DB": "-1"],
        ["REDIS_DB": "one"],
        ["REDIS_HOST": ""],
        ["REDIS_URL": "http://localhost"],
        ["REDIS_URL": "rediss:///tmp/redis.sock"],
        ["REDIS_URL": "unix:///tmp/redis.sock", "REDIS_TLS": "1"],
        ["REDIS_TLS_CA_FILE": "/ca.pem"],
        ["REDIS_TLS": "maybe"],
        ["REDIS_URL": "rediss://localhost", "REDIS_TLS_CERT_FILE": "/client.pem"],
        ["REDIS_URL": "redis://:topsecret@localhost/notadb"],
        ["REDIS_URL": "redis://:topsecret@:6379"],
        ["REDIS_URL": "unix://"],
        ["REDIS_USERNAME": "alice"],
    ])
    func malformedValuesAreClearErrors(environment: [String: String]) {
        do {
            _ = try RedisConfiguration.fromEnvironment(environment)
            Issue.record("\(environment) must be rejected")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(!error.message.contains("topsecret"))
        }
    }

    @Test func tlsFromURLsAndEnvironment() throws {
        let plain = try RedisConfiguration.fromEnvironment(["REDIS_URL": "redis://h:1"])
        #expect(plain.tls == nil)
        let url = try RedisConfiguration.fromEnvironment(["REDIS_URL": "rediss://:pw@cache.example.com:6380/2"])
        #expect(url.tls == RedisTLSConfiguration())
        #expect(url.endpoint == .tcp(host: "cache.example.com", port: 6380) && url.database == 2)
        let environment = try RedisConfiguration.fromEnvironment([
            "REDIS_HOST": "127.0.0.1", "REDIS_TLS": "yes", "REDIS_TLS_CA_FILE": "/ca.pem", "REDIS_TLS_SERVER_NAME": "redis.internal",
            "REDIS_TLS_CERT_FILE": "/client.pem", "REDIS_TLS_KEY_FILE": "/client.key",
        ])
        #expect(environment.tls == RedisTLSConfiguration(
            caFile: "/ca.pem", serverName: "redis.internal", certificateFile: "/client.pem", keyFile: "/client.key"))
        #expect("\(environment)".contains("caFile: /ca.pem") && !"\(environment)".contains("/client.key"))
        let insecure = try RedisConfiguration.fromEnvironment(["REDIS_URL": "rediss://h", "REDIS_TLS_INSECURE_SKIP_VERIFY": "1"])
        #expect(insecure.tls?.verification == .insecureNoVerification)
        #expect("\(insecure)".contains("OFF"))
        #expect(try RedisConfiguration.fromEnvironment(["REDIS_URL": "rediss://h", "REDIS_TLS": "0"]).tls == nil)
        let cluster = try #require(try RedisClusterConfiguration.fromEnvironment(["REDIS_URL": "rediss+cluster://127.0.0.1:7000,127.0.0.1:7001"]))
        #expect(cluster.node.tls != nil && cluster.seeds.count == 2)
        let sentinel = try #require(try RedisSentinelConfiguration.fromEnvironment([
            "REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_TLS": "1", "REDIS_TLS_CA_FILE": "/ca.pem",
        ]))
        #expect(sentinel.node.tls?.caFile == "/ca.pem" && sentinel.sentinelTLS == sentinel.node.tls)
        #expect(try RedisSentinelConfiguration(url: "rediss+sentinel://127.0.0.1:26379/m").sentinelTLS != nil)
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let configuration = try RedisConfiguration.fromEnvironment(["REDIS_URL": "redis://user:hunter2-secret@h:1/0"])
        #expect(!"\(configuration)".contains("hunter2-secret"))
        #expect("\(configuration)".contains("<redacted>"))
        #expect(!String(reflecting: configuration).contains("hunter2-secret"))
    }

    @Test func commandEncodingIsRESP() {
        let command = RedisCommand("SET", "k", [UInt8]([0, 13, 10]), 42, 1.5)
        #expect(command.encoded == Array("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n".utf8) + [0, 13, 10] + Array("\r\n$2\r\n42\r\n$3\r\n1.5\r\n".utf8))
        #expect(command.argumentCount == 5)
        #expect("\(command)" == "SET (4 arguments)")
        #expect(command.arguments == [Array("SET".utf8), [107], [0, 13, 10], Array("42".utf8), Array("1.5".utf8)])
        #expect(RedisCommand("PING").arguments == [Array("PING".utf8)])
        #expect(RedisCommand("ECHO", "").arguments == [Array("ECHO".utf8), []])
    }

    @Test func integersAreTheirDecimalDigits() {
        let integers: [any RedisArgument] = [
            0, 7, 10, -1, -10, Int.max, Int.min, Int64.min, Int32.min, Int32.max, UInt.max, UInt64.max, UInt32.max, 1_795_843_028_176,
        ]
        let expected = ["0", "7", "10", "-1", "-10", "\(Int.max)", "\(Int.min)", "\(Int64.min)", "\(Int32.min)", "\(Int32.max)",
                        "\(UInt.max)", "\(UInt64.max)", "\(UInt32.max)", "1795843028176"]
        #expect(RedisCommand("X", arguments: integers).arguments.dropFirst().map { String(decoding: $0, as: UTF8.self) } == expected)
        // Lengths and counts of ten and more (the header and each bulk).
        let long = RedisCommand("X", arguments: Array(repeating: String(repeating: "a", count: 12), count: 11))
        #expect(long.encoded.starts(with: Array("*12\r\n$1\r\nX\r\n$12\r\naaaaaaaaaaaa\r\n".utf8)))
    }
}
