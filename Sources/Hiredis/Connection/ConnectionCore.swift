import CAxonIO
import CHiredis
import DequeModule
import Dispatch
import Logging

/// The state behind a `RedisConnection`: one hiredis async context and what waits on it.
///
/// `@unchecked Sendable`: every stored property is read and written only on `queue`, and every hiredis call
/// happens there. hiredis holds `self` unretained in `context.data`; the event adapter's sources retain `self`
/// through their handlers until hiredis' cleanup hook cancels them, so `self` outlives the context.
final class ConnectionCore: @unchecked Sendable {
    enum State { case connecting, ready, closing, closed }

    /// What to do with a reply when it arrives. Replies come strictly in request order.
    enum ReplyHandler {
        case single(UnsafeContinuation<RedisReply, any Error>)
        case pipeline(PipelineCollector)
        case handshake(HandshakeStep)
    }

    enum HandshakeStep { case auth, select, setName, ping }

    struct PendingReply {
        let handler: ReplyHandler
        /// `MonotonicClock` time when appended; 0 when there is no command timeout.
        let appendedAt: UInt64
        /// The request's size when it is large (`ConnectionGauge.largeBytes` or more), else 0.
        var largeBytes = 0
    }

    let configuration: RedisConfiguration
    let logger: Logger
    let queue: DispatchQueue
    let executor: ConnectionTaskExecutor
    let endpoint: String

    private var state = State.connecting
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var adapter: DispatchEventAdapter?
    /// The transport of a TLS connection, instead of `context` and `adapter` (see `TLSStream`).
    private var tls: TLSStream?
    /// A TLS connection closing gracefully: closes once the last in-flight reply has arrived.
    private var closeWhenDrained = false
    private var pending = Deque<PendingReply>()
    /// Why the connection is closing or closed; what later sends and orphaned replies fail with.
    private var closingError: RedisError?
    private var connectContinuation: UnsafeContinuation<Void, any Error>?
    private var closeWaiters: [UnsafeContinuation<Void, Never>] = []
    private var connectTimer: (any DispatchSourceTimer)?
    private var commandTimer: (any DispatchSourceTimer)?
    private var commandTimerArmed = false
    private let commandTimeoutNanoseconds: UInt64?
    /// Commands appended and not yet answered, readable from any thread (for a pool's load balancing).
    let gauge: ConnectionGauge
    /// Replies delivered during the current read event.
    private var repliesThisRead = 0
    /// Calls (a command, or a whole pipeline) answered completely during the current read event.
    private var callsAnsweredThisRead = 0
    /// Consecutive read events that answered the only command in flight.
    private var aloneStreak = 0
    /// How many such read events in a row let a caller write from its own thread (`ConnectionGauge.isAlone`).
    private static let aloneAfter = 8
    /// `RedisConfiguration.inlineReplyWait` in microseconds (0: callers never wait on their own thread).
    let inlineWaitMicroseconds: Int32
    /// Commands that will not wait inline, after a wait that timed out (the server is slower than the budget).
    private var inlineSkips = 0
    /// Replies read by callers waiting on their own thread (for tests).
    private(set) var repliesReadInline = 0
    /// `MonotonicClock` time of the last inline wait that got every reply.
    private var lastInlineReply: UInt64 = 0
    /// The task that last wrote from its own thread (`sendInline`'s `caller`).
    private var lastCaller = 0

    /// Times commands and wraps them in spans; `nil` when no metrics or tracing is set up (then free).
    let observer: CommandObserver?

    init(configuration: RedisConfiguration, logger: Logger, telemetry: Telemetry = .off) {
        self.configuration = configuration
        self.logger = logger
        observer = CommandObserver(telemetry: telemetry, endpoint: configuration.endpoint)
        self.endpoint = configuration.endpoint.description
        queue = DispatchQueue(label: "axon.redis.connection")
        executor = ConnectionTaskExecutor(queue: queue)
        commandTimeoutNanoseconds = configuration.commandTimeout.map { $0.nanoseconds }
        gauge = ConnectionGauge()
        let wait = configuration.inlineReplyWait.nanoseconds / 1000
        inlineWaitMicroseconds = configuration.tls == nil ? Int32(clamping: min(wait, 999_999)) : 0
    }

