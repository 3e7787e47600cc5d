import ServiceLifecycle

extension RedisConnectionPool: Service {
    /// Runs until graceful shutdown (or cancellation), then closes: commands in flight finish, later ones fail with
    /// `poolClosed`. Add the pool to a `ServiceGroup` to tie it to the service's lifetime.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

extension RedisClusterClient: Service {
    /// Runs until graceful shutdown (or cancellation), then closes every node's pool.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
