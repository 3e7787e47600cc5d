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
        String(self).withRedisBytes(body)
    }
}

extension Int: RedisArgument {}
extension Int64: RedisArgument {}
extension Int32: RedisArgument {}
extension UInt: RedisArgument {}
extension UInt64: RedisArgument {}
extension UInt32: RedisArgument {}

extension Double: RedisArgument {
    /// The shortest decimal that round-trips (`1.5`, `1e-05`, `inf`, `-inf`), which Redis parses exactly.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        description.withRedisBytes(body)
    }
}
