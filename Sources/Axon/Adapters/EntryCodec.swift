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

    /// The fields the scripts return for an entry, in this order (`read` in `MemoryScripts`).
    static let readOrder = ["x", "i", "c", "e", "l", "a", "u", "s", "k", "m"]

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
        var tags: [String] = []
        for part in try (optional(8) ?? "").split(separator: ",") {
            guard let tag = RedisKeyspace.unhex(part) else { throw MemoryError(.storage, "entry \(id) has a malformed tag list") }
            tags.append(tag)
        }
        var metadata: [String: String] = [:]
        if !fields[9].isNull {
            metadata = try JSONDecoder().decode([String: String].self, from: Data(try fields[9].bytes()))
        }
        return MemoryEntry(
            id: id, text: try required(0).string(), tier: tier, importance: try required(1).double(), tags: tags,
            createdAt: Milliseconds.date(try required(2).int()), expiresAt: Milliseconds.date(try required(3).int()),
            lastAccessedAt: Milliseconds.date(try required(4).int()), accessCount: Int(try required(5).int()),
            userID: try optional(6), sessionID: try optional(7), metadata: metadata)
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
