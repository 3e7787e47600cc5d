import Foundation
import Hiredis
import Testing
import TestSupport

@Suite("Typed commands against a real server")
struct TypedCommandTests {
    struct Profile: Codable, Equatable {
        var name: String
        var visits: Int
    }

    @Test func stringsKeysAndExpiry() async throws {
        let pool = try RedisConnectionPool(configuration: SharedServer.configuration(), maxConnections: 2)
        let key = uniqueKey()
        #expect(try await pool.get(key) == nil)
        #expect(try await pool.set(key, "v1"))
        #expect(try await pool.getString(key) == "v1")
        #expect(try await !pool.set(key, "v2", condition: .ifAbsent))
        #expect(try await pool.set(key, Data([0, 255, 10]), expiration: .after(.seconds(60)), condition: .ifPresent))
        #expect(try await pool.get(key) == [0, 255, 10])
        guard case .expires(let left) = try await pool.ttl(key) else { Issue.record("the key should expire"); return }
        #expect(left > .seconds(50) && left <= .seconds(60))
        #expect(try await pool.set(key, "v3", expiration: .keepCurrent))
        #expect(try await pool.ttl(key) != .persistent)
        #expect(try await pool.set(key, json: Profile(name: "Ada", visits: 3)))
        #expect(try await pool.get(key, as: Profile.self) == Profile(name: "Ada", visits: 3))
        #expect(try await pool.exists(key, key + ":absent") == 1)
        #expect(try await pool.incr(key + ":n", by: 5) == 5)
        #expect(try await pool.expire(key + ":n", after: .seconds(10)))
        #expect(try await pool.del(key, key + ":n", key + ":absent") == 2)
        #expect(try await pool.ttl(key) == .missing)
        await #expect(throws: RedisError.self) { try await pool.set(key, "x", expiration: .after(.zero)) }
        await pool.close()
    }

    @Test func hashesListsSetsAndSortedSets() async throws {
        let connection = try await SharedServer.connect()
        let key = uniqueKey()
        #expect(try await connection.hset(key + ":h", [("a", "1"), ("b", Data("2".utf8))]) == 2)
        #expect(try await connection.hget(key + ":h", "a") == Array("1".utf8))
        #expect(try await connection.hincr(key + ":h", "a", by: 2) == 3)
        #expect(try await connection.hgetAll(key + ":h") == ["a": Array("3".utf8), "b": Array("2".utf8)])
        #expect(try await connection.hdel(key + ":h", "a", "z") == 1)
        #expect(try await connection.rpush(key + ":l", "b", "c") == 2)
        #expect(try await connection.lpush(key + ":l", "a") == 3)
        #expect(try await connection.lrange(key + ":l", 0, -1).map { String(decoding: $0, as: UTF8.self) } == ["a", "b", "c"])
        #expect(try await connection.lpop(key + ":l") == Array("a".utf8))
        #expect(try await connection.rpop(key + ":l") == Array("c".utf8))
        #expect(try await connection.llen(key + ":l") == 1)
        #expect(try await connection.sadd(key + ":s", "x", "y", "x") == 2)
        #expect(try await connection.sismember(key + ":s", "x"))
        #expect(try await connection.scard(key + ":s") == 2)
        #expect(try await connection.srem(key + ":s", "x") == 1)
        #expect(try await connection.smembers(key + ":s") == [Array("y".utf8)])
        #expect(try await connection.zadd(key + ":z", [(2, "b"), (1, "a")]) == 2)
        #expect(try await connection.zincr(key + ":z", "a", by: 5) == 6)
        #expect(try await connection.zrange(key + ":z", 0, -1).map { String(decoding: $0, as: UTF8.self) } == ["b", "a"])
        #expect(try await connection.zrangeWithScores(key + ":z", 0, 0).first?.score == 2)
        #expect(try await connection.zscore(key + ":z", "absent") == nil)
        #expect(try await connection.zrem(key + ":z", "b") == 1)
        #expect(try await connection.zcard(key + ":z") == 1)
        await #expect(throws: RedisError.self) { try await connection.zadd(key + ":z", [(.nan, "n")]) }
        _ = try await connection.del(key + ":h", key + ":l", key + ":s", key + ":z")
        await connection.close()
    }

    @Test func serverAndScripting() async throws {
        let connection = try await SharedServer.connect()
        #expect(try await connection.ping() == "PONG")
        #expect(try await connection.ping("hi") == "hi")
        #expect(try await connection.infoFields("server")["redis_version"]?.isEmpty == false)
        let key = uniqueKey()
        #expect(try await connection.eval("return redis.call('SET', KEYS[1], ARGV[1])", keys: [key], arguments: ["v"]).string() == "OK")
        let sha = try await connection.scriptLoad("return ARGV[1]")
        #expect(try await connection.send("EVALSHA", sha, 0, "echo").string() == "echo")
        // "v" is not JSON: a decode names the type; a missing key decodes as nil.
        await #expect(throws: RedisError.self) { _ = try await connection.send("GET", key).decode([String].self) }
        #expect(try await connection.send("GET", key + ":absent").decode(Int.self) == nil)
        _ = try await connection.del(key)
        await connection.close()
    }
}
