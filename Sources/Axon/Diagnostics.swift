import Foundation
import Hiredis

/// What an operator or a `/health` endpoint needs to know about a memory system (`MemorySystem.diagnostics()`).
public struct MemoryDiagnostics: Sendable {
    /// The Redis server behind the Redis tiers (on a cluster: the first primary), or `nil` without a Redis tier.
    public var server: ServerDiagnostics?
    /// Each configured tier.
    public var tiers: [TierDiagnostics]
}

/// A Redis server's state, from `INFO` and `SLOWLOG`.
public struct ServerDiagnostics: Sendable {
    /// `redis_version`.
    public var version: String
    /// `role`: `master` or `slave` (a replica).
    public var role: String
    /// `used_memory` in bytes.
    public var usedMemory: Int
    /// `maxmemory` in bytes (0: no limit).
    public var maxMemory: Int
    /// `maxmemory_policy`.
    public var maxMemoryPolicy: String
    /// Whether that policy evicts keys (see `EvictionRule`): the memory layer wants `noeviction`.
    public var evictsKeys: Bool
    /// The slowest recent commands (`SLOWLOG GET 10`), newest first; empty when SLOWLOG is unavailable.
    public var slowCommands: [SlowCommand]
}

/// One `SLOWLOG` entry: when, how long, and the command's name and first argument (never the rest: they may
/// hold user data).
public struct SlowCommand: Sendable, Hashable {
    /// When it ran.
    public var startedAt: Date
    /// How long the server spent on it.
    public var duration: Duration
    /// The command name and its first argument.
    public var command: [String]
}

/// One tier's size: live entries and the members of its index keys.
public struct TierDiagnostics: Sendable, Hashable {
    /// The tier.
    public var tier: MemoryTier
    /// Where it lives.
    public var adapter: AdapterKind
    /// Live entries.
    public var liveEntries: Int
    /// Members of each index (for Redis: `i` tier, `p` priority, `r` ranking, `x` lexicographic), counting
    /// expired members not yet pruned: far above `liveEntries` means the tier needs a `sweep`.
    public var indexMembers: [String: Int]

    /// A tier's figures.
    public init(tier: MemoryTier, adapter: AdapterKind, liveEntries: Int, indexMembers: [String: Int]) {
        self.tier = tier
        self.adapter = adapter
        self.liveEntries = liveEntries
        self.indexMembers = indexMembers
    }
}

extension ServerDiagnostics {
    /// Reads `INFO server`, `INFO memory`, `INFO replication` and `SLOWLOG GET 10` through `client`.
    static func read(from client: any RedisClient) async throws -> ServerDiagnostics {
        var fields: [String: String] = [:]
        for section in ["server", "memory", "replication"] {
            fields.merge(try await client.infoFields(section)) { first, _ in first }
        }
        var slow: [SlowCommand] = []
        if let entries = try? await client.send("SLOWLOG", "GET", 10).array() {
            for entry in entries {
                guard let parts = try? entry.array(), parts.count >= 4, let started = try? parts[1].int(),
                      let micros = try? parts[2].int() else { continue }
                let words = ((try? parts[3].array()) ?? []).prefix(2).map { (try? $0.string()) ?? "?" }
                slow.append(SlowCommand(
                    startedAt: Date(timeIntervalSince1970: TimeInterval(started)), duration: .microseconds(micros), command: Array(words)))
            }
        }
        let policy = fields["maxmemory_policy"] ?? "unknown"
        return ServerDiagnostics(
            version: fields["redis_version"] ?? "unknown", role: fields["role"] ?? "unknown",
            usedMemory: Int(fields["used_memory"] ?? "") ?? 0, maxMemory: Int(fields["maxmemory"] ?? "") ?? 0,
            maxMemoryPolicy: policy, evictsKeys: EvictionGuard.isEvicting(policy), slowCommands: slow)
    }
}
