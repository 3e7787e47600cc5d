/// A command ready to send: its arguments are encoded to RESP once, when the command is built.
///
/// Arguments are bytes; `String`, integers, `Double` and `[UInt8]` are conveniences (see `RedisArgument`).
public struct RedisCommand: Sendable, Hashable {
    /// The command name as given (`"SET"`, `"evalsha"`); used for validation and error messages.
    public let name: String
    /// The number of arguments, the name included.
    public private(set) var argumentCount: Int
    /// The arguments after the name, RESP-encoded (`$len\r\nbytes\r\n` each).
    private var body: [UInt8]

    /// A command with a name and arguments.
    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments: arguments)
    }

    /// A command with a name and an array of arguments.
    public init(_ name: String, arguments: [any RedisArgument]) {
        self.name = name
        self.argumentCount = 1
        self.body = []
        body.reserveCapacity(16 + arguments.count * 16)
        for argument in arguments { append(argument) }
    }

    /// Appends one argument.
    public mutating func append(_ argument: some RedisArgument) {
        argument.withRedisBytes { bytes in Self.appendBulk(bytes, to: &body) }
        argumentCount += 1
    }

    /// Appends one argument given as an existential.
    public mutating func append(_ argument: any RedisArgument) {
        argument.withRedisBytes { bytes in Self.appendBulk(bytes, to: &body) }
        argumentCount += 1
    }

    /// Appends each argument in order.
    public mutating func append(contentsOf arguments: some Sequence<some RedisArgument>) {
        for argument in arguments { append(argument) }
    }

    /// The complete RESP request (`*N\r\n` followed by every argument).
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + name.utf8.count + 24)
        out.append(UInt8(ascii: "*"))
        Self.appendDecimal(argumentCount, to: &out)
        out.append(13)
        out.append(10)
        Self.appendBulk(name.utf8, to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// Every argument as bytes, the name first: the same command for another client (a benchmark's baseline).
    public var arguments: [[UInt8]] {
        var out: [[UInt8]] = [Array(name.utf8)]
        out.reserveCapacity(argumentCount)
        var position = body.startIndex
        while let range = nextArgument(from: &position) { out.append(Array(body[range])) }
        return out
    }

    /// The argument at `index` after the name (0 is the first), or `nil` past the end; reads only as far as it.
    package func argument(_ index: Int) -> ArraySlice<UInt8>? {
        guard index >= 0, index < argumentCount - 1 else { return nil }
        var position = body.startIndex
        var current = 0
        while let range = nextArgument(from: &position) {
            if current == index { return body[range] }
            current += 1
        }
        return nil
    }

    /// The bytes of the argument at `position` in `body` (`$len\r\nbytes\r\n`, written by `appendBulk`), moving
    /// `position` past it; `nil` at the end.
    private func nextArgument(from position: inout Int) -> Range<Int>? {
        guard position < body.endIndex else { return nil }
        var length = 0
        position += 1  // "$"
        while body[position] != 13 {
            length = length * 10 + Int(body[position] - 48)
            position += 1
        }
        position += 2  // "\r\n"
        let range = position..<position + length
        position += length + 2
        return range
    }

    /// Why hiredis' async API or our one-reply-per-request model cannot carry this command, or `nil` if it can.
    var unsupportedReason: String? {
        let length = name.utf8.count
        guard length == 0 || length == 5 || (length >= 7 && length <= 12) else { return nil }
        switch name.lowercased() {
        case "":
            return "the command name is empty"
        case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor":
            return "\(name) switches the connection to push mode; use a dedicated Pub/Sub connection"
        case "hello":
            return "HELLO is not supported: hiredis 0.14 speaks RESP2 only and the handshake is done by RedisConfiguration"
        default:
            return nil
        }
    }

    static func appendBulk(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "$"))
        appendDecimal(bytes.count, to: &out)
        out.append(13)
        out.append(10)
        out.append(contentsOf: bytes)
        out.append(13)
        out.append(10)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(truncatingIfNeeded: 48 + value))
            return
        }
        DecimalDigits.with(negative: value < 0, magnitude: UInt64(value.magnitude)) { out.append(contentsOf: $0) }
    }
}

extension RedisCommand: CustomStringConvertible {
    /// The name and argument count only: arguments may hold secrets or user data.
    public var description: String { "\(name) (\(argumentCount - 1) arguments)" }
}
