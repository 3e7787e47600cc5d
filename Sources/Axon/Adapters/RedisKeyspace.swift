import Hiredis

/// The Redis key layout of one namespace. Every key starts `axon:{ns.<hex>}:`: the namespace, hex-encoded,
/// is the cluster hash tag, so one namespace lives on one slot and its multi-key scripts stay valid on Redis
/// Cluster. Hex encoding is one-to-one and leaves no `{`, `}`, `:` or glob character in the tag, so no
/// namespace name (empty, `*`, `a:b`, `}{`) can reach another's keys. Tags are hex-encoded the same way.
///
/// Per tier, under `<tier>:v2:` (layout version 2; keys of earlier versions are not read and expire on their own):
/// `e:<id>` a small hash and `b:<id>` the body per entry (expiring a grace period after the entry, see `RedisAdapter`
/// and `EntryCodec`); `i` the
/// tier index (sorted set, id → expiry ms); `p` the priority index (id → importance, for the cap); `r` the ranking hash
/// (id → the entry's record: expiry, importance, created ms, last access ms and access count as five packed big-endian
/// doubles, which recall reads in one HMGET and every read updates); `x` the lexicographic index (score 0, members
/// `<source>\0<id>`: `a` for every entry, `w<word>`, `t<tag hex>`, `u<user hex>`, `s<session hex>`). The four index
/// keys expire a grace period after their newest entry.
/// The namespace is NFC-normalised first, so canonically equivalent names share their keys.
struct RedisKeyspace: Sendable {
    let prefix: String

    /// Each tier's keys and key prefixes, made once (every operation names several keys of its tier).
    private let ephemeral: TierKeys, session: TierKeys

    /// One tier's prefix, entry and body prefixes and index keys.
    private struct TierKeys: Sendable {
        let prefix: String, entryPrefix: String, bodyPrefix: String
        let tierIndex: String, priorityIndex: String, rankingHash: String, lexIndex: String

        init(_ prefix: String) {
            self.prefix = prefix
            entryPrefix = prefix + "e:"
            bodyPrefix = prefix + "b:"
            tierIndex = prefix + "i"
            priorityIndex = prefix + "p"
            rankingHash = prefix + "r"
            lexIndex = prefix + "x"
        }
    }

    init(namespace: String) {
        prefix = "axon:{ns.\(Self.hex(TextNormalization.nfc(namespace)))}:"
        ephemeral = TierKeys("\(prefix)\(MemoryTier.ephemeral.rawValue):v\(Self.layoutVersion):")
        session = TierKeys("\(prefix)\(MemoryTier.session.rawValue):v\(Self.layoutVersion):")
    }

    /// The layout version in every tier key (`<tier>:v2:`).
    static let layoutVersion = 2

    private func keys(_ tier: MemoryTier) -> TierKeys {
        switch tier {
        case .ephemeral: ephemeral
        case .session: session
        }
    }

    /// What every key of `tier` starts with.
    func tierPrefix(_ tier: MemoryTier) -> String { keys(tier).prefix }
    func entry(_ tier: MemoryTier, _ id: String) -> String { keys(tier).entryPrefix + id }
    /// An entry's body (a string beside its hash; the scripts derive it from `entryPrefix` with `b:` for `e:`).
    func body(_ tier: MemoryTier, _ id: String) -> String { keys(tier).bodyPrefix + id }
    func entryPrefix(_ tier: MemoryTier) -> String { keys(tier).entryPrefix }
    func tierIndex(_ tier: MemoryTier) -> String { keys(tier).tierIndex }
    func priorityIndex(_ tier: MemoryTier) -> String { keys(tier).priorityIndex }
    func rankingHash(_ tier: MemoryTier) -> String { keys(tier).rankingHash }
    func lexIndex(_ tier: MemoryTier) -> String { keys(tier).lexIndex }
    /// The tier's four index keys in the order the scripts take them: i, p, r, x.
    func indexes(_ tier: MemoryTier) -> [any RedisArgument] {
        let keys = keys(tier)
        return [keys.tierIndex, keys.priorityIndex, keys.rankingHash, keys.lexIndex]
    }

    /// An entry's hash, the tier's four indexes, then (with `body`) the entry's body: the keys of the entry scripts.
    func entryKeys(_ tier: MemoryTier, _ id: String, body: Bool) -> [any RedisArgument] {
        let keys = keys(tier)
        var all: [any RedisArgument] = []
        all.reserveCapacity(6)
        all.append(keys.entryPrefix + id)
        all.append(keys.tierIndex)
        all.append(keys.priorityIndex)
        all.append(keys.rankingHash)
        all.append(keys.lexIndex)
        if body { all.append(keys.bodyPrefix + id) }
        return all
    }

    /// Lowercase hex of the UTF-8 bytes.
    static func hex(_ text: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 2)
        for byte in text.utf8 {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text whose hex is `hex`, or `nil` if it is not valid hex of UTF-8.
    static func unhex<Digits: Collection<UInt8>>(_ hex: Digits) -> String? {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var high: UInt8?
        for char in hex {
            let value: UInt8
            switch char {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = char - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = char - UInt8(ascii: "a") + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return String(validUTF8: bytes)
    }
}
