import Foundation

/// Conditions an entry must meet to be recalled. Every set condition must hold; filters apply before `limit`.
public struct MemoryFilter: Sendable, Hashable {
    /// The entry has all of these tags.
    public var tags: [String]
    /// The entry has at least one of these tags (ignored when empty).
    public var anyTags: [String]
    /// The entry belongs to this user.
    public var userID: String?
    /// The entry belongs to this session.
    public var sessionID: String?
    /// Importance within this range.
    public var importance: ClosedRange<Double>?
    /// Created at or after this time.
    public var createdAfter: Date?
    /// Created before this time.
    public var createdBefore: Date?
    /// Each of these metadata keys has exactly this value.
    public var metadata: [String: String]

    /// A filter; every parameter defaults to "no condition".
    public init(
        tags: [String] = [], anyTags: [String] = [], userID: String? = nil, sessionID: String? = nil,
        importance: ClosedRange<Double>? = nil, createdAfter: Date? = nil, createdBefore: Date? = nil,
        metadata: [String: String] = [:]
    ) {
        self.tags = tags
        self.anyTags = anyTags
        self.userID = userID
        self.sessionID = sessionID
        self.importance = importance
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.metadata = metadata
    }

    /// No conditions.
    public static let none = MemoryFilter()

    /// Whether `entry` meets every condition.
    public func matches(_ entry: MemoryEntry) -> Bool {
        if !tags.allSatisfy(entry.tags.contains) { return false }
        if !anyTags.isEmpty && !anyTags.contains(where: entry.tags.contains) { return false }
        if let userID, entry.userID != userID { return false }
        if let sessionID, entry.sessionID != sessionID { return false }
        if let importance, !importance.contains(entry.importance) { return false }
        if let createdAfter, entry.createdAt < createdAfter { return false }
        if let createdBefore, entry.createdAt >= createdBefore { return false }
        for (key, value) in metadata where entry.metadata[key] != value { return false }
        return true
    }
}
