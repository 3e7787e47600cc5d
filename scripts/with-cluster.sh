#!/usr/bin/env bash
# Runs a command beside a throwaway Redis Cluster: 3 primaries and 3 replicas on free loopback ports, each node in
# its own temporary directory, formed with `redis-cli --cluster create`. The command sees REDIS_CLUSTER_NODES
# (host:port,...) and REDIS_CLUSTER_PORTS (space-separated). Every node is always stopped and the directories
# removed, whether the command passes, fails or is interrupted.
set -uo pipefail
if [ $# -eq 0 ]; then echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; fi
server=$(command -v redis-server) || { echo "redis-server not found; run 'make deps'" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axon-cluster.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
ports=()
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_nodes() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}

# One attempt at six nodes and a cluster on random free ports; fails (and stops its nodes) if a port was taken
# meanwhile or the cluster does not form, so the caller can try other ports.
start_cluster() {
  ports=()
  while [ ${#ports[@]} -lt 6 ]; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
    if port_free "$port" && port_free $((port + 10000)) && [[ ! " ${ports[*]} " =~ " $port " ]]; then ports+=("$port"); fi
  done
  for port in "${ports[@]}"; do
    rm -rf "$tmp/$port"; mkdir -p "$tmp/$port"
    "$server" --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 1000 --cluster-replica-validity-factor 0 --save '' --appendonly no \
      --dir "$tmp/$port" --logfile "$tmp/$port/redis.log" --daemonize no &
    pids+=($!)
  done
  for port in "${ports[@]}"; do
    up=""
    # Up to 20 s: a loaded machine can take seconds to start six servers.
    for _ in $(seq 1 400); do
      redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && { up=1; break; }
      sleep 0.05
    done
    if [ -z "$up" ]; then
      echo "node $port did not start; trying other ports. Its log:" >&2
      tail -5 "$tmp/$port/redis.log" >&2 2>/dev/null
      stop_nodes; return 1
    fi
  done
  nodes=$(printf '127.0.0.1:%s ' "${ports[@]}")
  # It waits for the nodes to meet for as long as it takes: 60 s at most.
  if ! timeout 60 redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$tmp/create.log" 2>&1; then
    echo "could not create the cluster; trying other ports:" >&2; tail -3 "$tmp/create.log" >&2; stop_nodes; return 1
  fi
  for _ in $(seq 1 200); do
    ok=1
    for port in "${ports[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || { ok=""; break; }
    done
    [ -n "$ok" ] && break
    sleep 0.05
  done
  [ -n "$ok" ] || { echo "the cluster did not reach cluster_state:ok; trying again" >&2; stop_nodes; return 1; }
  # Replicas must be in sync before a failover can promote them.
  for _ in $(seq 1 200); do
    synced=0
    for port in "${ports[@]}"; do
      redis-cli -p "$port" info replication | grep -q 'master_link_status:up' && synced=$((synced + 1))
    done
    [ "$synced" -ge 3 ] && return 0
    sleep 0.05
  done
  return 0
}

started=""
for attempt in 1 2 3; do
  if start_cluster; then started=1; break; fi
done
[ -n "$started" ] || { echo "could not start a Redis Cluster in 3 attempts" >&2; exit 1; }
echo "redis cluster on 127.0.0.1 ports ${ports[*]} (dir $tmp)" >&2
export REDIS_CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${ports[@]}" | sed 's/,$//')
export REDIS_CLUSTER_PORTS="${ports[*]}"
"$@"
