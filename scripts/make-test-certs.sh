#!/usr/bin/env bash
# Makes throwaway TLS certificates for the tests and the bench in DIR (default: a new temporary directory, printed):
#   ca.pem/ca.key            the test CA
#   server.pem/server.key    signed by it, for localhost and 127.0.0.1
#   client.pem/client.key    a client certificate signed by it (mutual TLS)
#   expired.pem/expired.key  a server certificate signed by it that expired yesterday
#   other-ca.pem             an unrelated CA (a client trusting only it rejects the server)
# RSA 2048, valid for 2 days. Only loopback names.
set -euo pipefail
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/axon-certs.XXXXXX")}
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "make-test-certs: '$*' failed" >&2; "$@"; exit 1; }; }
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=Axon Test CA"
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=Unrelated CA"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for name in server client expired; do
  quiet openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name"
done
quiet openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
quiet openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext
# Expired: OpenSSL 3.0 accepts negative days (valid from now until yesterday; verification says "certificate has expired").
quiet openssl x509 -req -in expired.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out expired.pem -days -1 -extfile server.ext
rm -f ./*.csr ./*.ext ./*.srl other-ca.key
chmod 600 ./*.key
echo "$dir"
