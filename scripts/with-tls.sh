#!/usr/bin/env bash
# Runs a command beside a throwaway TLS redis-server: test certificates made by make-test-certs.sh in a temporary
# directory, a TLS port and a plaintext port (for the bench's same-server comparison) on free loopback ports, client
# certificates optional. The command sees REDIS_TLS_TEST_PORT, REDIS_TLS_TEST_PLAIN_PORT and REDIS_TLS_TEST_CERTS
# (the certificate directory: ca.pem, server.pem, client.pem/.key, expired.pem/.key, other-ca.pem). The server is
# always stopped and the directory removed.
set -uo pipefail
if [ $# -eq 0 ]; then echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
server=$(command -v redis-server) || { echo "redis-server not found; run 'make deps'" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axon-tls.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
certs="$tmp/certs"
"$here/make-test-certs.sh" "$certs" >/dev/null || { echo "could not make test certificates" >&2; exit 1; }

ready=""
for attempt in $(seq 1 20); do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  plain=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  [ "$plain" = "$port" ] && continue
  "$server" --port "$plain" --tls-port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --tls-cert-file "$certs/server.pem" --tls-key-file "$certs/server.key" --tls-ca-cert-file "$certs/ca.pem" \
    --tls-auth-clients optional --logfile "$tmp/redis.log" --daemonize no &
  pid=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if redis-cli --tls --cacert "$certs/ca.pem" -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then ready=1; break; fi
    sleep 0.05
  done
  [ -n "$ready" ] && break
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
done
if [ -z "$ready" ]; then
  echo "could not start a TLS redis-server on a free loopback port; log:" >&2
  cat "$tmp/redis.log" >&2 2>/dev/null
  exit 1
fi
echo "TLS redis-server on 127.0.0.1:$port, plaintext :$plain (pid $pid, dir $tmp)" >&2
export REDIS_TLS_TEST_PORT=$port REDIS_TLS_TEST_PLAIN_PORT=$plain REDIS_TLS_TEST_CERTS=$certs
"$@"
