import Foundation

extension Data: RedisArgument {
    /// The bytes as they are.
    public func withRedisBytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        withUnsafeBytes { raw in body(raw.bindMemory(to: UInt8.self)) }
    }
}

extension RedisReply {
    /// A bulk reply's bytes as `Data`; `nil` for a null reply.
    public func data() throws(RedisError) -> Data? {
        try optionalBytes().map { Data($0) }
    }

    /// Decodes a bulk reply holding JSON (written with `RedisJSON.encode` or any JSON encoder); `nil` for a null
    /// reply. A malformed document is an `unexpectedReply` error naming the type.
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws(RedisError) -> T? {
        guard let bytes = try optionalBytes() else { return nil }
        do {
            return try decoder.decode(T.self, from: Data(bytes))
        } catch {
            throw RedisError(.unexpectedReply, "the reply is not a JSON \(T.self): \(error)")
        }
    }
}

/// JSON for values stored with the typed commands (`set(_:json:)`): sorted keys, so equal values give equal bytes.
public enum RedisJSON {
    /// `value` as JSON bytes; an unencodable value is an `invalidArgument` error naming the type.
    public static func encode(_ value: some Encodable, encoder: JSONEncoder = sortedEncoder) throws(RedisError) -> [UInt8] {
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw RedisError(.invalidArgument, "\(type(of: value)) could not be encoded as JSON: \(error)")
        }
    }

    /// An encoder with sorted keys.
    public static var sortedEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
