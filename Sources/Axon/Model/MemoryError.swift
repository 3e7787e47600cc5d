import Hiredis

/// A failure of the memory layer: a code to match on and a message that says what to do.
public struct MemoryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable {
        /// Bad input: blank text, importance out of range, unknown tier, malformed import line.
        case invalidArgument
        /// A policy or configuration value out of its allowed range.
        case invalidConfiguration
        /// The tier is not configured in this `MemorySystem`.
        case tierNotConfigured
        /// The store (Redis) failed; the message carries its error.
        case storage
        /// A lock was not acquired within the caller's timeout.
        case lockNotAcquired
    }

    /// What kind of failure this is.
    public let code: Code
    /// What happened and what to do.
    public let message: String
    /// For `storage` failures from Redis: the underlying error, so that one `catch` can tell a refused
    /// connection, a timeout, OOM (`serverErrorPrefix == "OOM"`) or another server error apart.
    public let redisError: RedisError?

    /// Creates an error.
    public init(_ code: Code, _ message: String, redisError: RedisError? = nil) {
        self.code = code
        self.message = message
        self.redisError = redisError
    }

    static func invalidArgument(_ message: String) -> MemoryError { MemoryError(.invalidArgument, message) }
    static func invalidConfiguration(_ message: String) -> MemoryError { MemoryError(.invalidConfiguration, message) }
    static func storage(_ error: any Error) -> MemoryError {
        if let error = error as? MemoryError { return error }
        if let error = error as? RedisError { return MemoryError(.storage, error.message, redisError: error) }
        return MemoryError(.storage, "\(error)")
    }

    public var description: String { "MemoryError.\(code.rawValue): \(message)" }
}
