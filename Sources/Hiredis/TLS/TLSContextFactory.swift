import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// Builds OpenSSL client contexts from `RedisTLSConfiguration`: TLS 1.2 or later, the CA files or the system's trust
/// store, the client certificate, and per session the name or address the certificate must carry. A context is
/// made per connect (connects are rare), so rotated certificate files are read again by the next connection.
enum TLSContextFactory {
    /// A new client context; the caller frees it (`SSL_CTX_free`) once its sessions are made. Unreadable files are
    /// `invalidArgument` errors naming the file and OpenSSL's reason.
    static func make(_ settings: RedisTLSConfiguration) throws(RedisError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw RedisError(.connectionFailed, "could not create a TLS context: \(TLSStream.drainErrors().joined(separator: "; "))")
        }
        do {
            try configure(context, settings)
            return context
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    private static func configure(_ context: OpaquePointer, _ settings: RedisTLSConfiguration) throws(RedisError) {
        func failure(_ what: String) -> RedisError {
            RedisError(.invalidArgument, "\(what): \(TLSStream.drainErrors().joined(separator: "; "))")
        }
        _ = axon_ssl_ctx_min_tls12(context)
        switch settings.verification {
        case .full:
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if settings.caFile != nil || settings.caDirectory != nil {
                guard SSL_CTX_load_verify_locations(context, settings.caFile, settings.caDirectory) == 1 else {
                    throw failure("could not load the TLS CA certificates from \(settings.caFile ?? settings.caDirectory ?? "")")
                }
            } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                throw failure("could not load the system's CA certificates")
            }
        case .insecureNoVerification:
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if let certificateFile = settings.certificateFile, let keyFile = settings.keyFile {
            guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
                throw failure("could not load the TLS client certificate \(certificateFile)")
            }
            guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
                throw failure("could not load the TLS client key \(keyFile)")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw failure("the TLS client key \(keyFile) does not match the certificate \(certificateFile)")
            }
        }
    }

    /// Sets what the server's certificate must name (`serverName`, else `host`: by IP address when it is one) and
    /// SNI (host names only).
    static func configurePeer(_ ssl: OpaquePointer, settings: RedisTLSConfiguration, host: String) throws(RedisError) {
        let name = settings.serverName ?? host
        if isIPAddress(name) {
            if settings.verification == .full {
                guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 else {
                    throw RedisError(.invalidArgument, "'\(name)' is not an IP address OpenSSL can check a certificate against")
                }
            }
        } else {
            _ = axon_ssl_set_sni(ssl, name)
            if settings.verification == .full {
                guard SSL_set1_host(ssl, name) == 1 else {
                    throw RedisError(.invalidArgument, "'\(name)' is not a host name OpenSSL can check a certificate against")
                }
            }
        }
    }

    private static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
