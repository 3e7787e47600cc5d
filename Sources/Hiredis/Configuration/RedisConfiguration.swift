import Foundation

/// Where a Redis server is and how to open a connection to it.
///
/// `description` never shows the password. Timeouts are enforced by this library with Dispatch timers
/// (hiredis 0.14 has none).
public struct RedisConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// How the server is reached.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// A TCP host name or address and port.
        case tcp(host: String, port: Int)
        /// A Unix domain socket path.
        case unixSocket(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unixSocket(let path): return "unix:\(path)"
            }
        }
    }

    /// Where the server is.
    public var endpoint: Endpoint
    /// ACL user name for `AUTH user password`; `nil` for the default user.
    public var username: String?
    /// Password for `AUTH`; `nil` for none. Never logged or printed.
    public var password: String?
    /// Database selected with `SELECT` before the first command (0 is the server's default).
    public var database: Int
    /// Name set with `CLIENT SETNAME`, shown by `CLIENT LIST`; `nil` for none.
    public var clientName: String?
    /// Limit for opening the socket and completing the handshake.
    public var connectTimeout: Duration
    /// Limit for the oldest in-flight command; when it passes, the connection closes and every in-flight
    /// command fails with `commandTimeout`. `nil` waits forever (for long blocking commands).
    public var commandTimeout: Duration?
    /// TLS settings; `nil` for a plaintext connection (TCP only). Set by `rediss://` URLs and `REDIS_TLS*` variables.
    public var tls: RedisTLSConfiguration?
    /// How long a caller that has had a plaintext connection to itself for a few round trips (one task sending command
    /// after command) waits for its reply on its own thread, as a synchronous client would, before it suspends (default
    /// 200 µs; `.zero`: never). Below one second. Tasks taking turns (a burst that a busy executor runs one task at a
    /// time) do not wait: blocking the thread would hold back the next ones, whose commands share writes instead.
    ///
    /// A sequential caller then pays one thread wake-up per command instead of four (the Dispatch event thread, the
    /// connection's queue thread, the caller's executor; measured 4.3 context switches per `GET` before, 1.0 after):
    /// on loopback `connection.get` takes about 1.2× a blocking hiredis loop instead of 2×. The thread waits at most
    /// this long for each part of the reply (a large reply is read on it as it comes); a reply that takes longer
    /// arrives as usual, and the next 16 commands on that connection do not wait. Under concurrency the connection is no caller's alone and nothing blocks. While such a connection idles
    /// its read source stays paused, so a server-side close is noticed when the next command is about to leave: that
    /// command fails with `connectionClosed` unsent, and a pool sends it on another connection. TLS connections never
    /// wait this way (OpenSSL may hold decrypted bytes the socket no longer shows).
    public var inlineReplyWait: Duration = .microseconds(200)

    /// A TCP configuration. Defaults: `localhost:6379`, database 0, 5 s to connect, 30 s per command.
    public init(
        host: String = "localhost",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        clientName: String? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration? = .seconds(30),
        tls: RedisTLSConfiguration? = nil
    ) {
        self.endpoint = .tcp(host: host, port: port)
        self.tls = tls
        self.username = username
        self.password = password
        self.database = database
        self.clientName = clientName
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// A Unix-socket configuration.
    public init(
        unixSocketPath: String,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        clientName: String? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration? = .seconds(30)
    ) {
        self.init(
            username: username, password: password, database: database, clientName: clientName,
            connectTimeout: connectTimeout, commandTimeout: commandTimeout)
        self.endpoint = .unixSocket(path: unixSocketPath)
    }

    public var description: String {
        var parts = ["endpoint: \(endpoint)", "database: \(database)"]
        if let username { parts.append("username: \(username)") }
        if password != nil { parts.append("password: <redacted>") }
        if let clientName { parts.append("clientName: \(clientName)") }
        parts.append("connectTimeout: \(connectTimeout)")
        parts.append("commandTimeout: \(commandTimeout.map { "\($0)" } ?? "none")")
        if let tls { parts.append("tls: \(tls)") }
        if inlineReplyWait != .microseconds(200) { parts.append("inlineReplyWait: \(inlineReplyWait)") }
        return "RedisConfiguration(\(parts.joined(separator: ", ")))"
    }

    /// Checks values a server would reject or hiredis cannot use; throws `invalidArgument` saying which.
    public func validate() throws(RedisError) {
        switch endpoint {
        case .tcp(let host, let port):
            guard !host.isEmpty else { throw RedisError(.invalidArgument, "the host name is empty") }
            guard (1...65535).contains(port) else {
                throw RedisError(.invalidArgument, "port \(port) is outside 1...65535")
            }
            guard !host.utf8.contains(0) else { throw RedisError(.invalidArgument, "the host name contains a NUL byte") }
        case .unixSocket(let path):
            guard !path.isEmpty, !path.utf8.contains(0) else {
                throw RedisError(.invalidArgument, "the Unix socket path is empty or contains a NUL byte")
            }
        }
        if let tls {
            guard case .tcp = endpoint else { throw RedisError(.invalidArgument, "TLS needs a TCP endpoint, not a Unix socket") }
            try tls.validate()
        }
        guard database >= 0 else { throw RedisError(.invalidArgument, "database \(database) is negative") }
        guard connectTimeout > .zero else { throw RedisError(.invalidArgument, "the connect timeout must be positive") }
        if let commandTimeout, commandTimeout <= .zero {
            throw RedisError(.invalidArgument, "the command timeout must be positive, or nil for none")
        }
        guard inlineReplyWait >= .zero, inlineReplyWait < .seconds(1) else {
            throw RedisError(.invalidArgument, "the inline reply wait must be at least zero and below one second, not \(inlineReplyWait)")
        }
        if username != nil && password == nil {
            // Never repeat the name: in `redis://secret@host` a forgotten colon puts the password there.
            throw RedisError(
                .invalidArgument, "a username is set but no password: an ACL user needs both (in a URL, redis://user:password@host)")
        }
    }
}

