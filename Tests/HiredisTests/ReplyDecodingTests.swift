@testable import Hiredis
import Testing

@Suite("Reply decoding without a server")
struct ReplyDecodingTests {
    @Test(arguments: [
        ("0", Int64(0)), ("-0", 0), ("+5", 5), ("42", 42), ("9223372036854775807", .max), ("-9223372036854775808", .min),
    ])
    func decimalIntegers(text: String, value: Int64) throws {
        #expect(RedisReply.decimal(Array(text.utf8)) == value)
        #expect(try RedisReply.bulk(Array(text.utf8)).int() == value)
    }

    @Test(arguments: ["", "-", "+", "1a", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1.5", "٣"])
    func notDecimalIntegers(text: String) {
        #expect(RedisReply.decimal(Array(text.utf8)) == nil)
        #expect(Int64(text) == nil)  // the same answer as the standard library's parser
        #expect(throws: RedisError.self) { try RedisReply.bulk(Array(text.utf8)).int() }
    }

    @Test func validUTF8IsTextAndInvalidIsNot() {
        for text in ["", "plain", "café", "日本語", "emoji 😀 end", String(repeating: "ü", count: 300)] {
            #expect(String(validUTF8: Array(text.utf8)) == text)
        }
        let invalid: [[UInt8]] = [
            [0xFF], [0xC0, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98, 0x78], [0x61, 0xED, 0xA0, 0x80], [0x78, 0xF0, 0x9F, 0x98],
        ]
        for bytes in invalid {
            #expect(String(validUTF8: bytes) == nil, "\(bytes)")
            #expect(String(validating: bytes, as: UTF8.self) == nil)
        }
    }
}

@Suite("Cluster maps from CLUSTER SHARDS without a server")
struct ClusterShardsParsingTests {
    /// One shard owning every slot, whose master announces `port` and `tls-port` as given.
    static func shards(port: Int64, tlsPort: Int64?) -> RedisReply {
        var node: [RedisReply] = [
            .bulk(Array("ip".utf8)), .bulk(Array("127.0.0.1".utf8)), .bulk(Array("port".utf8)), .integer(port),
            .bulk(Array("role".utf8)), .bulk(Array("master".utf8)), .bulk(Array("health".utf8)), .bulk(Array("online".utf8)),
        ]
        if let tlsPort { node += [.bulk(Array("tls-port".utf8)), .integer(tlsPort)] }
        return .array([.array([
            .bulk(Array("slots".utf8)), .array([.integer(0), .integer(16383)]), .bulk(Array("nodes".utf8)), .array([.array(node)]),
        ])])
    }

    @Test func theTLSPortIsPreferredOverTLSAndAPortOfZeroIsNone() throws {
        let both = Self.shards(port: 7000, tlsPort: 17000)
        #expect(try ClusterTopology.fromShards(both, defaultHost: "h").primaries.map(\.port) == [7000])
        #expect(try ClusterTopology.fromShards(both, defaultHost: "h", tls: true).primaries.map(\.port) == [17000])
        let tlsOnly = Self.shards(port: 0, tlsPort: 17000)
        #expect(try ClusterTopology.fromShards(tlsOnly, defaultHost: "h").primaries.map(\.port) == [17000])
        let plainOnly = Self.shards(port: 7000, tlsPort: nil)
        #expect(try ClusterTopology.fromShards(plainOnly, defaultHost: "h", tls: true).primaries.map(\.port) == [7000])
    }
}
