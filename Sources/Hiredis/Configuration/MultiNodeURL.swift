import Foundation

/// The part `redis+cluster://` and `redis+sentinel://` URLs share: the scheme (`rediss+…` for TLS), the
/// `[user]:password@` user-info and the rest (the node list and what follows). Errors never repeat the URL.
struct MultiNodeURL {
    /// A node template: the user-info's credentials, and TLS with the default settings for a `rediss+` scheme.
    var node: RedisConfiguration
    /// What follows the user-info.
    var rest: Substring

    /// Splits `url`, whose scheme must be `redis+<kind>://` or `rediss+<kind>://`; `example` completes the error.
    init(_ url: String, kind: String, example: String) throws(RedisError) {
        let lowered = url.lowercased()
        guard let scheme = ["redis+\(kind)://", "rediss+\(kind)://"].first(where: { lowered.hasPrefix($0) }) else {
            throw RedisError(.invalidArgument, "a \(kind) URL starts with redis+\(kind):// (or rediss+\(kind):// for TLS), e.g. \(example)")
        }
        rest = Substring(url.dropFirst(scheme.count))
        node = RedisConfiguration()
        if scheme.hasPrefix("rediss") { node.tls = RedisTLSConfiguration() }
        guard let at = rest.lastIndex(of: "@") else { return }
        let userInfo = rest[..<at]
        rest = rest[rest.index(after: at)...]
        guard let colon = userInfo.firstIndex(of: ":") else {
            throw RedisError(.invalidArgument, "a \(kind) URL's user-info must be user:password or :password")
        }
        let user = String(userInfo[..<colon]).removingPercentEncoding ?? ""
        let password = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding ?? ""
        node.username = user.isEmpty ? nil : user
        node.password = password.isEmpty ? nil : password
    }
}
