/// What the memory layer and the primitives need of a Redis client: one command, a pipeline, closing. A
/// `RedisConnectionPool` (one server), a `RedisClusterClient` (Redis Cluster) and a `RedisConnection` are clients;
/// code written against this protocol runs unchanged on each.
public protocol RedisClient: RedisCommandSender {
    /// Sends the commands in order and returns their replies in order (error replies as `.error` elements).
    func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply]
    /// Where the client sends commands, for messages (`127.0.0.1:6379`, `cluster 127.0.0.1:7000,...`).
    var endpointDescription: String { get }
    /// Closes the client's connections; later calls fail.
    func close() async
}

extension RedisConnectionPool: RedisClient {}

extension RedisConnection: RedisClient {
    /// The server's address.
    public var endpointDescription: String { endpoint }
}

extension RedisCommandSender {
    /// Sends `name` with `arguments`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisReply {
        try await send(RedisCommand(name, arguments: arguments))
    }
}
