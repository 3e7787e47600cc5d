import Foundation
import Hiredis
import Logging
import Synchronization

/// What `IdempotencyStoring.begin` found for a request key.
public enum IdempotencyState: Sendable, Hashable {
    /// This caller is the first: do the work, then `complete` it.
    case first
    /// Another caller has begun the same request and not completed it yet.
    case inProgress
    /// The request was completed; here is its recorded outcome.
    case completed([UInt8])
    /// The key was used before with a different payload: reject the request.
    case conflict
}

/// De-duplication of requests: `claim` for "first caller wins", `begin`/`complete` for idempotency keys that
/// replay the recorded outcome to repeats and reject a reused key with a different payload (compared by
/// SHA-1 of the payload).
public protocol IdempotencyStoring: Sendable {
    /// `true` only for the first caller of `key` within `ttl`.
    func claim(_ key: String, ttl: Duration) async throws -> Bool
    /// Starts (or looks up) the request `key` carrying `payload`; the record lives for `ttl`.
    func begin(_ key: String, payload: [UInt8], ttl: Duration) async throws -> IdempotencyState
    /// Records the outcome of a request begun with the same payload; `false` if the record is gone or differs.
    func complete(_ key: String, payload: [UInt8], outcome: [UInt8]) async throws -> Bool
}

/// `IdempotencyStoring` in Redis: `axon:{ns.<hex>}:dedup:<key hex>` (claims) and `…:idem:<key hex>` (a hash).
public final class RedisIdempotencyStore: IdempotencyStoring {
    private let client: any RedisCommandSender
    private let prefix: String
    private let logger: Logger

    /// Keys in `namespace` over `client`; a key reused with another payload is logged at `notice`.
    public init(client: some RedisCommandSender, namespace: String = "default", logger: Logger = Logger(label: "axon.idempotency")) {
        self.client = client
        self.logger = logger
        prefix = RedisKeyspace(namespace: namespace).prefix
    }

    /// KEYS[1] record. ARGV[1] payload, ARGV[2] ttl ms. Returns {state} or {'done', outcome}.
    static let beginScript = RedisScript("""
    local digest = redis.sha1hex(ARGV[1])
    local record = redis.call('HMGET', KEYS[1], 'h', 'state', 'outcome')
    if not record[1] then
      redis.call('HSET', KEYS[1], 'h', digest, 'state', 'pending')
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {'first'}
    end
    if record[1] ~= digest then return {'conflict'} end
    if record[2] == 'done' then return {'done', record[3]} end
    return {'pending'}
    """)
    /// KEYS[1] record. ARGV[1] payload, ARGV[2] outcome. Returns 1 if recorded.
    static let completeScript = RedisScript("""
    if redis.call('HGET', KEYS[1], 'h') ~= redis.sha1hex(ARGV[1]) then return 0 end
    redis.call('HSET', KEYS[1], 'state', 'done', 'outcome', ARGV[2])
    return 1
    """)

    public func claim(_ key: String, ttl: Duration) async throws -> Bool {
        let reply = try await client.send(RedisCommand("SET", prefix + "dedup:" + RedisKeyspace.hex(key), "1", "NX", "PX", try LockToken.milliseconds(ttl)))
        return !reply.isNull
    }

    public func begin(_ key: String, payload: [UInt8], ttl: Duration) async throws -> IdempotencyState {
        let reply = try await Self.beginScript.run(
            on: client, keys: [prefix + "idem:" + RedisKeyspace.hex(key)], arguments: [payload, try LockToken.milliseconds(ttl)])
        let parts = try reply.array()
        switch try parts.first?.string() {
        case "first": return .first
        case "pending": return .inProgress
        case "conflict":
            logger.notice("idempotency key reused with another payload", metadata: ["axon.idempotency.key_hash": "\(key.hashValue)"])
            return .conflict
        case "done": return .completed(try parts.count > 1 ? parts[1].bytes() : [])
        default: throw MemoryError(.storage, "unexpected idempotency script reply")
        }
    }

    public func complete(_ key: String, payload: [UInt8], outcome: [UInt8]) async throws -> Bool {
        try await Self.completeScript.run(
            on: client, keys: [prefix + "idem:" + RedisKeyspace.hex(key)], arguments: [payload, outcome]).int() == 1
    }
}

/// `IdempotencyStoring` within this process, with the same behaviour (payloads compared exactly).
public final class InMemoryIdempotencyStore: IdempotencyStoring {
    private struct Record { var payload: [UInt8]; var outcome: [UInt8]?; let expires: ContinuousClock.Instant }
    private let state = Mutex<(claims: [String: ContinuousClock.Instant], records: [String: Record])>(([:], [:]))

    /// An empty store.
    public init() {}

    public func claim(_ key: String, ttl: Duration) async throws -> Bool {
        _ = try LockToken.milliseconds(ttl)
        let now = ContinuousClock.now
        return state.withLock { state in
            if let expires = state.claims[key], expires > now { return false }
            state.claims[key] = now + ttl
            return true
        }
    }

    public func begin(_ key: String, payload: [UInt8], ttl: Duration) async throws -> IdempotencyState {
        _ = try LockToken.milliseconds(ttl)
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let record = state.records[key], record.expires > now else {
                state.records[key] = Record(payload: payload, outcome: nil, expires: now + ttl)
                return .first
            }
            if record.payload != payload { return .conflict }
            return record.outcome.map { .completed($0) } ?? .inProgress
        }
    }

    public func complete(_ key: String, payload: [UInt8], outcome: [UInt8]) async throws -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard var record = state.records[key], record.expires > now, record.payload == payload else { return false }
            record.outcome = outcome
            state.records[key] = record
            return true
        }
    }
}
