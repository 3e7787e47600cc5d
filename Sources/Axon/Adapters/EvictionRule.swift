import Foundation
import Hiredis
import Logging
import Synchronization

/// What a `RedisAdapter` does on a server whose `maxmemory-policy` evicts keys under memory pressure (any
/// `allkeys-*` or `volatile-*` policy: every Axon key has a TTL, so `volatile-*` evicts them too). Redis then
/// removes entry hashes and index keys independently, so counts, recalls and entries disagree until the indexes
/// are repaired.
public enum EvictionRule: Sendable, Hashable {
    /// Store, get, forget, recall, export and count fail with `invalidConfiguration` naming the policy, so the
    /// problem shows at once rather than as missing entries (the default). Run the memory layer on a Redis with
    /// `maxmemory-policy noeviction`: writes then fail with an OOM error (`MemoryError.redisError`) when memory is
    /// full, which the caller sees, instead of silently losing entries or index members.
    case refuse
    /// Work anyway, logging a warning once. Reads skip and drop index members whose entry was evicted;
    /// `MemorySystem.rebuildIndexes(tier:)` puts surviving entries back into evicted indexes and `sweep(tier:)`
    /// removes members of evicted entries. Until then, `count` and recall can disagree with the entries.
    case tolerate
}

/// The adapter's view of the server's eviction policy, read from `INFO memory` (not `CONFIG`, which managed Redis
/// services often disable) on first use and again every 30 s while it evicts.
final class EvictionGuard: Sendable {
    private enum Known: Sendable {
        case unchecked
        case safe
        case evicting(policy: String, checkedAt: ContinuousClock.Instant)
    }

    let rule: EvictionRule
    private let known = Mutex(Known.unchecked)
    private let warned = Mutex(false)
    private let logger: Logger

    init(rule: EvictionRule, logger: Logger) {
        self.rule = rule
        self.logger = logger
    }

    /// Throws when the server evicts and the rule is `.refuse`; reads the policy first when it is not known.
    func check(_ pool: any RedisClient) async throws {
        let state = known.withLock { $0 }
        switch state {
        case .safe:
            return
        case .evicting(let policy, let checkedAt) where ContinuousClock.now - checkedAt < .seconds(30):
            try act(on: policy, endpoint: pool.endpointDescription)
            return
        case .unchecked, .evicting:
            break
        }
        let policy: String?
        do {
            policy = Self.policy(in: try await pool.send("INFO", "memory").string())
        } catch let error as RedisError where error.code == .serverError {
            policy = nil  // INFO renamed or disabled: nothing to go by
            logger.debug("redis INFO unavailable; eviction policy unknown", metadata: ["redis.error": "\(error.message)"])
        }
        guard let policy, Self.isEvicting(policy) else {
            known.withLock { $0 = .safe }
            return
        }
        known.withLock { $0 = .evicting(policy: policy, checkedAt: ContinuousClock.now) }
        try act(on: policy, endpoint: pool.endpointDescription)
    }

    private func act(on policy: String, endpoint: String) throws {
        switch rule {
        case .refuse:
            throw MemoryError.invalidConfiguration(
                "Redis at \(endpoint) evicts keys (maxmemory-policy \(policy)), which would drop entries and their index members "
                    + "independently: set maxmemory-policy noeviction for the memory layer, or create the RedisAdapter with "
                    + "evictionRule: .tolerate and run rebuildIndexes(tier:) and sweep(tier:)")
        case .tolerate:
            guard warned.withLock({ let was = $0; $0 = true; return !was }) else { return }
            logger.warning("redis evicts keys: memory indexes may lose members until rebuilt", metadata: [
                "redis.endpoint": "\(endpoint)", "redis.maxmemory_policy": "\(policy)",
            ])
        }
    }

    /// `maxmemory_policy` from an `INFO memory` reply.
    static func policy(in info: String) -> String? {
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("maxmemory_policy:") {
            return String(line.dropFirst("maxmemory_policy:".count)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    static func isEvicting(_ policy: String) -> Bool {
        policy.hasPrefix("allkeys-") || policy.hasPrefix("volatile-")
    }
}
