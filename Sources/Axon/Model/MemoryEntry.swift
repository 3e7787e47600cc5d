import Foundation

/// One remembered item. Timestamps are whole milliseconds (UTC), so every field round-trips exactly through
/// Redis and JSON Lines.
public struct MemoryEntry: Sendable, Hashable, Codable {
    /// Unique id: 32 lowercase hex digits, time-ordered (older ids sort first).
    public var id: String
    /// The remembered text (never blank).
    public var text: String
    /// The tier it lives in.
    public var tier: MemoryTier
    /// 0...1; higher survives the session cap longer and ranks first among equally relevant results.
    public var importance: Double
    /// Labels for exact lookup (`recall` filters); order is kept, duplicates removed.
    public var tags: [String]
    /// When it was stored.
    public var createdAt: Date
    /// When it expires (its TTL); refresh-on-read can move it later, never earlier.
    public var expiresAt: Date
    /// The last `get` (or `createdAt`).
    public var lastAccessedAt: Date
    /// How many times `get` returned it.
    public var accessCount: Int
    /// The user it belongs to, if any.
    public var userID: String?
    /// The session it belongs to, if any.
    public var sessionID: String?
    /// Free-form string metadata, filterable by equality.
    public var metadata: [String: String]
    /// A structured value stored with the entry, as JSON (`MemorySystem.store(_:value:...)`, `value(as:)`).
    public var value: Data?

    /// Creates an entry (used by adapters and imports; `MemorySystem.store` builds entries for you).
    public init(
        id: String, text: String, tier: MemoryTier, importance: Double, tags: [String], createdAt: Date,
        expiresAt: Date, lastAccessedAt: Date, accessCount: Int = 0, userID: String? = nil, sessionID: String? = nil,
        metadata: [String: String] = [:], value: Data? = nil
    ) {
        self.id = id
        self.text = text
        self.tier = tier
        self.importance = importance
        self.tags = tags
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastAccessedAt = lastAccessedAt
        self.accessCount = accessCount
        self.userID = userID
        self.sessionID = sessionID
        self.metadata = metadata
        self.value = value
    }

    /// The stored value decoded from JSON; `nil` when the entry has none. A value of another shape is an
    /// `invalidArgument` error naming the type.
    public func value<T: Decodable>(as type: T.Type) throws(MemoryError) -> T? {
        guard let value else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: value)
        } catch {
            throw .invalidArgument("entry \(id)'s value is not a \(T.self): \(error)")
        }
    }

    /// Whether the entry has expired at `now`.
    public func isExpired(at now: Date) -> Bool { now >= expiresAt }

    /// Checks what every adapter relies on: an id of 1-128 characters of `A-Z a-z 0-9 _ -`, text that is not
    /// blank, importance finite in 0...1, no empty tag, and an expiry after `now`. Failures are `invalidArgument`.
    public func validate(now: Date) throws(MemoryError) {
        guard EntryIDGenerator.isValid(id) else {
            throw .invalidArgument("entry id '\(id.prefix(140))' is not 1-128 characters of A-Z a-z 0-9 _ -")
        }
        try Self.validate(text: text, importance: importance, tags: tags)
        guard expiresAt > now else { throw .invalidArgument("entry \(id) expired (\(expiresAt)) before it was stored") }
    }

    static func validate(text: String, importance: Double, tags: [String]) throws(MemoryError) {
        guard !text.allSatisfy(\.isWhitespace) else { throw .invalidArgument("text is blank; store something to remember") }
        guard importance.isFinite, (0...1).contains(importance) else {
            throw .invalidArgument("importance must be a finite number in 0...1, got \(importance)")
        }
        guard !tags.contains(where: \.isEmpty) else { throw .invalidArgument("tags must not be empty strings") }
    }

    /// The entry as adapters store it: tags, user and session ids and metadata NFC-normalised (canonically
    /// equivalent strings compare equal in Swift either way), duplicate tags removed.
    public var normalized: MemoryEntry {
        var copy = self
        var seen: Set<String> = []
        copy.tags = tags.map(TextNormalization.nfc).filter { seen.insert($0).inserted }
        copy.userID = userID.map(TextNormalization.nfc)
        copy.sessionID = sessionID.map(TextNormalization.nfc)
        copy.metadata = Dictionary(
            metadata.map { (TextNormalization.nfc($0.key), TextNormalization.nfc($0.value)) }, uniquingKeysWith: { first, _ in first })
        return copy
    }
}

/// Millisecond helpers: every timestamp of the memory layer is a whole number of ms since 1970.
enum Milliseconds {
    /// The most milliseconds a timestamp may have (year 287,396): larger dates are clamped, so no date traps.
    static let limit: Int64 = 1 << 53

    /// Whole milliseconds since 1970, clamped to ±`limit` (a NaN date reads as 0).
    static func of(_ date: Date) -> Int64 {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms.isFinite else { return ms.isNaN ? 0 : (ms > 0 ? limit : -limit) }
        return Int64(min(max(ms, -Double(limit)), Double(limit)))
    }
    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    static func truncated(_ date: Date) -> Date { self.date(of(date)) }
}
