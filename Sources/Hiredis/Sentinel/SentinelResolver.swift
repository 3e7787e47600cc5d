import Logging
import Synchronization

/// Asks the sentinels where the master is (`SENTINEL GET-MASTER-ADDR-BY-NAME`), then checks the node agrees
/// (`ROLE` says `master`). The sentinel that answered is asked first next time.
final class SentinelResolver: Sendable {
    let configuration: RedisSentinelConfiguration
    private let order: Mutex<[ClusterTopology.Node]>

    init(configuration: RedisSentinelConfiguration) {
        self.configuration = configuration
        order = Mutex(configuration.sentinels)
    }

    /// A connection to the current master, verified by `ROLE`.
    func connectToMaster(logger: Logger, telemetry: Telemetry) async throws(RedisError) -> RedisConnection {
        let master = try await masterAddress()
        var nodeConfiguration = configuration.node
        nodeConfiguration.endpoint = .tcp(host: master.host, port: master.port)
        let connection = try await RedisConnection.connect(nodeConfiguration, logger: logger, telemetry: telemetry)
        let role: String?
        do {
            role = try await connection.send("ROLE").array().first?.string()
        } catch {
            await connection.close()
            throw RedisError(.connectionFailed, "\(master) (master '\(configuration.masterName)' per the sentinels) did not answer ROLE: \(error)")
        }
        guard role == "master" else {
            await connection.close()
            throw RedisError(
                .connectionFailed,
                "the sentinels name \(master) master of '\(configuration.masterName)' but it reports role \(role ?? "unknown"); a failover is under way, retry")
        }
        return connection
    }

    /// The master's address according to the first sentinel that knows it.
    func masterAddress() async throws(RedisError) -> ClusterTopology.Node {
        var failures: [String] = []
        for sentinel in order.withLock({ $0 }) {
            var sentinelConfiguration = RedisConfiguration(
                host: sentinel.host, port: sentinel.port, username: configuration.sentinelUsername, password: configuration.sentinelPassword,
                connectTimeout: configuration.node.connectTimeout, commandTimeout: configuration.node.connectTimeout,
                tls: configuration.sentinelTLS)
            sentinelConfiguration.database = 0
            do {
                let connection = try await RedisConnection.connect(sentinelConfiguration)
                let reply = try await connection.send("SENTINEL", "GET-MASTER-ADDR-BY-NAME", configuration.masterName)
                await connection.close()
                let parts = try reply.array()
                guard parts.count == 2, let port = Int(try parts[1].string()) else {
                    failures.append("\(sentinel): does not know master '\(configuration.masterName)'")
                    continue
                }
                order.withLock { sentinels in
                    sentinels.removeAll { $0 == sentinel }
                    sentinels.insert(sentinel, at: 0)
                }
                return ClusterTopology.Node(host: try parts[0].string(), port: port)
            } catch let error as RedisError {
                failures.append("\(sentinel): \(error.message)")
            } catch {
                failures.append("\(sentinel): \(error)")
            }
        }
        throw RedisError(
            .connectionFailed, "no sentinel told where master '\(configuration.masterName)' is: \(failures.joined(separator: "; "))")
    }
}
