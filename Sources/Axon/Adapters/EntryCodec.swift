import Foundation
import Hiredis

/// An entry as a Redis hash: `x` text, `i` importance, `c` created ms, `e` expiry ms, `l` last access ms,
/// `a` access count, `u` user, `s` session, `k` tags (hex, comma-separated, in order), `m` metadata (JSON),
/// `w` the lowercased text and tags that recall's prefilter searches.
/// The id and tier are in the key. Numbers are written so that they read back exactly.
enum EntryCodec {
    static func fields(of entry: MemoryEntry, tagHex: [String]) -> [any RedisArgument] {
        var fields: [any RedisArgument] = [
            "x", entry.text, "i", entry.importance, "c", Milliseconds.of(entry.createdAt),
            "e", Milliseconds.of(entry.expiresAt), "l", Milliseconds.of(entry.lastAccessedAt), "a", entry.accessCount,
            "k", tagHex.joined(separator: ","), "w", SearchText.of(entry),
        ]
        if let user = entry.userID { fields += ["u", user] as [any RedisArgument] }
        if let session = entry.sessionID { fields += ["s", session] as [any RedisArgument] }
        if !entry.metadata.isEmpty, let json = try? JSONEncoder.sorted.encode(entry.metadata) {
            fields += ["m", Array(json)] as [any RedisArgument]
        }
        return fields
    }

    static func entry(id: String, tier: MemoryTier, hash: [RedisReply]) throws -> MemoryEntry {
        var values: [String: RedisReply] = [:]
        var index = 0
        while index + 1 < hash.count {
            values[try hash[index].string()] = hash[index + 1]
            index += 2
        }
        func required(_ field: String) throws -> RedisReply {
            guard let value = values[field] else { throw MemoryError(.storage, "entry \(id) in Redis has no field '\(field)'") }
            return value
        }
        let tagList = try values["k"]?.string() ?? ""
        var tags: [String] = []
        for part in tagList.split(separator: ",") {
            guard let tag = RedisKeyspace.unhex(part) else { throw MemoryError(.storage, "entry \(id) has a malformed tag list") }
            tags.append(tag)
        }
        var metadata: [String: String] = [:]
        if let raw = values["m"] {
            metadata = try JSONDecoder().decode([String: String].self, from: Data(try raw.bytes()))
        }
        return MemoryEntry(
            id: id, text: try required("x").string(), tier: tier, importance: try required("i").double(), tags: tags,
            createdAt: Milliseconds.date(try required("c").int()), expiresAt: Milliseconds.date(try required("e").int()),
            lastAccessedAt: Milliseconds.date(try required("l").int()), accessCount: Int(try required("a").int()),
            userID: try values["u"]?.string(), sessionID: try values["s"]?.string(), metadata: metadata)
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

/// The lowercased text and tags of an entry, one per line: what recall's prefilter searches for query words.
/// Lowercased by Swift (Unicode-aware), so a query word that matches the entry is always a substring of it.
enum SearchText {
    static func of(_ entry: MemoryEntry) -> String {
        ([entry.text] + entry.tags).map { $0.lowercased() }.joined(separator: "\n")
    }
}
