/// Which primary serves each slot: built from `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS`, a value with no I/O.
public struct ClusterTopology: Sendable, Hashable {
    /// A node's address.
    public struct Node: Sendable, Hashable, CustomStringConvertible {
        /// Host name or address.
        public var host: String
        /// Port.
        public var port: Int

        /// A node.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port` (`[host]:port` for IPv6).
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        /// Parses `host:port` (as in `MOVED 3999 127.0.0.1:6381`); `nil` when malformed.
        public init?(address: some StringProtocol) {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (1...65_535).contains(port) else { return nil }
            var host = String(address[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self.init(host: host, port: port)
        }
    }

    /// The primaries, in a stable order (by address).
    public private(set) var primaries: [Node]
    /// For each slot, the index in `primaries` of the node serving it, or -1 when no node serves it.
    private var owners: [Int16]

    /// A topology from slot ranges; every range names its primary.
    public init(ranges: [(ClosedRange<Int>, Node)]) {
        primaries = Array(Set(ranges.map(\.1))).sorted { ($0.host, $0.port) < ($1.host, $1.port) }
        owners = Array(repeating: -1, count: HashSlot.count)
        for (range, node) in ranges {
            guard let index = primaries.firstIndex(of: node) else { continue }
            for slot in range where (0..<HashSlot.count).contains(slot) { owners[slot] = Int16(index) }
        }
    }

    /// The index in `primaries` of the node serving `slot`, if any.
    func primaryIndex(for slot: Int) -> Int? {
        guard (0..<HashSlot.count).contains(slot) else { return nil }
        let index = Int(owners[slot])
        return index >= 0 ? index : nil
    }

    /// The primary serving `slot`, if any.
    public func primary(for slot: Int) -> Node? {
        guard (0..<HashSlot.count).contains(slot) else { return nil }
        let index = Int(owners[slot])
        return index >= 0 ? primaries[index] : nil
    }

    /// Slots no primary serves.
    public var uncoveredSlots: Int { owners.filter { $0 < 0 }.count }

    /// Moves `slot` to `node` (after a `MOVED`), adding the node when it is new.
    public mutating func move(slot: Int, to node: Node) {
        guard (0..<HashSlot.count).contains(slot) else { return }
        if let index = primaries.firstIndex(of: node) {
            owners[slot] = Int16(index)
        } else {
            primaries.append(node)
            owners[slot] = Int16(primaries.count - 1)
        }
    }

    /// Parses a `CLUSTER SHARDS` reply: each shard's `slots` (flat start/end pairs) and the node whose `role` is
    /// `master` (its `endpoint` or `ip`, and its port: `tls-port` first when `tls`, else `port` first; a port of 0
    /// is none). `defaultHost` stands in for an endpoint of `?` or empty (a node that does not know its address).
    public static func fromShards(_ reply: RedisReply, defaultHost: String, tls: Bool = false) throws(RedisError) -> ClusterTopology {
        var ranges: [(ClosedRange<Int>, Node)] = []
        for shard in try reply.array() {
            let fields = try dictionary(shard)
            var slots: [Int64] = []
            for value in try (fields["slots"] ?? .array([])).array() { slots.append(try value.int()) }
            guard slots.count % 2 == 0 else { throw malformed("CLUSTER SHARDS slot list") }
            var primary: Node?
            for node in try (fields["nodes"] ?? .array([])).array() {
                let info = try dictionary(node)
                guard (try? info["role"]?.string()) == "master" else { continue }
                let health = try? info["health"]?.string()
                if health == "fail" { continue }
                var host = (try? info["endpoint"]?.string()) ?? (try? info["ip"]?.string()) ?? defaultHost
                if host.isEmpty || host == "?" { host = (try? info["ip"]?.string()) ?? defaultHost }
                func port(_ name: String) -> Int64? { (try? info[name]?.int()).flatMap { $0 > 0 ? $0 : nil } }
                guard let port = tls ? port("tls-port") ?? port("port") : port("port") ?? port("tls-port") else { continue }
                primary = Node(host: host, port: Int(port))
            }
            guard let primary else { continue }
            for pair in stride(from: 0, to: slots.count, by: 2) where slots[pair] <= slots[pair + 1] {
                ranges.append((Int(slots[pair])...Int(slots[pair + 1]), primary))
            }
        }
        return ClusterTopology(ranges: ranges)
    }

    /// Parses a `CLUSTER SLOTS` reply: start, end, then the primary as `[host, port, id, ...]`.
    public static func fromSlots(_ reply: RedisReply, defaultHost: String) throws(RedisError) -> ClusterTopology {
        var ranges: [(ClosedRange<Int>, Node)] = []
        for range in try reply.array() {
            let parts = try range.array()
            guard parts.count >= 3 else { throw malformed("CLUSTER SLOTS range") }
            let start = Int(try parts[0].int()), end = Int(try parts[1].int())
            let primary = try parts[2].array()
            guard primary.count >= 2, start <= end else { throw malformed("CLUSTER SLOTS node") }
            var host = try primary[0].string()
            if host.isEmpty || host == "?" { host = defaultHost }
            ranges.append((start...end, Node(host: host, port: Int(try primary[1].int()))))
        }
        return ClusterTopology(ranges: ranges)
    }

    private static func dictionary(_ reply: RedisReply) throws(RedisError) -> [String: RedisReply] {
        let flat = try reply.array()
        var out: [String: RedisReply] = [:]
        var index = 0
        while index + 1 < flat.count {
            out[try flat[index].string()] = flat[index + 1]
            index += 2
        }
        return out
    }

    private static func malformed(_ what: String) -> RedisError {
        RedisError(.unexpectedReply, "malformed \(what) reply")
    }
}
