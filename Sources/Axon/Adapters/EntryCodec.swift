import Foundation
import Hiredis

/// An entry in Redis (layout version 2, see `RedisKeyspace`): its record in the tier's ranking hash (expiry,
/// importance, created ms, last access ms and access count as five big-endian doubles: every read updates it in one
/// write, recall ranks by it), its body (one string, `body(of:profile:)`: the words the phrase check reads, then
/// everything the client decodes, so recall reads its results with one MGET) and a small hash (`n` its index sources,
/// `e` expiry, `i` importance, `c` created ms for sweeps and rebuilds, plus `hashFields(of:profile:indexesWords:)`).
/// The id and tier are in the keys. Numbers read back exactly.
enum EntryCodec {
    /// The entry's body, a sequence of parts, each its length in decimal digits, `:` and its bytes (an absent part is
    /// `-:`): the text window's words (` a b c `) and each tag's words (`\n a b \n c \n`), which the recall script's phrase
    /// check reads; then text, user and session (UTF-8), the tag count (`<n>:`) and each tag, metadata (JSON) and the
    /// structured value. The framing has no NUL byte, so a body without one in its data can travel as a C string (the
    /// bench hands store commands to redis-benchmark).
    static func body(of entry: MemoryEntry, profile: RecallRanking.Profile) -> [UInt8] {
        let (words, tagWords) = self.words(profile)
        let metadata = metadataJSON(entry)
        var out: [UInt8] = []
        out.reserveCapacity(
            words.utf8.count + tagWords.utf8.count + entry.text.utf8.count + (metadata?.count ?? 0) + (entry.value?.count ?? 0) + 64
                + entry.tags.reduce(0) { $0 + $1.utf8.count + 4 })
        func append(_ length: Int) {
            out.append(contentsOf: String(length).utf8)
            out.append(UInt8(ascii: ":"))
        }
        func append<Bytes: Collection<UInt8>>(_ bytes: Bytes?) {
            guard let bytes else { return out.append(contentsOf: "-:".utf8) }
            append(bytes.count)
            out.append(contentsOf: bytes)
        }
        append(words.utf8)
        append(tagWords.utf8)
        append(entry.text.utf8)
        append(entry.userID?.utf8)
        append(entry.sessionID?.utf8)
        append(entry.tags.count)
        for tag in entry.tags { append(tag.utf8) }
        append(metadata)
        append(entry.value)
        return out
    }

    /// Hash fields beside `n`, `e`, `i` and `c` (which the store script writes from its arguments): `m` the metadata
    /// (JSON) for recall's metadata filter, and in a tier without a word index `w` and `g`, the words that recall then
    /// matches in the hash.
    static func hashFields(of entry: MemoryEntry, profile: RecallRanking.Profile, indexesWords: Bool) -> [any RedisArgument] {
        var fields: [any RedisArgument] = []
        if let json = metadataJSON(entry) { fields += ["m", Array(json)] as [any RedisArgument] }
        if !indexesWords {
            let (words, tagWords) = self.words(profile)
            fields += ["w", words, "g", tagWords] as [any RedisArgument]
        }
        return fields
    }

    /// The text window's words (` a b c `) and each tag's words (`\n a b \n c \n`), as the phrase check searches them.
    static func words(_ profile: RecallRanking.Profile) -> (text: String, tags: String) {
        (" " + profile.text.joined(separator: " ") + " ", "\n" + profile.tags.map { " " + $0.joined(separator: " ") + " \n" }.joined())
    }

