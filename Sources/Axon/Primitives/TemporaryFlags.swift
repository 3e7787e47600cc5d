import Foundation
import Hiredis
import Logging
import Synchronization

/// Feature flags that switch themselves off: each flag has a value and a TTL.
public protocol TemporaryFlagging: Sendable {
    /// Sets `flag` to `value` for `ttl` (replacing any earlier value and TTL).
    func set(_ flag: String, value: String, ttl: Duration) async throws
    /// The flag's value, or `nil` when unset or expired.
    func value(of flag: String) async throws -> String?
    /// Removes the flag; `true` if it was set.
    func clear(_ flag: String) async throws -> Bool
}

extension TemporaryFlagging {
    /// Sets `flag` on for `ttl`.
    public func enable(_ flag: String, for ttl: Duration) async throws { try await set(flag, value: "on", ttl: ttl) }
    /// Whether `flag` is set (to anything) and not expired.
    public func isEnabled(_ flag: String) async throws -> Bool { try await value(of: flag) != nil }
}

/// `TemporaryFlagging` in Redis: `axon:{ns.<hex>}:flag:<name hex>`, one `SET … PX` per change.
public final class RedisTemporaryFlags: TemporaryFlagging {
    private let client: any RedisCommandSender
    private let prefix: String

    private let logger: Logger

    /// Flags in `namespace` over `client`; a flag set is logged at `debug`.
    public init(client: some RedisCommandSender, namespace: String = "default", logger: Logger = Logger(label: "axon.flags")) {
        self.client = client
        self.logger = logger
        prefix = RedisKeyspace(namespace: namespace).prefix + "flag:"
    }

    public func set(_ flag: String, value: String, ttl: Duration) async throws {
        _ = try await client.send(RedisCommand("SET", prefix + RedisKeyspace.hex(flag), value, "PX", try LockToken.milliseconds(ttl)))
        logger.debug("temporary flag set", metadata: ["axon.flag": "\(flag)", "axon.flag.ttl": "\(ttl)"])
    }

    public func value(of flag: String) async throws -> String? {
        try await client.send(RedisCommand("GET", prefix + RedisKeyspace.hex(flag))).optionalString()
    }

    public func clear(_ flag: String) async throws -> Bool {
        try await client.send(RedisCommand("DEL", prefix + RedisKeyspace.hex(flag))).int() == 1
    }
}

/// `TemporaryFlagging` within this process.
public final class InMemoryTemporaryFlags: TemporaryFlagging {
    private let flags = Mutex<[String: (value: String, expires: ContinuousClock.Instant)]>([:])

    /// No flags set.
    public init() {}

    public func set(_ flag: String, value: String, ttl: Duration) async throws {
        _ = try LockToken.milliseconds(ttl)
        let expires = ContinuousClock.now + ttl
        flags.withLock { $0[flag] = (value, expires) }
    }

    public func value(of flag: String) async throws -> String? {
        let now = ContinuousClock.now
        return flags.withLock { flags in
            guard let entry = flags[flag], entry.expires > now else {
                flags.removeValue(forKey: flag)
                return nil
            }
            return entry.value
        }
    }

    public func clear(_ flag: String) async throws -> Bool {
        let now = ContinuousClock.now
        return flags.withLock { flags in
            guard let entry = flags.removeValue(forKey: flag) else { return false }
            return entry.expires > now
        }
    }
}
