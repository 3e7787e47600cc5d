import Dispatch
import Logging

/// One connection to Redis: a hiredis async context driven from its own serial Dispatch queue.
///
/// Any number of tasks may `send` concurrently; commands are pipelined on the socket and each caller gets
/// its own reply. Commands appended in the same queue turn leave in one `write`.
///
/// **Two ways to await.** The plain path works from any task: the command goes to the connection's queue
/// and the reply resumes the caller on the global executor. A caller that has had the connection to itself
/// for a few round trips appends and writes its command from its own thread (inside `DispatchQueue.sync`,
/// never from a connection's queue), which saves waking a queue thread, and waits a moment for the reply there
/// (`RedisConfiguration.inlineReplyWait`, 200 µs by default), as a synchronous client does; under concurrency, commands
/// appended in one queue turn share one write instead. The fast path runs the caller on the connection's
/// own executor — `withExecutor { ... }` or `Task(executorPreference: connection.executor)` — so commands
/// are appended without a hop and replies resume the caller inline, right after the read event that parsed
/// them: less CPU per command under load; at one caller it is no faster than the plain path (see the README's
/// table). On the fast path your code runs on the connection's I/O thread: do no blocking work there (file
/// I/O, locks held long, `DispatchQueue.sync`, heavy computation), or every caller of this connection waits.
///
/// **Cancellation.** A task cancelled before its command is handed to the connection gets
/// `CancellationError` and nothing is sent. Once handed over, the command is on its way to the server
/// and its reply is awaited (the server may execute it whatever the caller does).
///
/// **Errors.** `send` throws `RedisError` (`serverError` for an error reply). When the server or the OS
/// closes the socket, or the command timeout passes, every in-flight call fails exactly once and later
/// calls fail at once with the same reason.
///
/// Pub/Sub and MONITOR are refused (`invalidArgument`): they break the one-reply-per-request model.
///
/// **Sharing one connection between tasks.** Commands from several tasks interleave on the connection, so a
/// command that blocks (`BLPOP`, `XREAD ... BLOCK`, `WAIT`) makes every other task wait behind it (and a block
/// longer than the command timeout closes the connection under all of them), and a command that changes the
/// connection's state (`MULTI`/`EXEC`, `WATCH`, `SELECT`, `CLIENT REPLY`, `CLIENT SETNAME`) applies to the
/// other tasks' commands too. The connection does not refuse them (it may be yours alone); the pool's shared
/// `send` and `pipeline` do, and `RedisConnectionPool.withConnection` gives a connection to one caller.
///
/// Logging (`Logger` passed in): `debug` for ready/closed, `info` for a connection lost, `warning` for a
/// command timeout; metadata keys `redis.endpoint`, `redis.error`, `redis.in_flight`. Never a password.
public final class RedisConnection: Sendable {
    let core: ConnectionCore

    private init(core: ConnectionCore) {
        self.core = core
    }

    /// Opens a connection and completes the handshake (AUTH, SELECT, CLIENT SETNAME, or PING when none)
    /// within `configuration.connectTimeout`.
    public static func connect(
        _ configuration: RedisConfiguration,
        logger: Logger = Logger(label: "axon.redis"),
        telemetry: Telemetry = Telemetry()
    ) async throws(RedisError) -> RedisConnection {
        try configuration.validate()
        let core = ConnectionCore(configuration: configuration, logger: logger, telemetry: telemetry)
        do {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                core.queue.async { core.start(continuation) }
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connectionFailed, "could not connect to \(configuration.endpoint): \(error)")
        }
        return RedisConnection(core: core)
    }

    /// The server address, for messages and logs.
    public var endpoint: String { core.endpoint }

    /// The executor of the fast path: tasks preferring it run on this connection's I/O queue.
    public var executor: any TaskExecutor { core.executor }

    /// Commands sent and not yet answered (an instantaneous reading, for load balancing).
    public var inFlightCount: Int { core.gauge.current }

    /// Whether the socket is busy moving a large request or reply (64 KiB or more): a small command sent now would
    /// wait behind it. The pool routes around such a connection.
    public var isMovingLargeValue: Bool { core.gauge.isMovingLargeValue }

    /// Whether the connection has closed (by `close()`, the server, the OS or a timeout). It never reopens.
    public var isClosed: Bool { core.gauge.isClosed }

    /// Runs `body` on this connection's executor (the fast path; see the type's documentation for its limits).
    /// Child tasks created inside inherit the preference.
    public func withExecutor<T: Sendable>(
        _ body: (RedisConnection) async throws -> T
    ) async rethrows -> T {
        try await withTaskExecutorPreference(core.executor) { try await body(self) }
    }

    /// Sends one command and returns its reply; an error reply throws `RedisError` with code `serverError`.
    /// With metrics or tracing set up (`Telemetry`), the command is timed and wrapped in a span.
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        guard let observer = core.observer else { return try await rawSend(command) }
        return try await observer.observe(command.name) { try await rawSend(command) }
    }

    @inline(__always)
    private func rawSend(_ command: RedisCommand) async throws -> RedisReply {
        try Task.checkCancellation()
        let core = self.core
        return try await withUnsafeThrowingContinuation { continuation in
            let current = ConnectionTaskExecutor.currentQueueNumber
            if current == core.executor.number {
                core.submit(command, continuation)
            } else if current == nil && core.gauge.isAlone {
                // One caller at a time: nothing to batch with, so append and write from this thread. Never from
                // another connection's queue: two fast paths sending to each other's connection would deadlock.
                // Then, if this task also sent the previous command, wait a moment for the reply here, as a synchronous
                // client would: read on this thread, the continuation is resumed before this closure returns and the
                // task goes on without a hop.
                core.sendInline(command, continuation, caller: withUnsafeCurrentTask { $0?.hashValue ?? 0 })
            } else {
                core.queue.async { core.submit(command, continuation) }
            }
        }
    }

    /// Sends `name` with `arguments` (bytes, strings, integers, doubles).
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisReply {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends every command in one write and returns all replies in order. Error replies are returned as
    /// `.error` elements (they do not fail the others); a connection failure throws for the whole pipeline.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        guard let observer = core.observer else { return try await rawPipeline(commands) }
        return try await observer.observe("PIPELINE", batch: commands.count) { try await rawPipeline(commands) }
    }

    @inline(__always)
    private func rawPipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        try Task.checkCancellation()
        let core = self.core
        return try await withUnsafeThrowingContinuation { continuation in
            let current = ConnectionTaskExecutor.currentQueueNumber
            if current == core.executor.number {
                core.submit(commands, continuation)
            } else if current == nil && core.gauge.isAlone {
                // As for `send`: append, write and wait for the replies on this thread.
                core.sendInline(commands, continuation, caller: withUnsafeCurrentTask { $0?.hashValue ?? 0 })
            } else {
                core.queue.async { core.submit(commands, continuation) }
            }
        }
    }

    /// Stops accepting commands, waits for the replies in flight (at most the command timeout, after which they
    /// fail), then closes the socket.
    public func close() async {
        let core = self.core
        await withUnsafeContinuation { continuation in
            core.queue.async { core.close(continuation) }
        }
    }

    deinit {
        let core = self.core
        core.queue.async { core.dropped() }
    }
}