extension RedisConfiguration {
    /// Reads the process environment: `REDIS_URL` first, then `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`,
    /// `REDIS_USERNAME` and `REDIS_DB`, each overriding that part of the URL, then the TLS variables (`REDIS_TLS`,
    /// `REDIS_TLS_CA_FILE`, … see `RedisTLSConfiguration`). Unset variables keep the defaults; malformed ones throw
    /// `invalidArgument` naming the variable (never echoing a password).
    ///
    /// `REDIS_URL` forms: `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (the same over TLS) and
    /// `unix://[[user]:password@]/path[?db=N]`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisError) -> RedisConfiguration {
        var configuration = RedisConfiguration()
        if let url = environment["REDIS_URL"], !url.isEmpty {
            configuration = try RedisConfiguration(url: url)
        }
        if let host = environment["REDIS_HOST"] {
            guard !host.isEmpty else { throw RedisError(.invalidArgument, "REDIS_HOST is set but empty") }
            let port: Int
            if case .tcp(_, let current) = configuration.endpoint { port = current } else { port = 6379 }
            configuration.endpoint = .tcp(host: host, port: port)
        }
        if let text = environment["REDIS_PORT"] {
            guard let port = Int(text), (1...65535).contains(port) else {
                throw RedisError(.invalidArgument, "REDIS_PORT must be a port number 1...65535, got '\(text)'")
            }
            guard case .tcp(let host, _) = configuration.endpoint else {
                throw RedisError(.invalidArgument, "REDIS_PORT is set but REDIS_URL names a Unix socket")
            }
            configuration.endpoint = .tcp(host: host, port: port)
        }
        if let password = environment["REDIS_PASSWORD"] { configuration.password = password.isEmpty ? nil : password }
        if let username = environment["REDIS_USERNAME"] { configuration.username = username.isEmpty ? nil : username }
        if let text = environment["REDIS_DB"] {
            guard let database = Int(text), database >= 0 else {
                throw RedisError(.invalidArgument, "REDIS_DB must be a database number ≥ 0, got '\(text)'")
            }
            configuration.database = database
        }
        configuration.tls = try RedisTLSConfiguration.fromEnvironment(environment, base: configuration.tls)
        try configuration.validate()
        return configuration
    }

    /// Parses a `redis://`, `rediss://` (TLS with the default settings: system CAs, host name verified) or `unix://`
    /// URL (see `fromEnvironment`).
    public init(url text: String) throws(RedisError) {
        // The message never repeats the URL: it may carry a password.
        func bad(_ why: String) -> RedisError { RedisError(.invalidArgument, "REDIS_URL is malformed: \(why)") }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw bad("expected redis://[[user]:password@]host[:port][/db] or unix:///path")
        }
        var configuration = RedisConfiguration()
        if let user = components.user, !user.isEmpty { configuration.username = user.removingPercentEncoding ?? user }
        if let password = components.password, !password.isEmpty {
            configuration.password = password.removingPercentEncoding ?? password
        }
        switch scheme {
        case "redis", "rediss":
            if scheme == "rediss" { configuration.tls = RedisTLSConfiguration() }
            guard let host = components.host, !host.isEmpty else { throw bad("no host") }
            let port = components.port ?? 6379
            guard (1...65535).contains(port) else { throw bad("port \(port) is outside 1...65535") }
            let unbracketed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            configuration.endpoint = .tcp(host: unbracketed, port: port)
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let database = Int(path), database >= 0 else { throw bad("database '\(path)' is not a number ≥ 0") }
                configuration.database = database
            }
        case "unix":
            guard !components.path.isEmpty else { throw bad("no socket path") }
            configuration.endpoint = .unixSocket(path: components.path)
        default:
            throw bad("unknown scheme '\(scheme)', expected redis, rediss or unix")
        }
        if let database = components.queryItems?.first(where: { $0.name == "db" })?.value {
            guard let number = Int(database), number >= 0 else { throw bad("db '\(database)' is not a number ≥ 0") }
            configuration.database = number
        }
        try configuration.validate()
        self = configuration
    }
}

extension RedisConfiguration: CustomReflectable {
    /// Mirrors every field but the password, so `dump` and debuggers do not print it either.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "endpoint": endpoint, "username": username as Any, "password": password == nil ? "nil" : "<redacted>",
            "database": database, "clientName": clientName as Any,
            "connectTimeout": connectTimeout, "commandTimeout": commandTimeout as Any, "tls": tls as Any,
            "inlineReplyWait": inlineReplyWait,
        ], displayStyle: .struct)
    }
}
