import Foundation

/// Where a Redis Cluster is and how to talk to its nodes: seed nodes (any few; the client learns the rest from
/// them) and a template for every node connection (credentials, timeouts, client name).
public struct RedisClusterConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// Nodes to ask for the slot map first.
    public var seeds: [ClusterTopology.Node]
    /// Settings for every node connection; its endpoint is replaced by each node's address.
    public var node: RedisConfiguration
    /// The most connections the client opens per primary (each primary has a `RedisConnectionPool`).
    public var maxConnectionsPerNode: Int
    /// How often the slot map is read again when nothing (no redirect, no connection error) asked for it.
    public var topologyRefreshInterval: Duration

    /// A configuration; `node` gives the credentials and timeouts (its host and port are not used).
    public init(
        seeds: [ClusterTopology.Node], node: RedisConfiguration = RedisConfiguration(), maxConnectionsPerNode: Int = 4,
        topologyRefreshInterval: Duration = .seconds(30)
    ) {
        self.seeds = seeds
        self.node = node
        self.maxConnectionsPerNode = maxConnectionsPerNode
        self.topologyRefreshInterval = topologyRefreshInterval
    }

    /// Parses `redis+cluster://[[user]:password@]host1:port1,host2:port2[,...]` (`rediss+cluster://`: every node over
    /// TLS with the default settings). The message of a malformed URL never repeats it (it may carry a password).
    public init(url: String) throws(RedisError) {
        let parsed = try MultiNodeURL(url, kind: "cluster", example: "redis+cluster://h1:7000,h2:7001")
        var rest = parsed.rest
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        let node = parsed.node
        try self.init(nodeList: rest, template: node)
    }

    /// Reads `REDIS_CLUSTER_NODES` (`host:port,host:port`) or a `redis+cluster://` (`rediss+cluster://`) `REDIS_URL`,
    /// with `REDIS_USERNAME`, `REDIS_PASSWORD` and the `REDIS_TLS*` variables for every node; `nil` when neither is set.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisError) -> RedisClusterConfiguration? {
        var configuration: RedisClusterConfiguration
        if let nodes = environment["REDIS_CLUSTER_NODES"], !nodes.isEmpty {
            do {
                configuration = try RedisClusterConfiguration(nodeList: Substring(nodes), template: RedisConfiguration())
            } catch {
                throw RedisError(.invalidArgument, "REDIS_CLUSTER_NODES: \(error.message)")
            }
        } else if let url = environment["REDIS_URL"], url.lowercased().hasPrefix("redis+cluster://") || url.lowercased().hasPrefix("rediss+cluster://") {
            do {
                configuration = try RedisClusterConfiguration(url: url)
            } catch {
                throw RedisError(.invalidArgument, "REDIS_URL: \(error.message)")
            }
        } else {
            return nil
        }
        if let password = environment["REDIS_PASSWORD"], !password.isEmpty { configuration.node.password = password }
        if let username = environment["REDIS_USERNAME"], !username.isEmpty { configuration.node.username = username }
        configuration.node.tls = try RedisTLSConfiguration.fromEnvironment(environment, base: configuration.node.tls)
        return configuration
    }

    private init(nodeList: Substring, template: RedisConfiguration) throws(RedisError) {
        var seeds: [ClusterTopology.Node] = []
        for part in nodeList.split(separator: ",") {
            guard let seed = ClusterTopology.Node(address: part.trimmingCharacters(in: .whitespaces)) else {
                throw RedisError(.invalidArgument, "'\(part.prefix(100))' is not host:port")
            }
            seeds.append(seed)
        }
        guard !seeds.isEmpty else { throw RedisError(.invalidArgument, "a cluster needs at least one seed node host:port") }
        self.init(seeds: seeds, node: template)
    }

    /// The connection settings for one node.
    func configuration(for node: ClusterTopology.Node) -> RedisConfiguration {
        var configuration = self.node
        configuration.endpoint = .tcp(host: node.host, port: node.port)
        configuration.database = 0  // a cluster has database 0 only
        return configuration
    }

    /// The seeds and the node settings (password redacted by `RedisConfiguration`).
    public var description: String {
        "RedisClusterConfiguration(seeds: \(seeds.map(\.description).joined(separator: ",")), node: \(node))"
    }
}
