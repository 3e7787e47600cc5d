import ServiceLifecycle

extension MemorySystem: Service {
    /// Runs until graceful shutdown (or cancellation), then closes the adapters it made (see `close()`).
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