    // MARK: Connecting

    /// Opens the socket and runs the handshake; resumes `continuation` once, when ready or failed. On `queue`.
    func start(_ continuation: UnsafeContinuation<Void, any Error>) {
        connectContinuation = continuation
        IgnoreSIGPIPE.once()
        if let settings = configuration.tls { return startTLS(settings) }
        let created: UnsafeMutablePointer<redisAsyncContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port): created = redisAsyncConnect(host, Int32(port))
        case .unixSocket(let path): created = redisAsyncConnectUnix(path)
        }
        guard let created else {
            return finishConnect(RedisError(.connectionFailed, "could not allocate a hiredis context for \(endpoint)"))
        }
        if created.pointee.err != 0 {
            let error = connectError(code: created.pointee.err, reason: Self.reason(of: created))
            redisAsyncFree(created)
            return finishConnect(error)
        }
        guard let adapter = DispatchEventAdapter(
            fd: created.pointee.c.fd, queue: queue,
            onReadable: { self.handleReadable() },
            onWritable: { self.handleWritable() })
        else {
            redisAsyncFree(created)
            return finishConnect(RedisError(.connectionFailed, "out of file descriptors while connecting to \(endpoint)"))
        }
        context = created
        self.adapter = adapter
        created.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        adapter.onCleanup = { self.contextIsBeingFreed() }
        adapter.attach(to: created)
        startHandshake()
    }

    /// `start` for a TLS configuration: the stream connects, runs the TLS handshake, then the Redis handshake.
    private func startTLS(_ settings: RedisTLSConfiguration) {
        guard case .tcp(let host, let port) = configuration.endpoint else {
            return finishConnect(RedisError(.invalidArgument, "TLS needs a TCP endpoint, not \(endpoint)"))
        }
        if settings.verification == .insecureNoVerification {
            logger.warning("TLS certificate verification is OFF for this connection: traffic can be read and changed on the way",
                           metadata: ["redis.endpoint": "\(endpoint)"])
        }
        let stream = TLSStream(queue: queue, settings: settings, host: host, port: port, endpoint: endpoint)
        stream.onReply = { reply in self.handleReply(reply) }
        stream.onClosed = { error in self.transportClosed(error) }
        stream.aroundRead = { body in
            self.gauge.setAlone(false)
            self.repliesThisRead = 0
            self.callsAnsweredThisRead = 0
            self.executor.collectingJobs(body)
            self.gauge.setReceivingLarge((self.tls?.bufferedReplyBytes ?? 0) >= ConnectionGauge.largeBytes)
            self.updateAloneStreak()
        }
        do {
            try stream.start()
        } catch {
            return finishConnect(error)
        }
        tls = stream
        startHandshake()
    }

    /// Arms the connect timer and appends the handshake commands (they leave once the socket is ready).
    private func startHandshake() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { self.connectTimedOut() }
        timer.schedule(deadline: .now() + configuration.connectTimeout.dispatchInterval)
        timer.resume()
        connectTimer = timer

        for (step, command) in handshakeCommands() where !append(command, .handshake(step)) {
            return abort(unavailableError())
        }
    }

    private func handshakeCommands() -> [(HandshakeStep, RedisCommand)] {
        var commands: [(HandshakeStep, RedisCommand)] = []
        if let password = configuration.password {
            if let username = configuration.username {
                commands.append((.auth, RedisCommand("AUTH", username, password)))
            } else {
                commands.append((.auth, RedisCommand("AUTH", password)))
            }
        }
        if configuration.database != 0 { commands.append((.select, RedisCommand("SELECT", configuration.database))) }
        if let name = configuration.clientName { commands.append((.setName, RedisCommand("CLIENT", "SETNAME", name))) }
        // Always one round trip, so a listener that is not a Redis server fails within the connect timeout.
        if commands.isEmpty { commands.append((.ping, RedisCommand("PING"))) }
        return commands
    }

    private func handshakeReply(_ step: HandshakeStep, _ reply: RedisReply) {
        guard state == .connecting else { return }
        if case .error(let message) = reply {
            let error: RedisError
            if message.hasPrefix("NOAUTH") {
                error = RedisError(.authenticationFailed, "\(endpoint) requires a password and none is configured: \(message)")
            } else {
                switch step {
                case .auth:
                    let who = configuration.username.map { "user '\($0)'" } ?? "the default user"
                    error = RedisError(.authenticationFailed, "AUTH as \(who) rejected by \(endpoint): \(message)")
                case .select:
                    error = RedisError(.invalidArgument, "SELECT \(configuration.database) failed on \(endpoint): \(message)")
                case .setName:
                    error = RedisError(.invalidArgument, "CLIENT SETNAME failed on \(endpoint): \(message)")
                case .ping:
                    error = RedisError(.serverError, "PING failed on \(endpoint): \(message)")
                }
            }
            return abort(error)
        }
        if pending.isEmpty {
            state = .ready
            adapter?.deferWrites = true
            connectTimer?.cancel()
            connectTimer = nil
            logger.debug("redis connection ready", metadata: ["redis.endpoint": "\(endpoint)"])
            finishConnect(nil)
        }
    }

    private func connectTimedOut() {
        guard state == .connecting else { return }
        if let tls, tls.handshakeUnanswered {
            return abort(RedisError(
                .tlsHandshakeFailed,
                "the TLS handshake with \(endpoint) got no answer within \(configuration.connectTimeout): is it a plaintext port? (use redis:// for one)"))
        }
        abort(RedisError(
            .connectTimeout,
            "could not connect to \(endpoint) and complete the handshake within \(configuration.connectTimeout); is the server up and reachable?"))
    }

    private func finishConnect(_ error: RedisError?) {
        guard let continuation = connectContinuation else { return }
        connectContinuation = nil
        if let error {
            if context == nil && tls == nil {
                state = .closed
                gauge.markClosed()
            }
            continuation.resume(throwing: error)
        } else {
            continuation.resume()
        }
    }

    // MARK: Sending

    /// Appends one command; the reply (or failure) reaches `continuation` exactly once. On `queue`.
    func submit(_ command: RedisCommand, _ continuation: UnsafeContinuation<RedisReply, any Error>) {
        adapter?.resumeReads()
        append(command, continuation)
    }

    /// Appends every command; the replies reach `continuation` together, in order, exactly once. On `queue`.
    func submit(_ commands: [RedisCommand], _ continuation: UnsafeContinuation<[RedisReply], any Error>) {
        adapter?.resumeReads()
        append(commands, continuation)
    }

    /// `submit`, then the write, both on the calling thread: for a caller inside `queue.sync` when nothing is in
    /// flight (no other command to share a write with), which saves waking a queue thread for the write.
    ///
    /// Returns the socket to wait on when the caller may wait for the reply on its own thread (then it calls
    /// `finishInlineWait` after each wait, inside `queue.sync` again), else -1: the reply arrives through the read
    /// source. While the caller waits, the read source is paused, so the reply wakes no Dispatch thread; it stays
    /// paused while the connection idles after the caller's read (see `RedisConfiguration.inlineReplyWait`).
    private func submitAndWrite(_ command: RedisCommand, _ continuation: UnsafeContinuation<RedisReply, any Error>, caller: Int) -> Int32 {
        appendAndWrite(caller: caller) { append(command, continuation) }
    }

    /// `submitAndWrite` for a pipeline.
    private func submitAndWrite(_ commands: [RedisCommand], _ continuation: UnsafeContinuation<[RedisReply], any Error>, caller: Int) -> Int32 {
        appendAndWrite(caller: caller) { append(commands, continuation) }
    }

    private func appendAndWrite(caller: Int, _ appendCommands: () -> Void) -> Int32 {
        if let tls {
            tls.callerFlushes = true
            appendCommands()
            tls.callerFlushes = false
            tls.flushIfPending()
            return -1
        }
        guard let adapter, let context, state == .ready else {
            appendCommands()  // fails: not ready
            return -1
        }
        let fd = context.pointee.c.fd
        var inline = inlineWaitMicroseconds > 0 && pending.isEmpty && caller == lastCaller
        lastCaller = caller
        if inline && inlineSkips > 0 {
            inlineSkips -= 1
            inline = false
        }
        if adapter.readsPaused, pending.isEmpty, MonotonicClock.coarseNanoseconds() &- lastInlineReply >= 1_000_000,
           axon_wait_readable(fd, 0) != 0 {
            // Readable with nothing in flight: the server closed the idle connection (or the socket failed). Let
            // hiredis read it, as the source would have; if it closed, the append fails with an error that says the
            // command was not sent, so a pool may send it elsewhere. Not checked within a clock tick (1–4 ms) of the
            // last reply: back-to-back commands skip the system call (a close in that instant fails the next command
            // with `connectionClosed`, as it would on any client).
            adapter.resumeReads()
            handleReadable()
        }
        if inline { adapter.pauseReads() } else { adapter.resumeReads() }
        adapter.callerFlushes = true
        appendCommands()
        adapter.callerFlushes = false
        adapter.flushIfPending()
        guard inline else { return -1 }
        guard !pending.isEmpty, self.context != nil else {
            adapter.resumeReads()
            return -1
        }
        return fd
    }

    /// After a caller's wait on the socket `submitAndWrite` returned: reads what arrived (`readable`) on the calling
    /// thread, resuming continuations inline. Returns the socket again while replies are still coming, else -1. A
    /// wait that saw nothing arrive hands the replies to the read source and makes the next 16 commands skip the
    /// wait; so does another caller's command appended meanwhile. Inside `queue.sync`.
    private func finishInlineWait(readable: Bool) -> Int32 {
        guard let adapter, adapter.readsPaused else { return -1 }
        if readable, !pending.isEmpty {
            handleReadable()
            repliesReadInline &+= repliesThisRead
        }
        if pending.isEmpty {
            lastInlineReply = MonotonicClock.coarseNanoseconds()
            return -1
        }
        if readable, let context { return context.pointee.c.fd }
        adapter.resumeReads()
        if !readable { inlineSkips = 16 }
        return -1
    }

    /// A caller's wait for its replies on its own thread, outside the queue: waits on `socket` (from `submitAndWrite`;
    /// nothing when -1) up to the budget, then reads in `queue.sync`, as long as replies keep coming.
    private func waitInline(_ socket: Int32) {
        var socket = socket
        while socket >= 0 {
            let readable = axon_wait_readable(socket, inlineWaitMicroseconds) == 1
            // The non-generic `sync`: the generic one looks up metadata for its result type on every call.
            queue.sync { socket = finishInlineWait(readable: readable) }
        }
    }

    /// A lone caller's command (see `RedisConnection.send`): append and write it from the calling thread (outside
    /// every connection's queue), then wait for the reply there. `continuation` is resumed before this returns when
    /// the reply came within the wait.
    ///
    /// `caller` identifies the calling task (`withUnsafeCurrentTask`'s hash): only a task that also sent the previous
    /// command waits. Tasks of a burst that reach the connection one at a time (a busy executor runs them one after
    /// another) each look alone, but blocking a thread for one of them would hold back the next ones, whose commands
    /// would otherwise share a write: they write from their own thread without waiting, as before. (A task that
    /// reuses a finished one's memory counts as the same caller: it comes after it, so that is right too.)
    func sendInline(_ command: RedisCommand, _ continuation: UnsafeContinuation<RedisReply, any Error>, caller: Int) {
        var socket: Int32 = -1
        queue.sync { socket = submitAndWrite(command, continuation, caller: caller) }
        waitInline(socket)
    }

    /// `sendInline` for a pipeline.
    func sendInline(_ commands: [RedisCommand], _ continuation: UnsafeContinuation<[RedisReply], any Error>, caller: Int) {
        var socket: Int32 = -1
        queue.sync { socket = submitAndWrite(commands, continuation, caller: caller) }
        waitInline(socket)
    }

    private func append(_ command: RedisCommand, _ continuation: UnsafeContinuation<RedisReply, any Error>) {
        if let reason = command.unsupportedReason {
            return continuation.resume(throwing: RedisError(.invalidArgument, reason))
        }
        guard state == .ready else { return continuation.resume(throwing: unavailableError().markedUnsent()) }
        _ = append(command, .single(continuation))
    }

    private func append(_ commands: [RedisCommand], _ continuation: UnsafeContinuation<[RedisReply], any Error>) {
        if commands.isEmpty { return continuation.resume(returning: []) }
        if let reason = commands.lazy.compactMap(\.unsupportedReason).first {
            return continuation.resume(throwing: RedisError(.invalidArgument, reason))
        }
        guard state == .ready else { return continuation.resume(throwing: unavailableError().markedUnsent()) }
        let collector = PipelineCollector(count: commands.count, continuation: continuation)
        for (index, command) in commands.enumerated() where !append(command, .pipeline(collector)) {
            collector.fail(unavailableError(), count: commands.count - index)
            return
        }
    }

    /// Appends to hiredis' output buffer; on failure, fails `handler` and returns `false`.
    private func append(_ command: RedisCommand, _ handler: ReplyHandler) -> Bool {
        let encoded = command.encoded  // built once: it copies every argument
        if let tls {
            tls.append(encoded)
        } else {
            guard let context else {
                fail(handler, unavailableError())
                return false
            }
            let status = encoded.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    redisAsyncFormattedCommand(context, replyCallback, nil, chars.baseAddress, chars.count)
                }
            }
            guard status == REDIS_OK else {
                fail(handler, unavailableError())
                return false
            }
        }
        let now = commandTimeoutNanoseconds == nil ? 0 : MonotonicClock.coarseNanoseconds()
        var entry = PendingReply(handler: handler, appendedAt: now)
        // Only large requests touch the byte gauge: the common small command pays nothing for it.
        if encoded.count >= ConnectionGauge.largeBytes {
            entry.largeBytes = encoded.count
            gauge.addLargeRequestBytes(entry.largeBytes)
        }
        pending.append(entry)
        gauge.add(1)
        if !commandTimerArmed, state == .ready, commandTimeoutNanoseconds != nil { armCommandTimer() }
        return true
    }

    // MARK: Replies

    /// hiredis' reply callback: `reply` is `nil` when the context is going away. On `queue`.
    fileprivate func handleReply(_ reply: UnsafeMutablePointer<redisReply>?) {
        guard let entry = pending.popFirst() else { return }
        gauge.add(-1)
        if entry.largeBytes > 0 { gauge.addLargeRequestBytes(-entry.largeBytes) }
        repliesThisRead += 1
        guard let reply else {
            fail(entry.handler, closingError ?? contextError())
            return
        }
        let value = RedisReply(reply)
        switch entry.handler {
        case .single(let continuation):
            callsAnsweredThisRead += 1
            if case .error(let message) = value {
                continuation.resume(throwing: RedisError.server(message))
            } else {
                continuation.resume(returning: value)
            }
        case .pipeline(let collector):
            if collector.deliver(value) { callsAnsweredThisRead += 1 }
        case .handshake(let step):
            handshakeReply(step, value)
        }
        if closeWhenDrained, pending.isEmpty {
            closeWhenDrained = false
            tls?.close(closingError ?? RedisError(.connectionClosed, "the connection to \(endpoint) was closed by close()"))
        }
    }

    /// The TLS stream closed (by us or by the peer): every in-flight command fails, then as `contextIsBeingFreed`.
    private func transportClosed(_ error: RedisError) {
        if closingError == nil {
            closingError = error
            if state != .connecting {
                logger.info("redis connection lost", metadata: ["redis.endpoint": "\(endpoint)", "redis.error": "\(error.message)"])
            }
        }
        let failure = closingError ?? error
        while let entry = pending.popFirst() {
            gauge.add(-1)
            if entry.largeBytes > 0 { gauge.addLargeRequestBytes(-entry.largeBytes) }
            fail(entry.handler, failure)
        }
        tls = nil
        state = .closed
        gauge.markClosed()
        queue.async { self.finish() }
    }

    private func fail(_ handler: ReplyHandler, _ error: RedisError) {
        switch handler {
        case .single(let continuation): continuation.resume(throwing: error)
        case .pipeline(let collector): collector.fail(error, count: 1)
        case .handshake: finishConnect(error)
        }
    }

    private func handleReadable() {
        guard let context else { return }
        // Not alone while a read event runs: a caller resumed by it appends through `async`, which the running
        // queue thread picks up without a wake-up, instead of blocking in `sync` until the event ends.
        gauge.setAlone(false)
        repliesThisRead = 0
        callsAnsweredThisRead = 0
        executor.collectingJobs {
            redisAsyncHandleRead(context)
            // hiredis reads 16 KiB per call: while a large reply is partly here, read on in this event (up to
            // 4 MiB) instead of waiting for one read event per 16 KiB. A read that finds nothing stops it.
            var rounds = 0
            while rounds < 256, self.context != nil, let reader = context.pointee.c.reader,
                  reader.pointee.len - reader.pointee.pos >= 16 * 1024 {
                let before = reader.pointee.len
                redisAsyncHandleRead(context)
                guard self.context != nil, let after = context.pointee.c.reader, after.pointee.len != before else { break }
                rounds += 1
            }
        }
        if self.context != nil, let reader = context.pointee.c.reader {
            gauge.setReceivingLarge(reader.pointee.len - reader.pointee.pos >= ConnectionGauge.largeBytes)
        }
        updateAloneStreak()
    }

    /// After a read event: one caller at a time for a while (not a lull between bursts of many callers) when each
    /// read answered one call (a command or a whole pipeline) and left nothing in flight. A read that found nothing
    /// (a caller waiting inline read it) or only part of a pipeline's replies changes nothing.
    private func updateAloneStreak() {
        if callsAnsweredThisRead == 1 && pending.isEmpty {
            aloneStreak += 1
        } else if callsAnsweredThisRead > 0 {
            aloneStreak = 0
        }
        gauge.setAlone(aloneStreak >= Self.aloneAfter)
    }

    private func handleWritable() {
        guard let context else { return }
        redisAsyncHandleWrite(context)
        // hiredis marks the context connected on its first write event; from then on, writes are batched.
        if state == .connecting, let current = self.context, current.pointee.c.flags & REDIS_CONNECTED != 0 {
            adapter?.deferWrites = true
        }
    }

    // MARK: Timeouts

    private func armCommandTimer() {
        guard let timeout = commandTimeoutNanoseconds else { return }
        let timer: any DispatchSourceTimer
        if let existing = commandTimer {
            timer = existing
        } else {
            timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { self.checkCommandTimeout() }
            timer.resume()
            commandTimer = timer
        }
        // Checked four times per timeout: a stuck command fails between 1× and 1.25× the timeout.
        let interval = DispatchTimeInterval.nanoseconds(Int(clamping: max(timeout / 4, 1_000_000)))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(1))
        commandTimerArmed = true
    }

    private func checkCommandTimeout() {
        guard let timeout = commandTimeoutNanoseconds, state == .ready || state == .closing else { return }
        guard let oldest = pending.first else {
            commandTimer?.schedule(deadline: .distantFuture)
            commandTimerArmed = false
            return
        }
        let waited = MonotonicClock.coarseNanoseconds() &- oldest.appendedAt
        guard waited > timeout else { return }
        let error = RedisError(
            .commandTimeout,
            "no reply from \(endpoint) for \(waited / 1_000_000) ms (command timeout \(configuration.commandTimeout.map { "\($0)" } ?? "none")); the connection was closed and its \(pending.count) in-flight commands failed")
        logger.warning("redis command timeout", metadata: ["redis.endpoint": "\(endpoint)", "redis.in_flight": "\(pending.count)"])
        abort(error)
    }

    // MARK: Closing

    /// Closes now: every in-flight command fails with `error`. On `queue`.
    private func abort(_ error: RedisError) {
        if closingError == nil { closingError = error }
        finishConnect(error)
        if let tls {
            state = .closing
            return tls.close(closingError ?? error)
        }
        guard let context else { return }
        state = .closing
        redisAsyncFree(context)  // deferred by hiredis when called from a reply callback
    }

    /// Graceful close: no new commands, in-flight replies still arrive, then the socket closes. On `queue`.
    func close(_ continuation: UnsafeContinuation<Void, Never>) {
        if state == .closed { return continuation.resume() }
        closeWaiters.append(continuation)
        if closingError == nil { closingError = RedisError(.connectionClosed, "the connection to \(endpoint) was closed by close()") }
        switch state {
        case .connecting:
            abort(closingError ?? RedisError(.connectionClosed, "closed"))
        case .ready:
            state = .closing
            adapter?.resumeReads()
            if let context { redisAsyncDisconnect(context) }
            if let tls {
                if pending.isEmpty {
                    tls.close(closingError ?? RedisError(.connectionClosed, "closed"))
                } else {
                    closeWhenDrained = true
                }
            }
        case .closing, .closed:
            break
        }
    }

    /// The owning `RedisConnection` is gone without `close()`: nothing waits on replies, free at once. On `queue`.
    func dropped() {
        guard state != .closed else { return }
        abort(RedisError(.connectionClosed, "the RedisConnection to \(endpoint) was released without close()"))
    }

    /// Cleanup hook: hiredis is freeing the context (called inside the free, after every reply callback).
    private func contextIsBeingFreed() {
        if let context, closingError == nil {
            closingError = contextError(of: context)
            if state != .connecting { logger.info("redis connection lost", metadata: ["redis.endpoint": "\(endpoint)", "redis.error": "\(closingError?.message ?? "")"]) }
        }
        context = nil
        state = .closed
        gauge.markClosed()
        queue.async { self.finish() }
    }

    /// After the free: release the adapter and timers, wake `close()` callers.
    private func finish() {
        adapter = nil
        connectTimer?.cancel()
        connectTimer = nil
        commandTimer?.cancel()
        commandTimer = nil
        finishConnect(closingError ?? RedisError(.connectionClosed, "the connection to \(endpoint) closed"))
        let waiters = closeWaiters
        closeWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        logger.debug("redis connection closed", metadata: ["redis.endpoint": "\(endpoint)"])
    }

    // MARK: Errors

    private func unavailableError() -> RedisError {
        if let closingError { return closingError }
        switch state {
        case .connecting: return RedisError(.connectionClosed, "the connection to \(endpoint) is not ready yet")
        default: return RedisError(.connectionClosed, "the connection to \(endpoint) is closed")
        }
    }

    private func contextError() -> RedisError {
        guard let context else { return RedisError(.connectionClosed, "the connection to \(endpoint) closed") }
        return contextError(of: context)
    }

    private func contextError(of context: UnsafeMutablePointer<redisAsyncContext>) -> RedisError {
        let code = context.pointee.c.err
        let reason = Self.reason(of: context)
        if state == .connecting { return connectError(code: code, reason: reason) }
        switch code {
        case 0: return RedisError(.connectionClosed, "the connection to \(endpoint) was closed")
        case REDIS_ERR_EOF: return RedisError(.connectionClosed, "\(endpoint) closed the connection (\(reason))")
        case REDIS_ERR_PROTOCOL: return RedisError(.protocolError, "unparseable reply from \(endpoint): \(reason)")
        default: return RedisError(.connectionClosed, "the connection to \(endpoint) failed: \(reason)")
        }
    }

    private func connectError(code: Int32, reason: String) -> RedisError {
        if reason.lowercased().contains("refused") || reason.contains("No such file or directory") {
            return RedisError(.connectionRefused, "connection refused by \(endpoint) (\(reason)); is redis-server running there?")
        }
        // A TLS port drops a plaintext client at its first bytes.
        let hint = "; if the port expects TLS, use rediss:// (RedisConfiguration.tls)"
        if code == REDIS_ERR_EOF {
            return RedisError(.connectionClosed, "\(endpoint) closed the connection during the handshake (\(reason))\(hint)")
        }
        if reason.lowercased().contains("reset by peer") {
            return RedisError(.connectionFailed, "could not connect to \(endpoint): \(reason)\(hint)")
        }
        return RedisError(.connectionFailed, "could not connect to \(endpoint): \(reason)")
    }

    private static func reason(of context: UnsafeMutablePointer<redisAsyncContext>) -> String {
        withUnsafeBytes(of: context.pointee.c.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "no reason given" : String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// hiredis' reply callback for every command: the connection is `context.data`.
private func replyCallback(
    _ context: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?, _: UnsafeMutableRawPointer?
) {
    guard let data = context?.pointee.data else { return }
    let core = Unmanaged<ConnectionCore>.fromOpaque(data).takeUnretainedValue()
    core.handleReply(reply?.assumingMemoryBound(to: redisReply.self))
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(max(attoseconds, 0) / 1_000_000_000)
    }

    var dispatchInterval: DispatchTimeInterval { .nanoseconds(Int(clamping: nanoseconds)) }
}

