/// Where a command's keys are, for routing on a cluster: from `COMMAND` (first key, last key, step), with the
/// commands whose keys move (`EVAL`, `FCALL`, `ZUNIONSTORE`, `XREAD`, ...) read from their `numkeys` or
/// `STREAMS` argument.
struct CommandKeys: Sendable {
    struct Spec: Sendable, Hashable {
        /// Position of the first key (1 = the first argument after the name); 0: no keys.
        var first: Int
        /// Position of the last key; negative counts from the end (-1: the last argument).
        var last: Int
        var step: Int
        var movable: Bool
    }

    private var specs: [String: Spec]

    /// The specs of the commands used most, so routing works before `COMMAND` was read (and if it cannot be).
    static let builtIn = CommandKeys(specs: [
        "GET": Spec(first: 1, last: 1, step: 1, movable: false), "SET": Spec(first: 1, last: 1, step: 1, movable: false),
        "DEL": Spec(first: 1, last: -1, step: 1, movable: false), "EVALSHA": Spec(first: 0, last: 0, step: 0, movable: true),
        "EVAL": Spec(first: 0, last: 0, step: 0, movable: true), "MGET": Spec(first: 1, last: -1, step: 1, movable: false),
        "MSET": Spec(first: 1, last: -1, step: 2, movable: false), "INCR": Spec(first: 1, last: 1, step: 1, movable: false),
        "EXISTS": Spec(first: 1, last: -1, step: 1, movable: false), "UNLINK": Spec(first: 1, last: -1, step: 1, movable: false),
    ])

    init(specs: [String: Spec]) {
        self.specs = specs
    }

    /// Parses a `COMMAND` reply (each entry: name, arity, flags, first key, last key, step, ...).
    init(commandReply: RedisReply) throws(RedisError) {
        var specs = Self.builtIn.specs
        for entry in try commandReply.array() {
            let fields = try entry.array()
            guard fields.count >= 6 else { continue }
            let name = try fields[0].string().uppercased()
            let flags = (try? fields[2].array().compactMap { try? $0.string() }) ?? []
            specs[name] = Spec(
                first: Int(try fields[3].int()), last: Int(try fields[4].int()), step: Int(try fields[5].int()),
                movable: flags.contains("movablekeys"))
        }
        self.specs = specs
    }

    /// What routing needs to know of a command's keys.
    enum Keys: Equatable {
        /// No key: any node may run it.
        case none
        /// All keys hash to this slot.
        case slot(Int)
        /// Keys in different slots: no node can run it.
        case crossSlot
        /// Keys that cannot be found from the arguments alone (`COMMAND GETKEYS` would tell).
        case unknown
    }

    /// The slot the command's keys hash to.
    func keys(of command: RedisCommand) -> Keys {
        // Most names arrive upper-case: no copy then.
        let name = command.name.utf8.contains(where: { (97...122).contains($0) }) ? command.name.uppercased() : command.name
        let count = command.argumentCount - 1
        guard let spec = specs[name] else { return .unknown }
        var slot: Int?
        func add(_ index: Int) -> Bool {
            guard let key = command.argument(index) else { return true }
            let keySlot = HashSlot.of(key)
            if let slot, slot != keySlot { return false }
            slot = keySlot
            return true
        }
        if spec.movable {
            guard let positions = Self.movablePositions(name: name, command: command, count: count) else { return .unknown }
            for index in positions where !add(index) { return .crossSlot }
        } else if spec.first > 0 {
            let last = spec.last < 0 ? count + spec.last + 1 : spec.last
            guard spec.step > 0, last <= count else { return .unknown }
            for position in stride(from: spec.first, through: last, by: spec.step) where !add(position - 1) { return .crossSlot }
        }
        return slot.map(Keys.slot) ?? .none
    }

    /// Argument indexes (0-based after the name) of the keys of a command with movable keys, when known.
    static func movablePositions(name: String, command: RedisCommand, count: Int) -> [Int]? {
        func number(_ index: Int) -> Int? { command.argument(index).flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
        func numkeysAt(_ index: Int) -> [Int]? {
            guard let keys = number(index), keys >= 0, index + keys < count + 1 else { return nil }
            return Array((index + 1)..<(index + 1 + keys))
        }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            return numkeysAt(1)
        case "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE":
            return numkeysAt(1).map { [0] + $0 }
        case "ZUNION", "ZINTER", "ZDIFF", "SINTERCARD", "ZINTERCARD", "LMPOP", "ZMPOP":
            return numkeysAt(0)
        case "BLMPOP", "BZMPOP":
            return numkeysAt(1)
        case "XREAD", "XREADGROUP":
            for index in 0..<count where command.argument(index).map({ String(decoding: $0, as: UTF8.self).uppercased() }) == "STREAMS" {
                let keys = (count - index - 1) / 2
                return Array((index + 1)..<(index + 1 + keys))
            }
            return nil
        default:
            return nil
        }
    }
}
