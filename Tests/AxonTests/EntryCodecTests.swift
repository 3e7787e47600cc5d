import Foundation
import Hiredis
import Testing

@testable import Axon

/// The entry layout decoded without a server: what the scripts return ({record, body}) back to an entry, and
/// malformed or hostile bytes to a typed error, never a trap.
@Suite struct EntryCodecTests {
    static func entry(user: String? = "ü", session: String? = nil, tags: [String] = ["a", "", "ü b"], text: String = "héllo\u{0}x") -> MemoryEntry {
        let created = Milliseconds.truncated(Date(timeIntervalSince1970: 1_800_000_000.123))
        return MemoryEntry(
            id: "0123", text: text, tier: .session, importance: 0.1 + 0.2, tags: tags, createdAt: created,
            expiresAt: Milliseconds.truncated(created.addingTimeInterval(60)),
            lastAccessedAt: Milliseconds.truncated(created.addingTimeInterval(5)), accessCount: 7,
            userID: user, sessionID: session, metadata: ["k": "v"], value: Data([0, 1, 2]))
    }

    /// The record the store script packs (Lua `struct.pack('>ddddd', ...)`).
    static func record(_ numbers: [Double]) -> [UInt8] {
        numbers.flatMap { number in (0..<8).reversed().map { UInt8(truncatingIfNeeded: number.bitPattern >> (UInt64($0) * 8)) } }
    }

    static func replies(_ entry: MemoryEntry, body: [UInt8]? = nil, record: [UInt8]? = nil) -> [RedisReply] {
        let numbers = [entry.expiresAt, nil, entry.createdAt, entry.lastAccessedAt].map { $0.map { Double(Milliseconds.of($0)) } ?? entry.importance }
        return [
            .bulk(record ?? Self.record(numbers + [Double(entry.accessCount)])),
            .bulk(body ?? EntryCodec.body(of: entry, profile: RecallRanking.Profile(entry))),
        ]
    }

    @Test(arguments: [
        entry(), entry(user: nil, session: "s", tags: []), entry(user: "", session: "", tags: ["x"]), entry(text: String(repeating: "é", count: 70_000)),
    ])
    func roundTrips(_ original: MemoryEntry) throws {
        let decoded = try EntryCodec.entry(id: original.id, tier: .session, fields: Self.replies(original))
        #expect(decoded == original)
    }

    /// A body of these parts (decimal length, `:`, bytes; `-:` for nil).
    static func body(_ parts: [[UInt8]?]) -> [UInt8] {
        parts.flatMap { part in part.map { Array("\($0.count):".utf8) + $0 } ?? Array("-:".utf8) }
    }

    @Test func malformedBodiesAreErrors() throws {
        let good = EntryCodec.body(of: Self.entry(), profile: RecallRanking.Profile(Self.entry()))
        let words: [[UInt8]?] = [Array(" a ".utf8), Array("\n".utf8)]
        let count: (Int) -> [UInt8] = { Array("\($0):".utf8) }
        let bodies: [[UInt8]] = [
            [], [0, 0, 0], Array(good.dropLast()), good + [0],
            Array("99999:".utf8) + good.drop { $0 != UInt8(ascii: ":") }.dropFirst(),  // a length past the end
            Array("12345678901:".utf8) + good,  // too many digits
            Array("3x".utf8) + good,  // not a length
            Self.body(words + [nil]),  // no text
            Self.body(words + [[0xff], nil, nil]) + count(0) + Self.body([nil, nil]),  // text not UTF-8
            Self.body(words + [Array("t".utf8), nil, nil]) + count(4_000_000_000),  // four billion tags in no bytes
            Self.body(words + [Array("t".utf8), nil, nil]) + count(1) + Self.body([nil, nil, nil]),  // an absent tag
            Self.body(words + [Array("t".utf8), nil, nil]) + count(0) + Self.body([nil]),  // no value part
        ]
        #expect(try EntryCodec.entry(id: "0123", tier: .session, fields: Self.replies(Self.entry(), body: Self.body(words + [Array("t".utf8), nil, nil]) + count(0) + Self.body([nil, nil]))).text == "t")
        for body in bodies {
            #expect(throws: MemoryError.self) { try EntryCodec.entry(id: "0123", tier: .session, fields: Self.replies(Self.entry(), body: body)) }
        }
    }

    @Test func malformedRecordsAreErrors() throws {
        let entry = Self.entry()
        let bad: [[UInt8]] = [
            [], Array(repeating: 0, count: 24), Self.record([.nan, 0.5, 0, 0, 0]), Self.record([1e300, 0.5, 0, 0, 0]),
            Self.record([1.5, 0.5, 0, 0, 0]), Self.record([0, .infinity, 0, 0, 0]), Self.record([0, 0.5, 0, 0, 1e30]),
            Self.record([0, 0.5, 0, 0, -0.5]),
        ]
        for record in bad {
            #expect(throws: MemoryError.self) { try EntryCodec.entry(id: "0123", tier: .session, fields: Self.replies(entry, record: record)) }
        }
        #expect(throws: MemoryError.self) { try EntryCodec.entry(id: "0123", tier: .session, fields: [.null, .null]) }
        #expect(throws: MemoryError.self) { try EntryCodec.entry(id: "0123", tier: .session, fields: Array(Self.replies(entry).prefix(1))) }
    }
}
