import Foundation
import Hiredis
import Logging
import Synchronization

/// A capped, expiring log per subject (a user, a session): record events, read the newest. The log keeps the
/// newest `capacity` events and disappears `ttl` after its last record.
public protocol RecentActivityLogging: Sendable {
    /// Appends `event` to `subject`'s log.
    func record(_ subject: String, event: [UInt8]) async throws
    /// The newest `limit` events of `subject`, newest first.
    func recent(_ subject: String, limit: Int) async throws -> [[UInt8]]
}

extension RecentActivityLogging {
    /// Appends a text event.
    public func record(_ subject: String, _ event: String) async throws { try await record(subject, event: Array(event.utf8)) }
    /// The newest `limit` events as text (invalid UTF-8 is replaced), newest first.
    public func recentText(_ subject: String, limit: Int) async throws -> [String] {
        try await recent(subject, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// `RecentActivityLogging` in Redis: a list `axon:{ns.<hex>}:activity:<subject hex>`; each record is one
/// script (LPUSH, LTRIM, PEXPIRE) so the cap and the TTL always hold together.
public final class RedisRecentActivity: RecentActivityLogging {
    private let client: any RedisCommandSender
    private let prefix: String
    private let capacity: Int
    private let ttlMilliseconds: Int64

    private let logger: Logger

    /// Logs in `namespace` keeping `capacity` events for `ttl` after the last one; a failed record is logged at
    /// `debug` (and thrown).
    public init(
        client: some RedisCommandSender, namespace: String = "default", capacity: Int = 100, ttl: Duration = .seconds(3600),
        logger: Logger = Logger(label: "axon.activity")
    ) throws(MemoryError) {
        guard capacity >= 1 else { throw .invalidConfiguration("activity capacity must be at least 1, got \(capacity)") }
        self.client = client
        self.logger = logger
        prefix = RedisKeyspace(namespace: namespace).prefix + "activity:"
        self.capacity = capacity
        ttlMilliseconds = try LockToken.milliseconds(ttl)
    }

    /// KEYS[1] the log. ARGV[1] event, ARGV[2] capacity, ARGV[3] ttl ms.
    static let recordScript = RedisScript("""
    redis.call('LPUSH', KEYS[1], ARGV[1])
    redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
    """)

    public func record(_ subject: String, event: [UInt8]) async throws {
        do {
            _ = try await Self.recordScript.run(
                on: client, keys: [prefix + RedisKeyspace.hex(subject)], arguments: [event, capacity, ttlMilliseconds])
        } catch {
            logger.debug("recording activity failed", metadata: ["redis.error": "\(error)"])
            throw error
        }
    }

    public func recent(_ subject: String, limit: Int) async throws -> [[UInt8]] {
        guard limit >= 1 else { return [] }
        let reply = try await client.send(RedisCommand("LRANGE", prefix + RedisKeyspace.hex(subject), 0, min(limit, capacity) - 1))
        return try reply.array().map { try $0.bytes() }
    }
}

/// `RecentActivityLogging` within this process.
public final class InMemoryRecentActivity: RecentActivityLogging {
    private let capacity: Int
    private let ttl: Duration
    private let logs = Mutex<[String: (events: [[UInt8]], expires: ContinuousClock.Instant)]>([:])

    /// Logs keeping `capacity` events for `ttl` after the last one.
    public init(capacity: Int = 100, ttl: Duration = .seconds(3600)) throws(MemoryError) {
        guard capacity >= 1 else { throw .invalidConfiguration("activity capacity must be at least 1, got \(capacity)") }
        _ = try LockToken.milliseconds(ttl)
        self.capacity = capacity
        self.ttl = ttl
    }

    public func record(_ subject: String, event: [UInt8]) async throws {
        let now = ContinuousClock.now
        logs.withLock { logs in
            var events = logs[subject].flatMap { $0.expires > now ? $0.events : nil } ?? []
            events.insert(event, at: 0)
            if events.count > capacity { events.removeLast(events.count - capacity) }
            logs[subject] = (events, now + ttl)
        }
    }

    public func recent(_ subject: String, limit: Int) async throws -> [[UInt8]] {
        let now = ContinuousClock.now
        return logs.withLock { logs in
            guard let log = logs[subject], log.expires > now else {
                logs.removeValue(forKey: subject)
                return []
            }
            return Array(log.events.prefix(max(limit, 0)))
        }
    }
}
