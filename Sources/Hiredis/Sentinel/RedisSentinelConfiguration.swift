import Foundation

/// Where the Sentinels watching a master are, the master's name, and how to talk to the sentinels and to the data
/// nodes. A `RedisConnectionPool(sentinel:)` asks the sentinels for the master whenever it (re)connects.
public struct RedisSentinelConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// Sentinel addresses (any order; the one that answers is asked first next time).
    public var sentinels: [ClusterTopology.Node]
    /// The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
    public var masterName: String
    /// Credentials for the sentinels themselves (`requirepass` in sentinel.conf), if any.
    public var sentinelUsername: String?
    /// Password for the sentinels.
    public var sentinelPassword: String?
    /// Settings for data-node connections (credentials, database, timeouts, TLS); the endpoint is the master's.
    public var node: RedisConfiguration
    /// TLS for the sentinel connections; `nil` for plaintext. `rediss+sentinel://` and the `REDIS_TLS*` variables set
    /// it to the data nodes' settings.
    public var sentinelTLS: RedisTLSConfiguration?

    /// A configuration.
    public init(
        sentinels: [ClusterTopology.Node], masterName: String, sentinelUsername: String? = nil, sentinelPassword: String? = nil,
        node: RedisConfiguration = RedisConfiguration(), sentinelTLS: RedisTLSConfiguration? = nil
    ) {
        self.sentinelTLS = sentinelTLS
        self.sentinels = sentinels
        self.masterName = masterName
        self.sentinelUsername = sentinelUsername
        self.sentinelPassword = sentinelPassword
        self.node = node
    }

    /// Parses `redis+sentinel://[[user]:password@]host1:port1,host2:port2/<master name>[/db]` (`rediss+sentinel://`:
    /// sentinels and data nodes over TLS with the default settings); the user-info is the data nodes' credentials. A
    /// malformed URL's message never repeats it.
    public init(url: String) throws(RedisError) {
        let parsed = try MultiNodeURL(url, kind: "sentinel", example: "redis+sentinel://h1:26379,h2:26379/mymaster")
        let rest = parsed.rest
        var node = parsed.node
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[1].isEmpty else {
            throw RedisError(.invalidArgument, "a sentinel URL names the master after the addresses: redis+sentinel://h1:26379/mymaster")
        }
        if parts.count >= 3, !parts[2].isEmpty {
            guard let db = Int(parts[2]), db >= 0 else { throw RedisError(.invalidArgument, "a sentinel URL's database must be a number") }
            node.database = db
        }
        let sentinels = try Self.nodes(parts[0])
        self.init(
            sentinels: sentinels, masterName: String(parts[1]).removingPercentEncoding ?? String(parts[1]), node: node, sentinelTLS: node.tls)
    }

    /// Reads `REDIS_SENTINELS` (`host:port,...`) and `REDIS_SENTINEL_MASTER`, or a `redis+sentinel://` `REDIS_URL`;
    /// `REDIS_SENTINEL_USERNAME`/`REDIS_SENTINEL_PASSWORD` for the sentinels, `REDIS_USERNAME`/`REDIS_PASSWORD`/
    /// `REDIS_DB` for the data nodes. `nil` when neither is set.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisError) -> RedisSentinelConfiguration? {
        var configuration: RedisSentinelConfiguration
        if let list = environment["REDIS_SENTINELS"], !list.isEmpty {
            guard let master = environment["REDIS_SENTINEL_MASTER"], !master.isEmpty else {
                throw RedisError(.invalidArgument, "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER (the monitored master's name) is not")
            }
            do {
                configuration = RedisSentinelConfiguration(sentinels: try nodes(Substring(list)), masterName: master)
            } catch {
                throw RedisError(.invalidArgument, "REDIS_SENTINELS: \(error.message)")
            }
        } else if let url = environment["REDIS_URL"], url.lowercased().hasPrefix("redis+sentinel://") || url.lowercased().hasPrefix("rediss+sentinel://") {
            do {
                configuration = try RedisSentinelConfiguration(url: url)
            } catch {
                throw RedisError(.invalidArgument, "REDIS_URL: \(error.message)")
            }
        } else {
            return nil
        }
        if let value = environment["REDIS_SENTINEL_USERNAME"], !value.isEmpty { configuration.sentinelUsername = value }
        if let value = environment["REDIS_SENTINEL_PASSWORD"], !value.isEmpty { configuration.sentinelPassword = value }
        if let value = environment["REDIS_USERNAME"], !value.isEmpty { configuration.node.username = value }
        if let value = environment["REDIS_PASSWORD"], !value.isEmpty { configuration.node.password = value }
        if let value = environment["REDIS_DB"], !value.isEmpty {
            guard let db = Int(value), db >= 0 else { throw RedisError(.invalidArgument, "REDIS_DB must be a non-negative number") }
            configuration.node.database = db
        }
        configuration.node.tls = try RedisTLSConfiguration.fromEnvironment(environment, base: configuration.node.tls)
        configuration.sentinelTLS = configuration.node.tls
        return configuration
    }

    private static func nodes(_ list: Substring) throws(RedisError) -> [ClusterTopology.Node] {
        var nodes: [ClusterTopology.Node] = []
        for part in list.split(separator: ",") {
            guard let node = ClusterTopology.Node(address: part.trimmingCharacters(in: .whitespaces)) else {
                throw RedisError(.invalidArgument, "'\(part.prefix(100))' is not host:port")
            }
            nodes.append(node)
        }
        guard !nodes.isEmpty else { throw RedisError(.invalidArgument, "at least one sentinel host:port is needed") }
        return nodes
    }

    /// The sentinels, the master's name and the data-node settings (passwords redacted).
    public var description: String {
        "RedisSentinelConfiguration(sentinels: \(sentinels.map(\.description).joined(separator: ",")), master: \(masterName), "
            + "sentinelPassword: \(sentinelPassword == nil ? "nil" : "<redacted>"), sentinelTLS: \(sentinelTLS.map { "\($0)" } ?? "off"), node: \(node))"
    }
}