    /// The metadata as JSON with sorted keys; `nil` when there is none.
    static func metadataJSON(_ entry: MemoryEntry) -> Data? {
        entry.metadata.isEmpty ? nil : try? JSONEncoder.sorted.encode(entry.metadata)
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

    /// Decodes what the scripts return for an entry: its record and its body.
    static func entry(id: String, tier: MemoryTier, fields: [RedisReply]) throws -> MemoryEntry {
        guard fields.count == 2 else {
            throw MemoryError(.storage, "entry \(id): Redis returned \(fields.count) values, expected 2 (record, body)")
        }
        return try entry(id: id, tier: tier, record: fields[0], body: fields[1])
    }

    /// Decodes an entry from its record and body replies.
    static func entry(id: String, tier: MemoryTier, record: RedisReply, body: RedisReply) throws -> MemoryEntry {
        guard let record = try record.optionalBytes(), let numbers = Record(record) else {
            throw MemoryError(.storage, "entry \(id) in Redis has no valid record in the ranking hash")
        }
        guard let bytes = try body.optionalBytes() else { throw MemoryError(.storage, "entry \(id) in Redis has no body") }
        guard let body = Body(bytes) else { throw MemoryError(.storage, "entry \(id) in Redis has a malformed body") }
        var metadata: [String: String] = [:]
        if let json = body.metadata {
            metadata = try JSONDecoder().decode([String: String].self, from: json)
        }
        return MemoryEntry(
            id: id, text: body.text, tier: tier, importance: numbers.importance, tags: body.tags,
            createdAt: Milliseconds.date(numbers.created), expiresAt: Milliseconds.date(numbers.expiry),
            lastAccessedAt: Milliseconds.date(numbers.accessed), accessCount: numbers.count,
            userID: body.user, sessionID: body.session, metadata: metadata, value: body.value)
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

    /// A body decoded (`body(of:profile:)`; the words are skipped); `nil` when malformed.
    struct Body {
        let text: String, user: String?, session: String?, tags: [String], metadata: Data?, value: Data?

        init?(_ bytes: [UInt8]) {
            guard let body = bytes.withUnsafeBufferPointer({ buffer -> Body? in
                var reader = Reader(bytes: buffer)
                var user: String?, session: String?, metadata: Data?, value: Data?
                guard reader.skip(), reader.skip(), let text = reader.text(), reader.optionalText(&user), reader.optionalText(&session),
                      let count = reader.length(), count >= 0, count <= reader.remaining / 2 else { return nil }
                var tags: [String] = []
                tags.reserveCapacity(Int(count))
                for _ in 0..<count {
                    guard let tag = reader.text() else { return nil }
                    tags.append(tag)
                }
                guard reader.optionalData(&metadata), reader.optionalData(&value), reader.remaining == 0 else { return nil }
                return Body(text: text, user: user, session: session, tags: tags, metadata: metadata, value: value)
            }) else { return nil }
            self = body
        }

        private init(text: String, user: String?, session: String?, tags: [String], metadata: Data?, value: Data?) {
            self.text = text
            self.user = user
            self.session = session
            self.tags = tags
            self.metadata = metadata
            self.value = value
        }
    }

    /// Reads the parts of a body (lengths, UTF-8 texts, bytes), never past its end.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        var remaining: Int { bytes.count - position }

        /// A part's length, -1 for an absent part, `nil` when malformed (at most 10 digits, then `:`).
        mutating func length() -> Int? {
            var value = 0, digits = 0
            while position < bytes.count, digits <= 10 {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: ":"): return digits > 0 ? value : nil
                case UInt8(ascii: "-") where digits == 0:
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
                    position += 1
                    return -1
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                    digits += 1
                default: return nil
                }
            }
            return nil
        }

        /// Steps over one part that must be present; `false` when malformed.
        mutating func skip() -> Bool {
            guard let count = length(), count >= 0, remaining >= count else { return false }
            position += count
            return true
        }

        /// Bytes that may be absent; `false` when malformed.
        mutating func optionalData(_ out: inout Data?) -> Bool {
            guard let count = length() else { return false }
            if count < 0 { return true }
            guard remaining >= count else { return false }
            out = Data(bytes[position..<position + count])
            position += count
            return true
        }

        /// A text; `nil` when malformed or marked absent.
        mutating func text() -> String? {
            guard let count = length(), count >= 0 else { return nil }
            return text(count: count)
        }

        /// A text that may be absent; `false` when malformed.
        mutating func optionalText(_ out: inout String?) -> Bool {
            guard let count = length() else { return false }
            if count < 0 { return true }
            out = text(count: count)
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
