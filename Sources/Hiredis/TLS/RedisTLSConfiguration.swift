/// TLS settings of a connection (`RedisConfiguration.tls`): certificates are verified against `caFile` /
/// `caDirectory` (the system's trust store when both are `nil`) and the server name (default: the host, by IP
/// address when the host is one); `certificateFile` and `keyFile` present a client certificate (mutual TLS).
/// TLS 1.2 or later, through Debian's OpenSSL.
///
/// `description` shows file paths, never their contents.
public struct RedisTLSConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// Whether the server's certificate is checked.
    public enum Verification: Sendable, Hashable {
        /// The chain must lead to a trusted CA and the certificate must name the server (the default).
        case full
        /// Nothing is checked: anyone on the path can read and change the traffic. For tests against throwaway
        /// certificates only; every connection logs a warning.
        case insecureNoVerification
    }

    /// PEM file of the CA certificates to trust; `nil` (with `caDirectory` `nil`): the system's.
    public var caFile: String?
    /// Directory of hashed CA certificates (`openssl rehash`) to trust.
    public var caDirectory: String?
    /// The name sent with SNI and checked against the certificate; `nil`: the host being connected to (an IP address
    /// is checked against the certificate's IP addresses and sent without SNI).
    public var serverName: String?
    /// PEM file of the client certificate (and its chain) for mutual TLS; needs `keyFile`.
    public var certificateFile: String?
    /// PEM file of the client certificate's private key (unencrypted).
    public var keyFile: String?
    /// Whether the server's certificate is checked (`.full` unless you name the insecure case).
    public var verification: Verification

    /// TLS settings; the defaults trust the system's CAs and verify the host name.
    public init(
        caFile: String? = nil, caDirectory: String? = nil, serverName: String? = nil, certificateFile: String? = nil,
        keyFile: String? = nil, verification: Verification = .full
    ) {
        self.caFile = caFile
        self.caDirectory = caDirectory
        self.serverName = serverName
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verification = verification
    }

    public var description: String {
        var parts: [String] = []
        if let caFile { parts.append("caFile: \(caFile)") }
        if let caDirectory { parts.append("caDirectory: \(caDirectory)") }
        if caFile == nil && caDirectory == nil { parts.append("ca: system") }
        if let serverName { parts.append("serverName: \(serverName)") }
        if let certificateFile { parts.append("certificateFile: \(certificateFile)") }
        if keyFile != nil { parts.append("keyFile: <set>") }
        if verification == .insecureNoVerification { parts.append("verification: OFF (insecure)") }
        return "TLS(\(parts.joined(separator: ", ")))"
    }

    /// Checks the settings fit together; throws `invalidArgument` saying what is missing.
    public func validate() throws(RedisError) {
        if (certificateFile == nil) != (keyFile == nil) {
            throw RedisError(.invalidArgument, "a TLS client certificate needs both certificateFile and keyFile (REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE)")
        }
        for (name, value) in [("caFile", caFile), ("caDirectory", caDirectory), ("serverName", serverName),
                              ("certificateFile", certificateFile), ("keyFile", keyFile)] {
            if let value, value.isEmpty || value.utf8.contains(0) {
                throw RedisError(.invalidArgument, "TLS \(name) is empty or contains a NUL byte")
            }
        }
    }

    /// Applies the environment to `base` (TLS from a `rediss://` URL, or `nil`): `REDIS_TLS` (`1`/`true`/`yes` turns
    /// TLS on with the defaults, `0`/`false`/`no` off), then `REDIS_TLS_CA_FILE`, `REDIS_TLS_CA_DIR`,
    /// `REDIS_TLS_SERVER_NAME`, `REDIS_TLS_CERT_FILE`, `REDIS_TLS_KEY_FILE` and `REDIS_TLS_INSECURE_SKIP_VERIFY`
    /// (`1`/`true`/`yes`). One of those set while TLS is off is an `invalidArgument` error (it would be ignored).
    static func fromEnvironment(_ environment: [String: String], base: RedisTLSConfiguration?) throws(RedisError) -> RedisTLSConfiguration? {
        func flag(_ name: String) throws(RedisError) -> Bool? {
            guard let text = environment[name] else { return nil }
            switch text.lowercased() {
            case "1", "true", "yes": return true
            case "", "0", "false", "no": return false
            default: throw RedisError(.invalidArgument, "\(name) must be 1/true/yes or 0/false/no, got '\(text)'")
            }
        }
        var tls = base
        if let on = try flag("REDIS_TLS") { tls = on ? (base ?? RedisTLSConfiguration()) : nil }
        let names = ["REDIS_TLS_CA_FILE", "REDIS_TLS_CA_DIR", "REDIS_TLS_SERVER_NAME", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE",
                     "REDIS_TLS_INSECURE_SKIP_VERIFY"]
        guard var configured = tls else {
            if let name = names.first(where: { environment[$0] != nil }) {
                throw RedisError(.invalidArgument, "\(name) is set but TLS is off: use a rediss:// URL or REDIS_TLS=1")
            }
            return nil
        }
        func value(_ name: String) -> String?? { environment[name].map { $0.isEmpty ? nil : $0 } }
        if let caFile = value("REDIS_TLS_CA_FILE") { configured.caFile = caFile }
        if let caDirectory = value("REDIS_TLS_CA_DIR") { configured.caDirectory = caDirectory }
        if let serverName = value("REDIS_TLS_SERVER_NAME") { configured.serverName = serverName }
        if let certificateFile = value("REDIS_TLS_CERT_FILE") { configured.certificateFile = certificateFile }
        if let keyFile = value("REDIS_TLS_KEY_FILE") { configured.keyFile = keyFile }
        if let insecure = try flag("REDIS_TLS_INSECURE_SKIP_VERIFY") { configured.verification = insecure ? .insecureNoVerification : .full }
        return configured
    }
}
