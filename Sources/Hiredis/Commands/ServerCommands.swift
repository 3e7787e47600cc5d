/// Typed server and scripting commands for every client.
extension RedisCommandSender {
    /// `PING`: the server's answer (`PONG`, or `message` echoed).
    public func ping(_ message: String? = nil) async throws -> String {
        try await send(message.map { RedisCommand("PING", $0) } ?? RedisCommand("PING")).string()
    }

    /// `INFO` (one section, or the default set) as text.
    public func info(_ section: String? = nil) async throws -> String {
        try await send(section.map { RedisCommand("INFO", $0) } ?? RedisCommand("INFO")).string()
    }

    /// `INFO` parsed into `field: value` pairs (section headers and blank lines left out).
    public func infoFields(_ section: String? = nil) async throws -> [String: String] {
        var fields: [String: String] = [:]
        for line in try await info(section).split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }

    /// `EVAL` of `source` with `keys` and `arguments`. For scripts run often, use `RedisScript` (EVALSHA, reloaded
    /// when the server has forgotten the script).
    public func eval(_ source: String, keys: [any RedisArgument] = [], arguments: [any RedisArgument] = []) async throws -> RedisReply {
        var command = RedisCommand("EVAL", source, keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        return try await send(command)
    }

    /// `SCRIPT LOAD`: the script's SHA-1, for `EVALSHA`.
    public func scriptLoad(_ source: String) async throws -> String {
        try await send(RedisCommand("SCRIPT", "LOAD", source)).string()
    }
}
