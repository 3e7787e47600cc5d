import Foundation
import Hiredis

/// An entry in Redis (layout version 2, see `RedisKeyspace`): its record in the tier's ranking hash (expiry,
/// importance, created ms, last access ms and access count as five big-endian doubles: every read updates it in one
/// write, recall ranks by it) and its hash: `d` the text, user, session and tags packed (`packed(_:)`; only the client
/// reads it), `m` metadata (JSON), `v` the structured value (JSON bytes), `e` expiry, `i` importance and `c` created ms
/// (read by sweeps and index rebuilds), and for recall `w` the text window's words (` a b c `), `g` each tag's words
/// (`\n a b \n c \n`), `n` the entry's index sources (newline-separated). The store script writes `n`, `c` and the
/// record from its arguments. The id and tier are in the key. Numbers read back exactly.
enum EntryCodec {
    /// The hash fields but `n` and `c` (which the store script writes from its arguments), as field/value pairs.
    static func fields(of entry: MemoryEntry, profile: RecallRanking.Profile) -> [any RedisArgument] {
        var fields: [any RedisArgument] = [
            "d", packed(entry), "i", entry.importance, "e", Milliseconds.of(entry.expiresAt),
            "w", " " + profile.text.joined(separator: " ") + " ",
            "g", "\n" + profile.tags.map { " " + $0.joined(separator: " ") + " \n" }.joined(),
        ]
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

    /// The `d` field: text, user, session (each a 4-byte big-endian length, `absent` for none, then UTF-8), then the
    /// tag count and each tag (length, UTF-8).
    static func packed(_ entry: MemoryEntry) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entry.text.utf8.count + 16 + entry.tags.reduce(0) { $0 + $1.utf8.count + 4 })
        func append(_ length: UInt32) {
            out.append(UInt8(truncatingIfNeeded: length >> 24))
            out.append(UInt8(truncatingIfNeeded: length >> 16))
            out.append(UInt8(truncatingIfNeeded: length >> 8))
            out.append(UInt8(truncatingIfNeeded: length))
        }
        func append(_ text: String?) {
            guard let text else { return append(absent) }
            append(UInt32(clamping: text.utf8.count))
            out.append(contentsOf: text.utf8)
        }
        append(entry.text)
        append(entry.userID)
        append(entry.sessionID)
        append(UInt32(clamping: entry.tags.count))
        for tag in entry.tags { append(tag) }
        return out
    }

    /// The length that marks an absent user or session in `packed(_:)`.
    static let absent = UInt32.max

    /// Decodes what the scripts return for an entry: its record, then its `d`, `m` and `v` fields (a missing one is
    /// a null reply).
    static func entry(id: String, tier: MemoryTier, fields: [RedisReply]) throws -> MemoryEntry {
        guard fields.count == 4 else {
            throw MemoryError(.storage, "entry \(id): Redis returned \(fields.count) fields, expected 4 (record, d, m, v)")
        }
        guard let record = try fields[0].optionalBytes(), let numbers = Record(record) else {
            throw MemoryError(.storage, "entry \(id) in Redis has no valid record in the ranking hash")
        }
        guard let data = try fields[1].optionalBytes() else { throw MemoryError(.storage, "entry \(id) in Redis has no field 'd'") }
        guard let body = Body(data) else { throw MemoryError(.storage, "entry \(id) in Redis has a malformed field 'd'") }
        var metadata: [String: String] = [:]
        if !fields[2].isNull {
            metadata = try JSONDecoder().decode([String: String].self, from: Data(try fields[2].bytes()))
        }
        return MemoryEntry(
            id: id, text: body.text, tier: tier, importance: numbers.importance, tags: body.tags,
            createdAt: Milliseconds.date(numbers.created), expiresAt: Milliseconds.date(numbers.expiry),
            lastAccessedAt: Milliseconds.date(numbers.accessed), accessCount: numbers.count,
            userID: body.user, sessionID: body.session, metadata: metadata,
            value: fields[3].isNull ? nil : Data(try fields[3].bytes()))
    }

    /// An entry's record: five big-endian doubles, each checked (whole milliseconds within `Milliseconds.limit`, a
    /// count that fits `Int`, a finite importance).
    struct Record {
        let expiry: Int64, importance: Double, created: Int64, accessed: Int64, count: Int

        init?(_ bytes: [UInt8]) {
            guard bytes.count == 40 else { return nil }
            func number(_ index: Int) -> Double {
                var bits: UInt64 = 0
                for offset in index * 8..<index * 8 + 8 { bits = bits << 8 | UInt64(bytes[offset]) }
                return Double(bitPattern: bits)
            }
            func milliseconds(_ index: Int) -> Int64? {
                let value = number(index)
                guard abs(value) <= Double(Milliseconds.limit) else { return nil }
                return Int64(exactly: value)
            }
            guard let expiry = milliseconds(0), let created = milliseconds(2), let accessed = milliseconds(3),
                  number(1).isFinite, let count = Int(exactly: number(4)) else { return nil }
            self.expiry = expiry
            importance = number(1)
            self.created = created
            self.accessed = accessed
            self.count = count
        }
    }

    /// The `d` field decoded (`packed(_:)`); `nil` when malformed.
    struct Body {
        let text: String, user: String?, session: String?, tags: [String]

        init?(_ bytes: [UInt8]) {
            guard let body = bytes.withUnsafeBufferPointer({ buffer -> Body? in
                var reader = Reader(bytes: buffer)
                var user: String?, session: String?
                guard let text = reader.text(), reader.optionalText(&user), reader.optionalText(&session),
                      let count = reader.length(), Int(count) <= reader.remaining / 4 else { return nil }
                var tags: [String] = []
                tags.reserveCapacity(Int(count))
                for _ in 0..<count {
                    guard let tag = reader.text() else { return nil }
                    tags.append(tag)
                }
                guard reader.remaining == 0 else { return nil }
                return Body(text: text, user: user, session: session, tags: tags)
            }) else { return nil }
            self = body
        }

        private init(text: String, user: String?, session: String?, tags: [String]) {
            self.text = text
            self.user = user
            self.session = session
            self.tags = tags
        }
    }

    /// Reads lengths and UTF-8 texts from `d`, never past its end.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        var remaining: Int { bytes.count - position }

        mutating func length() -> UInt32? {
            guard remaining >= 4 else { return nil }
            defer { position += 4 }
            return UInt32(bytes[position]) << 24 | UInt32(bytes[position + 1]) << 16 | UInt32(bytes[position + 2]) << 8
                | UInt32(bytes[position + 3])
        }

        /// A text; `nil` when malformed or marked absent.
        mutating func text() -> String? {
            guard let count = length(), count != EntryCodec.absent else { return nil }
            return text(count: Int(count))
        }

        /// A text that may be absent; `false` when malformed.
        mutating func optionalText(_ out: inout String?) -> Bool {
            guard let count = length() else { return false }
            if count == EntryCodec.absent { return true }
            out = text(count: Int(count))
            return out != nil
        }

        private mutating func text(count: Int) -> String? {
            guard remaining >= count, let text = String(validUTF8: UnsafeBufferPointer(rebasing: bytes[position..<position + count])) else {
                return nil
            }
            position += count
            return text
        }
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
