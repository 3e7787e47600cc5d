/// Typed hash, list, set and sorted-set commands for every client.
extension RedisCommandSender {
    // MARK: Hashes

    /// `HSET` of field/value pairs: how many fields were new.
    @discardableResult
    public func hset(_ key: some RedisArgument, _ fields: [(field: any RedisArgument, value: any RedisArgument)]) async throws -> Int {
        var command = RedisCommand("HSET", key)
        for (field, value) in fields {
            command.append(field)
            command.append(value)
        }
        return Int(try await send(command).int())
    }

    /// `HGET`: the field's bytes, or `nil`.
    public func hget(_ key: some RedisArgument, _ field: some RedisArgument) async throws -> [UInt8]? {
        try await send(RedisCommand("HGET", key, field)).optionalBytes()
    }

    /// `HGETALL`: every field (as UTF-8 text) and its bytes; empty when the key does not exist.
    public func hgetAll(_ key: some RedisArgument) async throws -> [String: [UInt8]] {
        let flat = try await send(RedisCommand("HGETALL", key)).array()
        var out: [String: [UInt8]] = [:]
        var index = 0
        while index + 1 < flat.count {
            out[try flat[index].string()] = try flat[index + 1].bytes()
            index += 2
        }
        return out
    }

    /// `HDEL`: how many fields were removed.
    @discardableResult
    public func hdel(_ key: some RedisArgument, _ fields: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("HDEL", arguments: [key] + fields)).int())
    }

    /// `HINCRBY`: the field's new value.
    @discardableResult
    public func hincr(_ key: some RedisArgument, _ field: some RedisArgument, by amount: Int64 = 1) async throws -> Int64 {
        try await send(RedisCommand("HINCRBY", key, field, amount)).int()
    }

    // MARK: Lists

    /// `LPUSH`: the list's new length.
    @discardableResult
    public func lpush(_ key: some RedisArgument, _ values: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("LPUSH", arguments: [key] + values)).int())
    }

    /// `RPUSH`: the list's new length.
    @discardableResult
    public func rpush(_ key: some RedisArgument, _ values: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("RPUSH", arguments: [key] + values)).int())
    }

    /// `LPOP`: the first element, or `nil` when the list is empty.
    public func lpop(_ key: some RedisArgument) async throws -> [UInt8]? {
        try await send(RedisCommand("LPOP", key)).optionalBytes()
    }

    /// `RPOP`: the last element, or `nil`.
    public func rpop(_ key: some RedisArgument) async throws -> [UInt8]? {
        try await send(RedisCommand("RPOP", key)).optionalBytes()
    }

    /// `LRANGE` (inclusive; negative indexes count from the end).
    public func lrange(_ key: some RedisArgument, _ start: Int, _ stop: Int) async throws -> [[UInt8]] {
        try await send(RedisCommand("LRANGE", key, start, stop)).array().map { try $0.bytes() }
    }

    /// `LLEN`.
    public func llen(_ key: some RedisArgument) async throws -> Int {
        Int(try await send(RedisCommand("LLEN", key)).int())
    }

    // MARK: Sets

    /// `SADD`: how many members were new.
    @discardableResult
    public func sadd(_ key: some RedisArgument, _ members: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("SADD", arguments: [key] + members)).int())
    }

    /// `SREM`: how many members were removed.
    @discardableResult
    public func srem(_ key: some RedisArgument, _ members: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("SREM", arguments: [key] + members)).int())
    }

    /// `SMEMBERS`.
    public func smembers(_ key: some RedisArgument) async throws -> [[UInt8]] {
        try await send(RedisCommand("SMEMBERS", key)).array().map { try $0.bytes() }
    }

    /// `SISMEMBER`.
    public func sismember(_ key: some RedisArgument, _ member: some RedisArgument) async throws -> Bool {
        try await send(RedisCommand("SISMEMBER", key, member)).int() == 1
    }

    /// `SCARD`.
    public func scard(_ key: some RedisArgument) async throws -> Int {
        Int(try await send(RedisCommand("SCARD", key)).int())
    }

    // MARK: Sorted sets

    /// `ZADD` of score/member pairs: how many members were new.
    @discardableResult
    public func zadd(_ key: some RedisArgument, _ members: [(score: Double, member: any RedisArgument)]) async throws -> Int {
        var command = RedisCommand("ZADD", key)
        for (score, member) in members {
            guard !score.isNaN else { throw RedisError(.invalidArgument, "a sorted-set score must be a number, got NaN") }
            command.append(score)
            command.append(member)
        }
        return Int(try await send(command).int())
    }

    /// `ZRANGE` by rank (inclusive; negative ranks count from the end), lowest score first.
    public func zrange(_ key: some RedisArgument, _ start: Int, _ stop: Int) async throws -> [[UInt8]] {
        try await send(RedisCommand("ZRANGE", key, start, stop)).array().map { try $0.bytes() }
    }

    /// `ZRANGE ... WITHSCORES`.
    public func zrangeWithScores(_ key: some RedisArgument, _ start: Int, _ stop: Int) async throws -> [(member: [UInt8], score: Double)] {
        let flat = try await send(RedisCommand("ZRANGE", key, start, stop, "WITHSCORES")).array()
        var out: [(member: [UInt8], score: Double)] = []
        var index = 0
        while index + 1 < flat.count {
            out.append((try flat[index].bytes(), try flat[index + 1].double()))
            index += 2
        }
        return out
    }

    /// `ZSCORE`, or `nil` when the member is absent.
    public func zscore(_ key: some RedisArgument, _ member: some RedisArgument) async throws -> Double? {
        let reply = try await send(RedisCommand("ZSCORE", key, member))
        return reply.isNull ? nil : try reply.double()
    }

    /// `ZINCRBY`: the member's new score.
    @discardableResult
    public func zincr(_ key: some RedisArgument, _ member: some RedisArgument, by amount: Double) async throws -> Double {
        try await send(RedisCommand("ZINCRBY", key, amount, member)).double()
    }

    /// `ZREM`: how many members were removed.
    @discardableResult
    public func zrem(_ key: some RedisArgument, _ members: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("ZREM", arguments: [key] + members)).int())
    }

    /// `ZCARD`.
    public func zcard(_ key: some RedisArgument) async throws -> Int {
        Int(try await send(RedisCommand("ZCARD", key)).int())
    }
}
