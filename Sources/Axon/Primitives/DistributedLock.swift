import Foundation
import Hiredis
import Logging
import Synchronization

/// A held lock: its name, the random token that proves ownership, and its fencing token.
public struct LockLease: Sendable, Hashable {
    /// The lock's name.
    public let name: String
    /// Random per acquisition; only the holder of this token can release or extend.
    public let token: String
    /// Strictly increasing per lock name across acquisitions: pass it to the resource you protect so that it
    /// can reject a write from an older holder whose lease ran out.
    public let fencingToken: Int64

    /// A lease (for `DistributedLocking` implementations, or one restored from storage).
    public init(name: String, token: String, fencingToken: Int64) {
        self.name = name
        self.token = token
        self.fencingToken = fencingToken
    }
}

/// Mutual exclusion between processes, always with a TTL so a vanished holder cannot block forever.
///
/// Guarantees on a single Redis server: at most one holder at a time while leases are used within their TTL;
/// only the holder (by token) can release or extend; fencing tokens strictly increase. What failover can break
/// (Sentinel or Cluster with asynchronous replication): a lock written to a primary that dies before
/// replicating is lost, so a second holder can acquire it, and the fencing counter can repeat a value. Work
/// that must never overlap should check fencing tokens at the resource, and keep critical sections well under
/// the TTL (or `extend` while working).
public protocol DistributedLocking: Sendable {
    /// One attempt: the lease if the lock was free, else `nil`.
    func tryAcquire(_ name: String, ttl: Duration) async throws -> LockLease?
    /// Extends the lease to `ttl` from now; `false` if it is no longer held by this lease.
    func extend(_ lease: LockLease, ttl: Duration) async throws -> Bool
    /// Releases the lease; `false` if it was no longer held by it (expired or taken over).
    func release(_ lease: LockLease) async throws -> Bool
}

extension DistributedLocking {
    /// Waits for the lock up to `timeout` (0 to 366 days), retrying with exponential backoff (2 ms doubling to
    /// 100 ms, jittered); `nil` when the timeout passes first. The TTL is 1 ms to 366 days.
    public func acquire(_ name: String, ttl: Duration, timeout: Duration) async throws -> LockLease? {
        _ = try ValueRanges.milliseconds(timeout, "a lock timeout", in: .zero...ValueRanges.longestDuration)
        _ = try LockToken.milliseconds(ttl)
        let deadline = ContinuousClock.now + timeout
        var delay = Duration.milliseconds(2)
        while true {
            if let lease = try await tryAcquire(name, ttl: ttl) { return lease }
            let now = ContinuousClock.now
            if now >= deadline { return nil }
            let jittered = delay * Double.random(in: 0.5...1)
            try await Task.sleep(for: min(jittered, deadline - now))
            delay = min(delay * 2, .milliseconds(100))
        }
    }

    /// Runs `body` holding the lock and releases it on every exit path (return, throw, cancellation).
    /// Throws `MemoryError` with code `lockNotAcquired` when the lock is not acquired within `timeout`.
    @discardableResult
    public func withLock<T: Sendable>(
        _ name: String, ttl: Duration = .seconds(10), timeout: Duration = .seconds(10),
        _ body: (LockLease) async throws -> T
    ) async throws -> T {
        guard let lease = try await acquire(name, ttl: ttl, timeout: timeout) else {
            throw MemoryError(.lockNotAcquired, "lock '\(name)' was not acquired within \(timeout); another holder keeps it")
        }
        do {
            let result = try await body(lease)
            _ = try await release(lease)
            return result
        } catch {
            _ = try? await release(lease)
            throw error
        }
    }
}

/// `DistributedLocking` in Redis: `axon:{ns.<hex>}:lock:<name hex>` holds the token (SET NX PX), and
/// `axon:{ns.<hex>}:fence:<name hex>` the fencing counter (same slot; never expires, one small key per name).
public final class RedisDistributedLock: DistributedLocking {
    private let client: any RedisCommandSender
    private let keys: RedisKeyspace

    /// Locks in `namespace` over `client` (a pool or a connection).
    private let events: PrimitiveCounters?
    private let logger: Logger

    /// Locks in `namespace` over `client`. With telemetry on, `axon.lock.events` counts each `outcome`: acquired,
    /// contended (held by another), expired (a release or extend found the lease already gone).
    public init(
        client: some RedisCommandSender, namespace: String = "default", logger: Logger = Logger(label: "axon.lock"),
        telemetry: Telemetry = Telemetry()
    ) {
        self.client = client
        self.logger = logger
        keys = RedisKeyspace(namespace: namespace)
        events = PrimitiveCounters(telemetry, label: "axon.lock.events", dimensions: [], outcomes: ["acquired", "contended", "expired"])
    }

