import Foundation
import Hiredis

/// An entry as a Redis hash: `x` text, `i` importance, `c` created ms, `e` expiry ms, `l` last access ms,
/// `a` access count, `u` user, `s` session, `k` tags (hex, comma-separated, in order), `m` metadata (JSON), `v` the
/// entry's structured value (JSON bytes),
/// and for recall: `w` the text window's words (` a b c `), `g` each tag's words (`\n a b \n c \n`), `n` the
/// entry's index sources (newline-separated). The store script writes `n` and `c` from its arguments. The id and tier are in the key.
/// Numbers are written so that they read back exactly.
enum EntryCodec {
    /// Every field but `n` and `c` (which the store script writes from its arguments), as field/value pairs.
    static func fields(of entry: MemoryEntry, profile: RecallRanking.Profile) -> [any RedisArgument] {
        var fields: [any RedisArgument] = [
            "x", entry.text, "i", entry.importance,
            "e", Milliseconds.of(entry.expiresAt), "l", Milliseconds.of(entry.lastAccessedAt), "a", entry.accessCount,
            "k", entry.tags.map(RedisKeyspace.hex).joined(separator: ","),
            "w", " " + profile.text.joined(separator: " ") + " ",
            "g", "\n" + profile.tags.map { " " + $0.joined(separator: " ") + " \n" }.joined(),
        ]
        if let user = entry.userID { fields += ["u", user] as [any RedisArgument] }
        if let session = entry.sessionID { fields += ["s", session] as [any RedisArgument] }
        if !entry.metadata.isEmpty, let json = try? JSONEncoder.sorted.encode(entry.metadata) {
            fields += ["m", Array(json)] as [any RedisArgument]
        }
        if let value = entry.value { fields += ["v", value] as [any RedisArgument] }
        return fields
    }

    /// The entry's index sources (`RedisKeyspace`: `a`, `t<hex>`, `u<hex>`, `s<hex>`, `w<word>`), one per line.
    static func sources(of entry: MemoryEntry, profile: RecallRanking.Profile, indexesWords: Bool) -> String {
        RecallPlan.sources(of: entry, profile: profile, indexesWords: indexesWords).map { source in
            switch source {
            case .all: "a"
            case .tag(let tag): "t" + RedisKeyspace.hex(tag)
            case .user(let user): "u" + RedisKeyspace.hex(user)
            case .session(let session): "s" + RedisKeyspace.hex(session)
            case .word(let word): "w" + word
            }
        }.joined(separator: "\n")
    }

    /// The fields the scripts return for an entry, in this order (`read` in `Lua/helpers.lua`).
    static let readOrder = ["x", "i", "c", "e", "l", "a", "u", "s", "k", "m", "v"]

    /// Decodes the fields of `readOrder` (a missing one is a null reply).
    static func entry(id: String, tier: MemoryTier, fields: [RedisReply]) throws -> MemoryEntry {
        guard fields.count == readOrder.count else {
            throw MemoryError(.storage, "entry \(id): Redis returned \(fields.count) fields, expected \(readOrder.count)")
        }
        func required(_ index: Int) throws -> RedisReply {
            guard !fields[index].isNull else { throw MemoryError(.storage, "entry \(id) in Redis has no field '\(readOrder[index])'") }
            return fields[index]
        }
        func optional(_ index: Int) throws -> String? { fields[index].isNull ? nil : try fields[index].string() }
        guard let tags = try tags(fields[8]) else { throw MemoryError(.storage, "entry \(id) has a malformed tag list") }
        var metadata: [String: String] = [:]
        if !fields[9].isNull {
            metadata = try JSONDecoder().decode([String: String].self, from: Data(try fields[9].bytes()))
        }
        return MemoryEntry(
            id: id, text: try required(0).string(), tier: tier, importance: try required(1).double(), tags: tags,
            createdAt: Milliseconds.date(try required(2).int()), expiresAt: Milliseconds.date(try required(3).int()),
            lastAccessedAt: Milliseconds.date(try required(4).int()), accessCount: Int(try required(5).int()),
            userID: try optional(6), sessionID: try optional(7), metadata: metadata,
            value: fields[10].isNull ? nil : Data(try fields[10].bytes()))
    }

    /// The `k` field (hex tags, comma-separated) decoded straight from its bytes; `nil` when malformed. Empty parts
    /// are skipped.
    static func tags(_ field: RedisReply) throws -> [String]? {
        guard let bytes = try field.optionalBytes(), !bytes.isEmpty else { return [] }
        var tags: [String] = []
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: ",") {
            if index > start {
                guard let tag = RedisKeyspace.unhex(bytes[start..<index]) else { return nil }
                tags.append(tag)
            }
            start = index + 1
        }
        return tags
    }
}

extension JSONEncoder {
    /// Sorted keys, so equal values encode to equal bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
