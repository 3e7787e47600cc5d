/// How long a key written by `set` lives.
public enum RedisExpiration: Sendable, Hashable {
    /// `PX`: this long from now (at least 1 ms).
    case after(Duration)
    /// `PXAT`: until this many milliseconds since 1970.
    case atUnixMilliseconds(Int64)
    /// `KEEPTTL`: keep the key's current expiry.
    case keepCurrent
}

/// When `set` writes.
public enum RedisSetCondition: Sendable, Hashable {
    /// Always.
    case always
    /// `NX`: only when the key does not exist.
    case ifAbsent
    /// `XX`: only when the key exists.
    case ifPresent
}

/// A key's remaining time to live (`PTTL`).
public enum RedisTTL: Sendable, Hashable {
    /// The key does not exist.
    case missing
    /// The key exists and does not expire.
    case persistent
    /// The key expires after this long.
    case expires(after: Duration)
}

/// Typed string and key commands for every client (a connection, a pool, a cluster client).
extension RedisCommandSender {
    /// `GET`: the value's bytes, or `nil` when the key does not exist.
    public func get(_ key: some RedisArgument) async throws -> [UInt8]? {
        try await send(RedisCommand("GET", key)).optionalBytes()
    }

    /// `GET` as UTF-8 text (invalid UTF-8 is an `unexpectedReply` error).
    public func getString(_ key: some RedisArgument) async throws -> String? {
        try await send(RedisCommand("GET", key)).optionalString()
    }

    /// `GET` decoded from JSON.
    public func get<T: Decodable>(_ key: some RedisArgument, as type: T.Type) async throws -> T? {
        try await send(RedisCommand("GET", key)).decode(T.self)
    }

    /// `SET` with an optional expiry and condition; `true` when the value was written (false when `NX`/`XX`
    /// refused).
    @discardableResult
    public func set(
        _ key: some RedisArgument, _ value: some RedisArgument, expiration: RedisExpiration? = nil, condition: RedisSetCondition = .always
    ) async throws -> Bool {
        var command = RedisCommand("SET", key, value)
        switch expiration {
        case .after(let duration):
            let (seconds, attoseconds) = duration.components
            guard seconds >= 0, seconds < Int64.max / 1000 else { throw RedisError(.invalidArgument, "SET expiry \(duration) is out of range") }
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            guard milliseconds >= 1 else { throw RedisError(.invalidArgument, "SET expiry must be at least 1 ms, got \(duration)") }
            command.append("PX")
            command.append(milliseconds)
        case .atUnixMilliseconds(let milliseconds):
            command.append("PXAT")
            command.append(milliseconds)
        case .keepCurrent:
            command.append("KEEPTTL")
        case nil:
            break
        }
        switch condition {
        case .always: break
        case .ifAbsent: command.append("NX")
        case .ifPresent: command.append("XX")
        }
        return !(try await send(command).isNull)
    }

    /// `SET` of `value` encoded as JSON (`RedisJSON`).
    @discardableResult
    public func set(
        _ key: some RedisArgument, json value: some Encodable, expiration: RedisExpiration? = nil, condition: RedisSetCondition = .always
    ) async throws -> Bool {
        try await set(key, RedisJSON.encode(value), expiration: expiration, condition: condition)
    }

    /// `DEL`: how many of the keys existed.
    @discardableResult
    public func del(_ keys: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("DEL", arguments: keys)).int())
    }

    /// `EXISTS`: how many of the keys exist.
    public func exists(_ keys: any RedisArgument...) async throws -> Int {
        Int(try await send(RedisCommand("EXISTS", arguments: keys)).int())
    }

    /// `PEXPIRE`: `true` when the key exists and its expiry was set.
    @discardableResult
    public func expire(_ key: some RedisArgument, after duration: Duration) async throws -> Bool {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, seconds < Int64.max / 1000 else { throw RedisError(.invalidArgument, "expiry \(duration) is out of range") }
        return try await send(RedisCommand("PEXPIRE", key, seconds * 1000 + attoseconds / 1_000_000_000_000_000)).int() == 1
    }

    /// `PTTL`.
    public func ttl(_ key: some RedisArgument) async throws -> RedisTTL {
        let milliseconds = try await send(RedisCommand("PTTL", key)).int()
        switch milliseconds {
        case -2: return .missing
        case -1: return .persistent
        default: return .expires(after: .milliseconds(milliseconds))
        }
    }

    /// `INCRBY`: the new value.
    @discardableResult
    public func incr(_ key: some RedisArgument, by amount: Int64 = 1) async throws -> Int64 {
        try await send(RedisCommand("INCRBY", key, amount)).int()
    }
}
