import CHiredis
import COpenSSL
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The transport of a TLS connection: a non-blocking TCP socket, an OpenSSL session on it, and hiredis' reply reader
/// (`redisReader`), driven by Dispatch sources on the connection's queue. It does for `ConnectionCore` what the
/// hiredis async context and `DispatchEventAdapter` do for plaintext: bytes appended are written in one flush per
/// queue turn, replies are parsed as they arrive and handed over one by one, in order.
///
/// hiredis 0.14 cannot put TLS under its async context, so commands are already encoded by `RedisCommand` and only
/// the reader is hiredis'. Each source watches a `dup()` of the socket of its own, closed in its cancel handler (see
/// `DispatchEventAdapter` for why).
///
/// `@unchecked Sendable`: every property is used only on `queue`.
final class TLSStream: @unchecked Sendable {
    private enum Phase { case connecting, handshaking, open, closed }

    private let queue: DispatchQueue
    private let settings: RedisTLSConfiguration
    private let host: String
    private let port: Int
    private let endpoint: String
    private var phase = Phase.connecting
    private var heardFromServer = false
    /// Replies handed over so far: a TLS error before the first one is the handshake's (TLS 1.3 reports a refused
    /// client certificate only then).
    private var delivered = 0
    /// Whether the TLS handshake is under way and the server has not answered it at all: what a plaintext Redis port
    /// does (it waits for a command line), so a connect timeout then names that likely cause.
    var handshakeUnanswered: Bool { phase == .handshaking && !heardFromServer }
    private var fd: Int32 = -1
    private var ssl: OpaquePointer?
    private var reader: UnsafeMutablePointer<redisReader>?
    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    private var readActive = false
    private var writeActive = false
    private let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: TLSStream.readChunk, alignment: 16)
    private static let readChunk = 16 * 1024

    private var output: [UInt8] = []
    private var written = 0
    /// The length of an `SSL_write` that asked to be retried: OpenSSL wants the retry to carry the same bytes.
    private var retryLength: Int?
    private var flushScheduled = false
    private var writeWaitsForRead = false
    private var readWaitsForWrite = false
    /// Set while a caller appends on its own thread and flushes itself afterwards (`flushIfPending`).
    var callerFlushes = false

    /// Replies are being handed over: a close requested meanwhile waits until that loop ends.
    private var delivering = false
    private var closeRequested: RedisError?

    /// Receives each parsed reply (freed after the call returns).
    var onReply: (UnsafeMutablePointer<redisReply>) -> Void = { _ in }
    /// Called once when the stream has closed, with why; no reply follows.
    var onClosed: (RedisError) -> Void = { _ in }
    /// Wraps the handling of a read event (the connection's executor runs the jobs it resumes inline after it).
    var aroundRead: (() -> Void) -> Void = { $0() }

    /// Bytes of a reply received but not yet complete (for `ConnectionGauge.isMovingLargeValue`).
    var bufferedReplyBytes: Int { reader.map { $0.pointee.len - $0.pointee.pos } ?? 0 }

    init(queue: DispatchQueue, settings: RedisTLSConfiguration, host: String, port: Int, endpoint: String) {
        self.queue = queue
        self.settings = settings
        self.host = host
        self.port = port
        self.endpoint = endpoint
    }

    deinit {
        readBuffer.deallocate()
        if let reader { redisReaderFree(reader) }
        if let ssl { SSL_free(ssl) }
    }

    /// Prepares the session and starts the TCP connect; the handshake follows by itself. Errors that need no
    /// network (unreadable certificate files, an unresolvable host, out of descriptors) are thrown here.
    func start() throws(RedisError) {
        let context = try TLSContextFactory.make(settings)
        defer { SSL_CTX_free(context) }
        guard let session = SSL_new(context), let parser = redisReaderCreate() else {
            throw RedisError(.connectionFailed, "could not allocate a TLS session for \(endpoint)")
        }
        ssl = session
        reader = parser
        _ = axon_ssl_set_write_modes(session)
        // Read whatever the socket holds in one read() instead of a record header and then its body.
        SSL_set_read_ahead(session, 1)
        try TLSContextFactory.configurePeer(session, settings: settings, host: host)
        fd = try openSocket()
        SSL_set_fd(session, fd)
        SSL_set_connect_state(session)
        let readFD = dup(fd)
        let writeFD = dup(fd)
        guard readFD >= 0, writeFD >= 0 else {
            if readFD >= 0 { Glibc.close(readFD) }
            if writeFD >= 0 { Glibc.close(writeFD) }
            Glibc.close(fd)
            fd = -1
            throw RedisError(.connectionFailed, "out of file descriptors while connecting to \(endpoint)")
        }
        let read = DispatchSource.makeReadSource(fileDescriptor: readFD, queue: queue)
        let write = DispatchSource.makeWriteSource(fileDescriptor: writeFD, queue: queue)
        read.setEventHandler { self.readable() }
        write.setEventHandler { self.writable() }
        read.setCancelHandler { Glibc.close(readFD) }
        write.setCancelHandler { Glibc.close(writeFD) }
        readSource = read
        writeSource = write
        setWrite(true)   // writable: the TCP connect finished (or failed)
    }

    /// A non-blocking socket connecting to the first address of `host` that accepts a connect attempt.
    private func openSocket() throws(RedisError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw RedisError(.connectionFailed, "could not resolve \(host) for \(endpoint): \(reason)")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let socketFD = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard socketFD >= 0 else {
                lastError = errno
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if connect(socketFD, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 || errno == EINPROGRESS {
                return socketFD
            }
            lastError = errno
            Glibc.close(socketFD)
        }
        throw Self.connectError(lastError, endpoint: endpoint)
    }

    private static func connectError(_ code: Int32, endpoint: String) -> RedisError {
        let reason = String(cString: strerror(code))
        if code == ECONNREFUSED {
            return RedisError(.connectionRefused, "connection refused by \(endpoint) (\(reason)); is redis-server running there?")
        }
        return RedisError(.connectionFailed, "could not connect to \(endpoint): \(reason)")
    }

    // MARK: Events

    private func readable() {
        switch phase {
        case .handshaking:
            heardFromServer = true
            handshake()
        case .open: readAvailable()
        case .connecting, .closed: break
        }
    }

    private func writable() {
        switch phase {
        case .connecting: connected()
        case .handshaking: handshake()
        case .open:
            flush()
            if readWaitsForWrite {
                readWaitsForWrite = false
                readAvailable()
            }
        case .closed: break
        }
    }

    /// The TCP connect finished: check how, then start the TLS handshake.
    private func connected() {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
        guard code == 0 else { return close(Self.connectError(code, endpoint: endpoint)) }
        phase = .handshaking
        handshake()
    }

    private func handshake() {
        guard let ssl else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            phase = .open
            setWrite(false)
            setRead(true)
            flush()
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            setWrite(false)
            setRead(true)
        case SSL_ERROR_WANT_WRITE:
            setWrite(true)
        case let code:
            close(handshakeError(code))
        }
    }

    /// Why the handshake failed, in words: the certificate check, a peer that does not speak TLS, or OpenSSL's reason.
    private func handshakeError(_ code: Int32) -> RedisError {
        let reasons = Self.drainErrors()
        if let ssl {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, settings.verification == .full {
                let why = String(cString: X509_verify_cert_error_string(verify))
                return RedisError(
                    .certificateRejected,
                    "the TLS certificate of \(endpoint) was rejected: \(why) (checked against \(settings.caFile ?? settings.caDirectory ?? "the system's CAs") for server name '\(settings.serverName ?? host)')")
            }
        }
        if reasons.contains(where: { $0.contains("wrong version number") || $0.contains("packet length too long") || $0.contains("record layer failure") }) {
            return RedisError(
                .tlsHandshakeFailed,
                "TLS handshake with \(endpoint) failed (\(reasons.joined(separator: "; "))): the port does not seem to speak TLS; for a plaintext port use redis://")
        }
        if code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN || reasons.isEmpty {
            let detail = reasons.isEmpty ? (errno == 0 ? "the server closed the connection" : String(cString: strerror(errno))) : reasons.joined(separator: "; ")
            return RedisError(
                .tlsHandshakeFailed,
                "TLS handshake with \(endpoint) failed: \(detail) (does the server require a client certificate, or not speak TLS on this port?)")
        }
        return RedisError(.tlsHandshakeFailed, "TLS handshake with \(endpoint) failed: \(reasons.joined(separator: "; "))")
    }

    // MARK: Reading

    private func readAvailable() {
        guard let ssl, let reader else { return }
        delivering = true
        aroundRead {
            var chunks = 0
            reading: while closeRequested == nil {
                ERR_clear_error()
                let count = SSL_read(ssl, readBuffer, Int32(Self.readChunk))
                if count > 0 {
                    guard redisReaderFeed(reader, readBuffer.assumingMemoryBound(to: CChar.self), Int(count)) == REDIS_OK else {
                        closeRequested = readerError(reader)
                        break reading
                    }
                    deliver(reader)
                    // Nothing more decrypted or read ahead: the next bytes raise a new read event (saves a read()
                    // that would only say EAGAIN).
                    if Int(count) < Self.readChunk, SSL_has_pending(ssl) == 0 { break reading }
                    chunks += 1
                    // Stay fair to other queues' work on a long reply: continue in a later block (OpenSSL may hold
                    // decrypted bytes the socket no longer signals).
                    if chunks == 64 {
                        queue.async { if self.phase == .open { self.readAvailable() } }
                        break reading
                    }
                    continue
                }
                switch SSL_get_error(ssl, count) {
                case SSL_ERROR_WANT_READ:
                    break reading
                case SSL_ERROR_WANT_WRITE:
                    readWaitsForWrite = true
                    setWrite(true)
                    break reading
                case SSL_ERROR_ZERO_RETURN:
                    closeRequested = RedisError(.connectionClosed, "\(endpoint) closed the TLS connection")
                case let code:
                    let reasons = Self.drainErrors()
                    let why = reasons.isEmpty ? (code == SSL_ERROR_SYSCALL && errno != 0 ? String(cString: strerror(errno)) : "the server closed the connection") : reasons.joined(separator: "; ")
                    if delivered == 0 {
                        let hint = why.contains("certificate") ? "; the server wants a client certificate it accepts (RedisTLSConfiguration.certificateFile and keyFile)" : ""
                        closeRequested = RedisError(.tlsHandshakeFailed, "the TLS session with \(endpoint) failed before the first reply: \(why)\(hint)")
                    } else {
                        closeRequested = RedisError(.connectionClosed, "the TLS connection to \(endpoint) failed: \(why)")
                    }
                }
            }
        }
        delivering = false
        if let error = closeRequested { return close(error) }
        if writeWaitsForRead {
            writeWaitsForRead = false
            flush()
        }
    }

    private func deliver(_ reader: UnsafeMutablePointer<redisReader>) {
        while closeRequested == nil {
            var reply: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &reply) == REDIS_OK else {
                closeRequested = readerError(reader)
                return
            }
            guard let reply else { return }
            delivered += 1
            onReply(reply.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(reply)
        }
    }

    private func readerError(_ reader: UnsafeMutablePointer<redisReader>) -> RedisError {
        let reason = withUnsafeBytes(of: reader.pointee.errstr) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        return RedisError(.protocolError, "unparseable reply from \(endpoint): \(reason)")
    }

    // MARK: Writing

    /// Queues `bytes`; they leave in one write per queue turn (or when the caller flushes).
    func append(_ bytes: [UInt8]) {
        guard phase != .closed else { return }
        output.append(contentsOf: bytes)
        guard phase == .open, !writeActive, !flushScheduled else { return }
        flushScheduled = true
        if !callerFlushes { queue.async { self.flush() } }
    }

    /// Writes what was appended while `callerFlushes` was set, now.
    func flushIfPending() {
        if flushScheduled { flush() }
    }

    private func flush() {
        flushScheduled = false
        guard phase == .open, let ssl else { return }
        while written < output.count {
            let length = retryLength ?? min(output.count - written, Int(Int32.max))
            ERR_clear_error()
            let count = output.withUnsafeBytes { raw in SSL_write(ssl, raw.baseAddress.map { $0 + written }, Int32(length)) }
            if count > 0 {
                retryLength = nil
                written += Int(count)
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_WRITE:
                retryLength = length
                setWrite(true)
                return
            case SSL_ERROR_WANT_READ:
                retryLength = length
                writeWaitsForRead = true
                return
            case let code:
                let reasons = Self.drainErrors()
                let why = reasons.isEmpty ? (code == SSL_ERROR_SYSCALL && errno != 0 ? String(cString: strerror(errno)) : "the connection closed") : reasons.joined(separator: "; ")
                if delivered == 0 {
                    // With TLS 1.3 the server checks the client's certificate after the client has finished its
                    // handshake: a refusal is an alert the first read would report, but a write that meets the reset
                    // first loses it. Before any reply, say what most likely happened.
                    let certificate = settings.certificateFile == nil
                        ? "the server may require a client certificate (RedisTLSConfiguration.certificateFile and keyFile)"
                        : "the server may not trust the client certificate \(settings.certificateFile ?? "")"
                    return close(RedisError(
                        .tlsHandshakeFailed, "the TLS session with \(endpoint) failed before the first reply: writing failed: \(why); \(certificate)"))
                }
                return close(RedisError(.connectionClosed, "writing to \(endpoint) over TLS failed: \(why)"))
            }
        }
        output.removeAll(keepingCapacity: output.count <= 1 << 20)
        written = 0
        setWrite(false)
    }

    // MARK: Sources and closing

    private func setRead(_ active: Bool) {
        guard let readSource, active != readActive, phase != .closed else { return }
        readActive = active
        if active { readSource.resume() } else { readSource.suspend() }
    }

    private func setWrite(_ active: Bool) {
        guard let writeSource, active != writeActive, phase != .closed else { return }
        writeActive = active
        if active { writeSource.resume() } else { writeSource.suspend() }
    }

    /// Closes at once (after the reply loop, if one is running) and reports `error` through `onClosed`.
    func close(_ error: RedisError) {
        guard phase != .closed else { return }
        if delivering {
            if closeRequested == nil { closeRequested = error }
            return
        }
        if phase == .open, let ssl {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)   // best effort close_notify; the socket closes regardless
            ERR_clear_error()
        }
        phase = .closed
        for source in [readSource as (any DispatchSourceProtocol)?, writeSource] { source?.cancel() }
        // A suspended or never-activated source must be resumed for its cancel handler to run and before release.
        if !readActive { readSource?.resume() }
        if !writeActive { writeSource?.resume() }
        readSource = nil
        writeSource = nil
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
        onClosed(error)
        onReply = { _ in }
        onClosed = { _ in }
    }

    /// OpenSSL's queued error reasons, oldest first, and clears them.
    static func drainErrors() -> [String] {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return reasons
    }
}
