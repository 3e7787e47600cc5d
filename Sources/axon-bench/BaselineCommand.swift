import Hiredis

/// What both baselines run for one operation: hiredis' sync loop runs every step, `redis-benchmark` the
/// single command (it cannot run a sequence or a mixed pipeline; those get the sync loop on a thread per
/// connection at every concurrency instead).
struct BaselineCommand: Sendable, Hashable {
    let key: String
    /// The requests of one operation, in order; each is the command name followed by its arguments.
    let steps: [[[UInt8]]]
    /// Whether the sync loop writes every step before reading the replies (a pipeline) instead of one by one.
    var pipelined = false

    /// Arguments containing this are made unique per operation (a fresh entry per store): the sync loop puts
    /// a counter there, `redis-benchmark` its `-r` random number.
    static let uniqueMarker = "__rand_int__"

    /// One command given as its name and arguments.
    init(key: String, arguments: [[UInt8]]) {
        self.key = key
        steps = [arguments]
    }

    /// The commands one operation of ours sends, in order; `pipelined` when ours sends them in one write.
    init(key: String, commands: [RedisCommand], pipelined: Bool = false) {
        self.key = key
        steps = commands.map(\.arguments)
        self.pipelined = pipelined
    }

    /// GET of the bench key, SET of it to `value`, DEL of an absent key: the rows every client group has.
    static func standard(value: [UInt8]) -> (get: BaselineCommand, set: BaselineCommand, del: BaselineCommand) {
        let key = Array("bench:{axon}:key".utf8)
        return (
            BaselineCommand(key: "get", arguments: [Array("GET".utf8), key]),
            BaselineCommand(key: "set", arguments: [Array("SET".utf8), key, value]),
            BaselineCommand(key: "del", arguments: [Array("DEL".utf8), Array("bench:{axon}:absent".utf8)]))
    }

    /// The single command, for `redis-benchmark`; `nil` for a sequence.
    var single: [[UInt8]]? { steps.count == 1 ? steps[0] : nil }

    /// Whether some argument carries `uniqueMarker`.
    var hasUniqueMarker: Bool {
        let marker = Array(Self.uniqueMarker.utf8)
        return steps.contains { $0.contains { $0.firstRange(of: marker) != nil } }
    }

    /// The first step for our clients.
    var command: RedisCommand {
        let arguments = steps[0]
        return RedisCommand(String(decoding: arguments[0], as: UTF8.self), arguments: arguments.dropFirst().map { $0 as any RedisArgument })
    }
}
