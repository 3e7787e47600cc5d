#ifndef AXON_COPENSSL_SHIM_H
#define AXON_COPENSSL_SHIM_H

// OpenSSL 3 from Debian (libssl-dev), for TLS connections: the socket I/O and handshake are OpenSSL's, command
// formatting and reply parsing stay hiredis'. The functions below wrap OpenSSL macros, which Swift cannot call.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static inline long axon_ssl_set_sni(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline long axon_ssl_ctx_min_tls12(SSL_CTX *ctx) { return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline long axon_ssl_set_write_modes(SSL *ssl) {
    return SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

#endif
