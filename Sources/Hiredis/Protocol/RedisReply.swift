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
            guard let text = String(validUTF8: bytes) else {
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
            if let value = Self.decimal(bytes) { return value }
            throw RedisError(.unexpectedReply, "expected an integer, got a bulk string that is not a decimal integer")
        default: throw mismatch("integer")
        }
    }

    /// `bytes` as a decimal integer (an optional sign, then digits; what `Int64(String)` accepts), without building
    /// a `String`; `nil` when it is not one or does not fit.
    static func decimal(_ bytes: [UInt8]) -> Int64? {
        bytes.withUnsafeBufferPointer { digits -> Int64? in
            var index = 0
            var negative = false
            if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
                negative = first == UInt8(ascii: "-")
                index = 1
            }
            guard index < digits.count else { return nil }
            var value: Int64 = 0
            while index < digits.count {
                let digit = digits[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
                // Accumulated on the negative side, which holds Int64.min.
                let (next, overflowedAgain) = shifted.subtractingReportingOverflow(Int64(digit))
                guard !overflowed, !overflowedAgain else { return nil }
                value = next
                index += 1
            }
            if negative { return value }
            let (positive, overflowed) = Int64(0).subtractingReportingOverflow(value)
            return overflowed ? nil : positive
        }
    }

    /// A bulk string holding a floating-point number (as `INCRBYFLOAT` or `ZSCORE` return), or an integer reply.
    public func double() throws(RedisError) -> Double {
        switch self {
        case .integer(let value): return Double(value)
        case .bulk(let bytes):
            if let text = String(validUTF8: bytes), let value = Double(text) { return value }
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
