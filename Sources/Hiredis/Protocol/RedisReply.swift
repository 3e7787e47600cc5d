/// One RESP2 reply from Redis. Bulk strings are bytes; nothing is decoded unless an accessor asks.
public enum RedisReply: Sendable, Hashable {
    /// A simple string such as `OK` or `PONG`.
    case status(String)
    /// An error reply such as `WRONGTYPE Operation against a key holding the wrong kind of value`.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string: arbitrary bytes.
    case bulk([UInt8])
    /// The null bulk string or null array.
    case null
    /// An array (multi-bulk) reply.
    case array([RedisReply])
}

extension RedisReply {
    /// `true` for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The bytes of a bulk or status reply. Throws the server error for `.error`, `unexpectedReply` otherwise.
    public func bytes() throws(RedisError) -> [UInt8] {
        switch self {
        case .bulk(let bytes): return bytes
        case .status(let text): return Array(text.utf8)
        default: throw mismatch("bytes")
        }
    }

    /// Like `bytes()`, but `nil` for `.null`.
    public func optionalBytes() throws(RedisError) -> [UInt8]? {
        if case .null = self { return nil }
        return try bytes()
    }

    /// A bulk or status reply as UTF-8 text; invalid UTF-8 is an `unexpectedReply` error, not a lossy decode.
    public func string() throws(RedisError) -> String {
        switch self {
        case .status(let text): return text
        case .bulk(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw RedisError(.unexpectedReply, "expected UTF-8 text, got \(bytes.count) bytes that are not valid UTF-8; use bytes()")
            }
            return text
        default: throw mismatch("string")
        }
    }

    /// Like `string()`, but `nil` for `.null`.
    public func optionalString() throws(RedisError) -> String? {
        if case .null = self { return nil }
        return try string()
    }

    /// An integer reply, or a bulk string holding a decimal integer (as `GET` of a counter returns).
    public func int() throws(RedisError) -> Int64 {
        switch self {
        case .integer(let value): return value
        case .bulk(let bytes):
            if let text = String(validating: bytes, as: UTF8.self), let value = Int64(text) { return value }
            throw RedisError(.unexpectedReply, "expected an integer, got a bulk string that is not a decimal integer")
        default: throw mismatch("integer")
        }
    }

    /// A bulk string holding a floating-point number (as `INCRBYFLOAT` or `ZSCORE` return), or an integer reply.
    public func double() throws(RedisError) -> Double {
        switch self {
        case .integer(let value): return Double(value)
        case .bulk(let bytes):
            if let text = String(validating: bytes, as: UTF8.self), let value = Double(text) { return value }
            throw RedisError(.unexpectedReply, "expected a number, got a bulk string that is not one")
        default: throw mismatch("number")
        }
    }

    /// The elements of an array reply.
    public func array() throws(RedisError) -> [RedisReply] {
        if case .array(let elements) = self { return elements }
        throw mismatch("array")
    }

    /// Throws the server error if this is an `.error` reply; returns `self` otherwise.
    @discardableResult
    public func checked() throws(RedisError) -> RedisReply {
        if case .error(let message) = self { throw RedisError.server(message) }
        return self
    }

    /// A short description of the reply's type, for error messages (never its content).
    var kindDescription: String {
        switch self {
        case .status: return "status"
        case .error: return "error"
        case .integer: return "integer"
        case .bulk(let bytes): return "bulk string (\(bytes.count) bytes)"
        case .null: return "null"
        case .array(let elements): return "array (\(elements.count) elements)"
        }
    }

    private func mismatch(_ expected: String) -> RedisError {
        if case .error(let message) = self { return RedisError.server(message) }
        return RedisError(.unexpectedReply, "expected \(expected), got \(kindDescription)")
    }
}
