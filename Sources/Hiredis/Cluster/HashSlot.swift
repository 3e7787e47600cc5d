/// Redis Cluster's key → slot mapping: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16,384.
///
/// The hash tag is the part between the first `{` and the first `}` after it, when that part is not empty; then
/// only it is hashed, so keys sharing a tag share a slot (every key of an Axon namespace has the tag
/// `{ns.<hex>}`).
public enum HashSlot {
    /// The number of slots.
    public static let count = 16_384

    /// The slot of `key`.
    public static func of(_ key: some Collection<UInt8>) -> Int {
        Int(crc16(hashed(key)) & 0x3FFF)
    }

    /// The slot of `key` (its UTF-8 bytes).
    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// The bytes that are hashed: the hash tag when there is a non-empty one, else the whole key.
    static func hashed<C: Collection<UInt8>>(_ key: C) -> C.SubSequence {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else { return key[...] }
        return key[afterOpen..<close]
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis computes it.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
