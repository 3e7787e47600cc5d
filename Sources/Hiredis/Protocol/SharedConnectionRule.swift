/// Which commands must not run on a connection other callers share (`RedisConnectionPool.send` and `pipeline`,
/// or one `RedisConnection` used by several tasks): blocking commands hold the connection, so every other caller
/// would wait behind them (and a block longer than the command timeout closes the connection under everyone);
/// state-changing commands leak into other callers' commands (a `MULTI` queues their GETs, a `SELECT` moves them
/// to another database, `CLIENT REPLY OFF` leaves them without replies).
enum SharedConnectionRule {
    /// Commands that block until data arrives or a timeout passes.
    static let blocking: Set<String> = [
        "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF",
    ]
    /// Commands that change the connection's state for the commands after them.
    static let stateful: Set<String> = [
        "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SELECT", "AUTH", "HELLO", "RESET", "QUIT", "READONLY",
        "READWRITE", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR",
    ]
    /// Every name above and `CLIENT`, `XREAD`, `XREADGROUP`, packed (`packed`): a name not in it passes at once.
    private static let watched: Set<UInt128> = Set(
        (blocking.union(stateful).union(["CLIENT", "XREAD", "XREADGROUP"])).compactMap { packed($0) })

    /// The name's bytes with ASCII letters upper-cased, packed into one integer (names of 4 to 12 bytes), without
    /// building a string: the check runs for every command a pool sends.
    static func packed(_ name: String) -> UInt128? {
        var value: UInt128 = 0
        var count = 0
        for byte in name.utf8 {
            count += 1
            guard count <= 12 else { return nil }
            let upper = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
            value = value << 8 | UInt128(upper)
        }
        return count >= 4 ? value | UInt128(count) << 120 : nil
    }
    /// `CLIENT` subcommands that change the connection's state.
    static let statefulClient: Set<String> = ["REPLY", "SETNAME", "TRACKING", "NO-EVICT", "NO-TOUCH"]

    /// Why `command` must not run on a shared connection, naming what to do instead; `nil` when it may.
    static func refusal(_ command: RedisCommand) -> String? {
        // GET, SET, EVALSHA, ... pass without building a string.
        guard let key = packed(command.name), watched.contains(key) else { return nil }
        let name = command.name.uppercased()
        if blocking.contains(name) || (name.hasPrefix("XREAD") && hasBlockOption(command)) {
            return "\(name) blocks the connection it runs on, and this connection is shared with other callers (they would all "
                + "wait behind it): run it inside pool.withConnection { ... }, on a connection whose commandTimeout is longer "
                + "than the block (or nil)"
        }
        if stateful.contains(name) || (name == "CLIENT" && statefulClient.contains(subcommand(command))) {
            return "\(name) changes the state of the connection it runs on, and this connection is shared with other callers "
                + "(their commands would run in that state): run it inside pool.withConnection { ... }, where the connection is yours"
        }
        return nil
    }

    private static func subcommand(_ command: RedisCommand) -> String {
        command.arguments.dropFirst().first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? ""
    }

    private static func hasBlockOption(_ command: RedisCommand) -> Bool {
        command.arguments.dropFirst().contains { $0.count == 5 && String(decoding: $0, as: UTF8.self).uppercased() == "BLOCK" }
    }
}
