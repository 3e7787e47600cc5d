/// A value that can be one argument of a command. Redis arguments are bytes; this says which bytes.
public protocol RedisArgument: Sendable {
    /// Calls `body` with the argument's bytes (valid only during the call).
    func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void)
}

extension String: RedisArgument {
    /// The UTF-8 bytes.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var copy = self
        copy.withUTF8 { body($0) }
    }
}

extension Substring: RedisArgument {
    /// The UTF-8 bytes.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var copy = self
        copy.withUTF8 { body($0) }
    }
}

extension Array: RedisArgument where Element == UInt8 {
    /// The bytes as they are.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        withUnsafeBufferPointer { body($0) }
    }
}

extension ArraySlice: RedisArgument where Element == UInt8 {
    /// The bytes as they are.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        withUnsafeBufferPointer { body($0) }
    }
}

extension BinaryInteger where Self: RedisArgument {
    /// The decimal representation, as Redis parses integers.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if let value = Int64(exactly: self) {
            DecimalDigits.with(negative: value < 0, magnitude: value.magnitude, body)
        } else if let value = UInt64(exactly: self) {
            DecimalDigits.with(negative: false, magnitude: value, body)
        } else {
            String(self).withRedisBytes(body)
        }
    }
}

extension Int: RedisArgument {
    /// The decimal representation, as Redis parses integers.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        DecimalDigits.with(negative: self < 0, magnitude: UInt64(magnitude), body)
    }
}

extension Int64: RedisArgument {
    /// The decimal representation, as Redis parses integers.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        DecimalDigits.with(negative: self < 0, magnitude: magnitude, body)
    }
}

extension Int32: RedisArgument {}
extension UInt: RedisArgument {}
extension UInt64: RedisArgument {}
extension UInt32: RedisArgument {}

/// An integer's decimal digits written into a buffer on the stack: every command carries a few integers (counts,
/// lengths, milliseconds), and making a `String` of each showed in the memory layer's profile.
enum DecimalDigits {
    @inline(__always)
    static func with(negative: Bool, magnitude: UInt64, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { buffer in  // 20 digits of UInt64.max and a sign
            var position = buffer.count
            var value = magnitude
            repeat {
                position -= 1
                buffer[position] = UInt8(truncatingIfNeeded: 48 + value % 10)
                value /= 10
            } while value != 0
            if negative {
                position -= 1
                buffer[position] = UInt8(ascii: "-")
            }
            body(UnsafeBufferPointer(rebasing: buffer[position...]))
        }
    }
}

extension Double: RedisArgument {
    /// The shortest decimal that round-trips (`1.5`, `1e-05`, `inf`, `-inf`), which Redis parses exactly.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        description.withRedisBytes(body)
    }
}
