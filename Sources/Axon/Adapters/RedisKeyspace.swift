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

    /// Each tier's key prefix, made once (every operation names several keys of its tier).
    private let ephemeralPrefix: String, sessionPrefix: String

    init(namespace: String) {
        prefix = "axon:{ns.\(Self.hex(TextNormalization.nfc(namespace)))}:"
        ephemeralPrefix = "\(prefix)\(MemoryTier.ephemeral.rawValue):v\(Self.layoutVersion):"
        sessionPrefix = "\(prefix)\(MemoryTier.session.rawValue):v\(Self.layoutVersion):"
    }

    /// The layout version in every tier key (`<tier>:v2:`).
    static let layoutVersion = 2

    /// What every key of `tier` starts with.
    func tierPrefix(_ tier: MemoryTier) -> String {
        switch tier {
        case .ephemeral: ephemeralPrefix
        case .session: sessionPrefix
        }
    }
    func entry(_ tier: MemoryTier, _ id: String) -> String { entryPrefix(tier) + id }
    /// An entry's body (a string beside its hash; the scripts derive it from `entryPrefix` with `b:` for `e:`).
    func body(_ tier: MemoryTier, _ id: String) -> String { tierPrefix(tier) + "b:" + id }
    func entryPrefix(_ tier: MemoryTier) -> String { tierPrefix(tier) + "e:" }
    func tierIndex(_ tier: MemoryTier) -> String { tierPrefix(tier) + "i" }
    func priorityIndex(_ tier: MemoryTier) -> String { tierPrefix(tier) + "p" }
    func rankingHash(_ tier: MemoryTier) -> String { tierPrefix(tier) + "r" }
    func lexIndex(_ tier: MemoryTier) -> String { tierPrefix(tier) + "x" }
    /// The tier's four index keys in the order the scripts take them: i, p, r, x.
    func indexes(_ tier: MemoryTier) -> [any RedisArgument] { [tierIndex(tier), priorityIndex(tier), rankingHash(tier), lexIndex(tier)] }

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
