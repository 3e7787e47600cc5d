#!/usr/bin/env bash
# Runs a command beside a throwaway redis-server: free loopback port, temporary directory, no persistence.
# The command sees REDIS_TEST_HOST, REDIS_TEST_PORT, REDIS_TEST_SOCKET, REDIS_SERVER_BIN, and REDIS_HOST/REDIS_PORT.
# The server is always stopped and the directory removed, whether the command passes, fails or is interrupted.
set -uo pipefail
if [ $# -eq 0 ]; then echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; fi
server=$(command -v redis-server) || { echo "redis-server not found; run 'make deps'" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axon-redis.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ready=""
for attempt in $(seq 1 20); do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --logfile "$tmp/redis.log" --daemonize no &
  pid=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi          # exited: port taken, try another
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then ready=1; break; fi
    sleep 0.05
  done
  [ -n "$ready" ] && break
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
done
if [ -z "$ready" ]; then
  echo "could not start redis-server on a free loopback port; log:" >&2
  cat "$tmp/redis.log" >&2 2>/dev/null
  exit 1
fi
echo "redis-server $("$server" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port (pid $pid, dir $tmp)" >&2

export REDIS_TEST_HOST=127.0.0.1 REDIS_TEST_PORT="$port" REDIS_TEST_SOCKET="$tmp/redis.sock" REDIS_SERVER_BIN="$server"
export REDIS_HOST=127.0.0.1 REDIS_PORT="$port"
"$@"