    /// KEYS[1] lock, KEYS[2] fence. ARGV[1] token, ARGV[2] ttl ms. Returns the fencing token or nil.
    static let acquireScript = RedisScript("""
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
      return redis.call('INCR', KEYS[2])
    end
    return false
    """)
    /// Compare-and-delete. KEYS[1] lock. ARGV[1] token. Returns 1 if released.
    static let releaseScript = RedisScript("""
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0
    """)
    /// Compare-and-expire. KEYS[1] lock. ARGV[1] token, ARGV[2] ttl ms. Returns 1 if extended.
    static let extendScript = RedisScript("""
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    return 0
    """)

    public func tryAcquire(_ name: String, ttl: Duration) async throws -> LockLease? {
        let token = LockToken.make()
        let reply = try await Self.acquireScript.run(on: client, keys: acquireKeys(name), arguments: [token, try LockToken.milliseconds(ttl)])
        if reply.isNull {
            events?.record("contended")
            return nil
        }
        events?.record("acquired")
        return LockLease(name: name, token: token, fencingToken: try reply.int())
    }

    public func extend(_ lease: LockLease, ttl: Duration) async throws -> Bool {
        let extended = try await Self.extendScript.run(
            on: client, keys: [lockKey(lease.name)], arguments: [lease.token, try LockToken.milliseconds(ttl)]).int() == 1
        if !extended { lost(lease, "extend") }
        return extended
    }

    public func release(_ lease: LockLease) async throws -> Bool {
        let released = try await Self.releaseScript.run(on: client, keys: [lockKey(lease.name)], arguments: [lease.token]).int() == 1
        if !released { lost(lease, "release") }
        return released
    }

    private func lost(_ lease: LockLease, _ action: String) {
        events?.record("expired")
        logger.warning("lock lease had expired", metadata: ["axon.lock.action": "\(action)", "axon.lock.fencing_token": "\(lease.fencingToken)"])
    }

    /// The EVALSHAs that `tryAcquire` and then `release` send for one acquisition with `token`, for a
    /// benchmark's baseline (loading the scripts if needed).
    package func acquireReleaseCommands(_ name: String, token: String, ttl: Duration) async throws -> [RedisCommand] {
        [
            try await Self.acquireScript.command(on: client, keys: acquireKeys(name), arguments: [token, try LockToken.milliseconds(ttl)]),
            try await Self.releaseScript.command(on: client, keys: [lockKey(name)], arguments: [token]),
        ]
    }

    private func acquireKeys(_ name: String) -> [any RedisArgument] { [lockKey(name), fenceKey(name)] }
    private func lockKey(_ name: String) -> String { keys.prefix + "lock:" + RedisKeyspace.hex(name) }
    private func fenceKey(_ name: String) -> String { keys.prefix + "fence:" + RedisKeyspace.hex(name) }
}

/// `DistributedLocking` within this process, with the same TTL, token and fencing behaviour.
public final class InMemoryLock: DistributedLocking {
    private struct Held { let token: String; let expires: ContinuousClock.Instant }
    private let state = Mutex<(held: [String: Held], fences: [String: Int64])>(([:], [:]))

    /// An empty lock table.
    public init() {}

    public func tryAcquire(_ name: String, ttl: Duration) async throws -> LockLease? {
        _ = try LockToken.milliseconds(ttl)
        let token = LockToken.make()
        let now = ContinuousClock.now
        return state.withLock { state -> LockLease? in
            if let held = state.held[name], held.expires > now { return nil }
            state.held[name] = Held(token: token, expires: now + ttl)
            let fence = (state.fences[name] ?? 0) + 1
            state.fences[name] = fence
            return LockLease(name: name, token: token, fencingToken: fence)
        }
    }

    public func extend(_ lease: LockLease, ttl: Duration) async throws -> Bool {
        _ = try LockToken.milliseconds(ttl)
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let held = state.held[lease.name], held.token == lease.token, held.expires > now else { return false }
            state.held[lease.name] = Held(token: lease.token, expires: now + ttl)
            return true
        }
    }

    public func release(_ lease: LockLease) async throws -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let held = state.held[lease.name], held.token == lease.token, held.expires > now else { return false }
            state.held.removeValue(forKey: lease.name)
            return true
        }
    }
}

enum LockToken {
    /// 128 random bits as hex.
    static func make() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16) + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// A TTL of a lock, flag, claim or log in milliseconds: 1 ms to 366 days, else `invalidArgument`.
    static func milliseconds(_ ttl: Duration) throws(MemoryError) -> Int64 {
        try ValueRanges.milliseconds(ttl, "a TTL")
    }
}
