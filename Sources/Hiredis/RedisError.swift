/// A failure talking to Redis: a code to match on and a message that says what happened and what to do.
///
/// Messages name the server (`host:port` or socket path) where one is involved and never contain a password.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; compare with `==` against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// Nothing listens at the address (TCP RST or missing socket file).
        public static let connectionRefused = Code("connectionRefused")
        /// The connection could not be opened for another reason (DNS, unreachable host, out of descriptors).
        public static let connectionFailed = Code("connectionFailed")
        /// The connection, including its handshake, did not complete within the connect timeout.
        public static let connectTimeout = Code("connectTimeout")
        /// The oldest in-flight command got no reply within the command timeout; the connection was closed.
        public static let commandTimeout = Code("commandTimeout")
        /// The connection is closed (by the server, the OS, or `close()`); the message carries the reason.
        public static let connectionClosed = Code("connectionClosed")
        /// AUTH was rejected, or the server demands a password that was not configured.
        public static let authenticationFailed = Code("authenticationFailed")
        /// A TLS handshake failed: the peer does not speak TLS, wants a client certificate, or shares no protocol.
        public static let tlsHandshakeFailed = Code("tlsHandshakeFailed")
        /// The server's TLS certificate failed verification (unknown CA, expired, wrong name).
        public static let certificateRejected = Code("certificateRejected")
        /// Redis answered with an error reply (`WRONGTYPE`, `OOM`, `NOSCRIPT`, ...).
        public static let serverError = Code("serverError")
        /// The byte stream from the server could not be parsed.
        public static let protocolError = Code("protocolError")
        /// A reply had another type than the accessor asked for.
        public static let unexpectedReply = Code("unexpectedReply")
        /// The caller passed something that cannot be sent or configured.
        public static let invalidArgument = Code("invalidArgument")
        /// No connection of a pool became free within the lease timeout.
        public static let poolExhausted = Code("poolExhausted")
        /// The pool is closed or closing.
        public static let poolClosed = Code("poolClosed")
        /// On a cluster: the command's keys hash to different slots, so no node can run it (refused before it
        /// is sent). Give related keys one hash tag (`{user42}:a`, `{user42}:b`).
        public static let crossSlot = Code("crossSlot")
        /// On a cluster: no node serves the key's slot, or redirects and retries ran out.
        public static let clusterUnavailable = Code("clusterUnavailable")

        public var description: String { raw }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation, with the address and the server's or OS's reason where known.
    public let message: String

    /// Set on the error of a command that failed before it was written because its connection had closed (the code
    /// says why it closed: `connectionClosed`, `commandTimeout`, ...): the server never saw it, so it may be sent on
    /// another connection (the pool does). Not part of equality.
    var commandNotSent = false

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// This error, marked as failing a command that was never written (`commandNotSent`).
    func markedUnsent() -> RedisError {
        var copy = self
        copy.commandNotSent = true
        return copy
    }

    public static func == (lhs: RedisError, rhs: RedisError) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }

    /// For `serverError`: the first word of Redis' message (`WRONGTYPE`, `NOSCRIPT`, `ERR`), else `nil`.
    public var serverErrorPrefix: String? {
        guard code == .serverError else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String { "RedisError.\(code): \(message)" }
}

extension RedisError {
    static func server(_ message: String) -> RedisError { RedisError(.serverError, message) }
}
