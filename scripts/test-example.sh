#!/usr/bin/env bash
# Builds Examples/agent-service and drives it over HTTP on loopback with curl, against the redis-server that
# with-redis.sh started (REDIS_HOST/REDIS_PORT): turns stored and read back in order, 429 with Retry-After past the
# per-user limit, /metrics in Prometheus format with this package's metric names, a clean exit on SIGTERM.
# The service is always stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
example="$root/Examples/agent-service"
if ! out=$(swift build --package-path "$example" 2>&1); then echo "$out" | tail -60 >&2; echo "agent-service did not build" >&2; exit 1; fi
grep -E "warning: [^']|Build complete" <<<"$out" || true
binary="$(swift build --package-path "$example" --show-bin-path)/AgentService"
[ -x "$binary" ] || { echo "agent-service did not build" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/axon-agent.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "agent-service test: $*" >&2; echo "--- service log:" >&2; cat "$tmp/log" >&2; exit 1; }

started=""
for attempt in $(seq 1 10); do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  PORT=$port TURNS_PER_MINUTE=5 "$binary" >"$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break                       # exited: port taken, try another
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then started=1; break; fi
    sleep 0.05
  done
  [ -n "$started" ] && break
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
done
[ -n "$started" ] || fail "did not start"
base="http://127.0.0.1:$port"
session="s-$RANDOM$RANDOM"

# Five turns are within the limit (5 per minute per user) and stored in order.
for i in 1 2 3 4 5; do
  role=$([ $((i % 2)) -eq 1 ] && echo user || echo assistant)
  code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"user\":\"u1\",\"role\":\"$role\",\"text\":\"turn $i about refunds\"}" "$base/sessions/$session/turns")
  [ "$code" = 201 ] || fail "turn $i: HTTP $code $(cat "$tmp/body")"
done
# The sixth is refused with 429 and a Retry-After in whole seconds; another user is not limited.
code=$(curl -sS -D "$tmp/headers" -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  -d '{"user":"u1","role":"user","text":"one too many"}' "$base/sessions/$session/turns")
[ "$code" = 429 ] || fail "sixth turn: HTTP $code, expected 429"
grep -iqE '^retry-after: [1-9][0-9]*' "$tmp/headers" || fail "429 without Retry-After: $(cat "$tmp/headers")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  -d '{"user":"u2","role":"user","text":"turn 6 from another user"}' "$base/sessions/$session/turns")
[ "$code" = 201 ] || fail "another user's turn: HTTP $code"

# History: the six stored turns, oldest first.
curl -fsS "$base/sessions/$session/history" >"$tmp/history" || fail "history failed"
python3 - "$tmp/history" <<'PY' || fail "history: $(cat "$tmp/history")"
import json, sys
turns = json.load(open(sys.argv[1]))["turns"]
texts = [t["text"] for t in turns]
expected = [f"turn {i} about refunds" for i in range(1, 6)] + ["turn 6 from another user"]
assert texts == expected, texts
assert [t["role"] for t in turns[:2]] == ["user", "assistant"], turns
PY
# Recall finds the session's turns by word.
curl -fsS "$base/sessions/$session/recall?q=refunds" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["turns"]) == 5' \
  || fail "recall"

# Metrics: 200, Prometheus text, with the client's, the memory layer's and the limiter's metrics.
code=$(curl -sS -o "$tmp/metrics" -w '%{http_code}' "$base/metrics")
[ "$code" = 200 ] || fail "/metrics: HTTP $code"
for name in db_client_operation_duration db_client_connection_count axon_memory_operation_duration axon_ratelimit_decisions axon_lock_events; do
  grep -q "^$name" "$tmp/metrics" || fail "/metrics has no $name"
done
grep -q 'outcome="denied"' "$tmp/metrics" || fail "/metrics does not count the denied request"

# SIGTERM: a graceful shutdown and a zero exit status within 10 s.
kill -TERM "$pid"
for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then fail "still running 10 s after SIGTERM"; fi
status=0; wait "$pid" || status=$?
pid=""
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
grep -q "agent-service stopped" "$tmp/log" || fail "no clean stop in the log"
echo "agent-service: 201 x6, 429 with Retry-After, history in order, recall, /metrics, clean SIGTERM: passed"
