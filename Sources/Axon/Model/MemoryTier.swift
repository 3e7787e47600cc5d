/// Which short-term tier an entry lives in.
public enum MemoryTier: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Short-lived cache (seconds to an hour).
    case ephemeral
    /// User sessions (minutes to hours), capped in size.
    case session

    /// Parses a tier name; unknown names are a `MemoryError.invalidArgument`.
    public init(validating name: String) throws(MemoryError) {
        guard let tier = MemoryTier(rawValue: name) else {
            throw MemoryError.invalidArgument("unknown tier '\(name)'; expected one of \(MemoryTier.allCases.map(\.rawValue))")
        }
        self = tier
    }

    public var description: String { rawValue }
}
