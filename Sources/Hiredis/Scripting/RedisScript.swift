import Synchronization

/// A Lua script run with EVALSHA: loaded once with SCRIPT LOAD, reloaded when the server answers NOSCRIPT
/// (after a restart, failover or SCRIPT FLUSH). User data goes in `keys` and `arguments`, never in the source.
public final class RedisScript: Sendable {
    /// The Lua source.
    public let source: String
    private let sha = Mutex<String?>(nil)

    /// A script with its Lua source.
    public init(_ source: String) {
        self.source = source
    }

    /// Runs the script on `connection` (or a pool) with `keys` and `arguments`; error replies throw `serverError`.
    public func run(
        on client: some RedisCommandSender, keys: [any RedisArgument], arguments: [any RedisArgument]
    ) async throws -> RedisReply {
        let digest = try await digest(on: client)
        do {
            return try await client.send(evalsha(digest, keys: keys, arguments: arguments))
        } catch let error as RedisError where error.serverErrorPrefix == "NOSCRIPT" {
            let reloaded = try await load(on: client)
            return try await client.send(evalsha(reloaded, keys: keys, arguments: arguments))
        }
    }

    /// The EVALSHA command `run` sends for `keys` and `arguments`, loading the script on `client` first if
    /// needed: the same request for another client (a benchmark's baseline) or a pipeline.
    public func command(
        on client: some RedisCommandSender, keys: [any RedisArgument], arguments: [any RedisArgument]
    ) async throws -> RedisCommand {
        evalsha(try await digest(on: client), keys: keys, arguments: arguments)
    }

    /// Runs the script once per element of `calls` in one pipeline (one round trip on one connection; on a cluster,
    /// one per node) and returns the replies in order, error replies as `.error` elements. Calls that met
    /// `NOSCRIPT` (they did not run) are resent once after the script is reloaded.
    public func runAll(
        on client: some RedisClient, calls: [(keys: [any RedisArgument], arguments: [any RedisArgument])]
    ) async throws -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        var digest = try await digest(on: client)
        var replies = try await client.pipeline(calls.map { evalsha(digest, keys: $0.keys, arguments: $0.arguments) })
        let missing = replies.indices.filter { index in
            if case .error(let message) = replies[index] { return message.hasPrefix("NOSCRIPT") }
            return false
        }
        guard !missing.isEmpty else { return replies }
        digest = try await load(on: client)
        let resent = try await client.pipeline(missing.map { evalsha(digest, keys: calls[$0].keys, arguments: calls[$0].arguments) })
        for (index, reply) in zip(missing, resent) { replies[index] = reply }
        return replies
    }

    private func digest(on client: some RedisCommandSender) async throws -> String {
        if let known = sha.withLock({ $0 }) { return known }
        return try await load(on: client)
    }

    private func load(on client: some RedisCommandSender) async throws -> String {
        let digest = try await client.send(RedisCommand("SCRIPT", "LOAD", source)).string()
        sha.withLock { $0 = digest }
        return digest
    }

    private func evalsha(_ digest: String, keys: [any RedisArgument], arguments: [any RedisArgument]) -> RedisCommand {
        var command = RedisCommand("EVALSHA", digest, keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        return command
    }
}

/// Something that sends one command and returns its reply: a `RedisConnection` or a `RedisConnectionPool`.
public protocol RedisCommandSender: Sendable {
    /// Sends one command; an error reply throws `RedisError` with code `serverError`.
    func send(_ command: RedisCommand) async throws -> RedisReply
}

extension RedisConnection: RedisCommandSender {}
extension RedisConnectionPool: RedisCommandSender {}
