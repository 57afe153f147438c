#!/usr/bin/env bash
# Profiles nearcache's hit path under load: GETs of 10k cached 1 KiB keys
# from nc_loadgen (50 connections, no pipelining) on a Unix socket.
#
#   strace     syscalls per request (strace -c -f on the server)
#   perf       where the CPU time goes, kernel included (perf record with the
#              cpu-clock software event: hardware counters are not available
#              in this VM)
#   callgrind  instructions per request, by function (user space only)
#   heaptrack  heap allocations per request
#
# usage: bench/scripts/profile_hit.sh [--build-dir DIR] [--out DIR]
#                                     [--tools "strace perf callgrind heaptrack"]
# Writes one text file per tool into --out (default /tmp/nearcache-profile),
# plus the raw callgrind.out and heaptrack data for callgrind_annotate
# (--tree=caller) and heaptrack_print. Takes ~2-3 minutes with every tool.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=$ROOT/build
OUT=/tmp/nearcache-profile
TOOLS="strace perf callgrind heaptrack"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=$(cd "$2" && pwd); shift ;;
    --out) OUT=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile_hit.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
NEARCACHE_BIN=${NEARCACHE_BIN:-$BUILD_DIR/src/app/nearcache}
LOADGEN=${NC_LOADGEN_BIN:-$BUILD_DIR/bench/nc_loadgen}
mkdir -p "$OUT"
T=$(mktemp -d /tmp/ncprof.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
log() { printf '[%4ds] %s\n' "$SECONDS" "$*" >&2; }

wait_sock() {  # PATH PID [TRIES]
  local i
  for i in $(seq 1 "${3:-100}"); do
    [[ -S $1 ]] && redis-cli -s "$1" PING >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "process $2 exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "no answer on $1" >&2
  exit 1
}

redis-server --port 0 --unixsocket "$T/redis.sock" --save "" --appendonly no \
  --dir "$T" --logfile "$T/redis.log" &
PIDS+=($!)
wait_sock "$T/redis.sock" "${PIDS[0]}"
"$LOADGEN" --socket "$T/redis.sock" --preload-only --keys 10000 --quiet

cat >"$T/nc.yaml" <<EOF
listen:
  resp_socket: $T/nc.sock
  http_socket: ""
  threads: 1
admin:
  address: 127.0.0.1:$((20000 + RANDOM % 20000))
redis:
  address: unix://$T/redis.sock
cache:
  max_bytes: 256MiB
  ttl: 1h
log:
  level: warn
  format: text
EOF

NC_PID=
# start_nc [WRAPPER...]: starts nearcache (under a tool), waits, warms.
start_nc() {
  rm -f "$T/nc.sock"
  "$@" "$NEARCACHE_BIN" --config "$T/nc.yaml" >"$T/nc.log" 2>&1 &
  NC_PID=$!
  PIDS+=("$NC_PID")
  wait_sock "$T/nc.sock" "$NC_PID" 300
  # Nothing is fresh until the invalidation link is up (slow under a tool):
  # warm until a pass over the keys misses nothing.
  local i m0 m1
  for i in $(seq 1 20); do
    sleep 0.5
    m0=$(misses)
    "$LOADGEN" --socket "$T/nc.sock" --keys 10000 --command MGET:100 \
      --connections 4 --requests 2000 --quiet
    m1=$(misses)
    ((m1 == m0)) && return 0
  done
  echo "the cache did not warm (misses keep coming)" >&2
}
stop_nc() {
  # A wrapper (heaptrack is a script) passes no signal on: stop its children.
  local child
  for child in $(pgrep -P "$NC_PID" || true); do kill -INT "$child" 2>/dev/null || true; done
  kill -INT "$NC_PID" 2>/dev/null || true
  wait "$NC_PID" 2>/dev/null || true
}
misses() { redis-cli -s "$T/nc.sock" INFO stats | tr -d '\r' | sed -n 's/^keyspace_misses://p'; }
hits() { redis-cli -s "$T/nc.sock" INFO stats | tr -d '\r' | sed -n 's/^keyspace_hits://p'; }
load() {  # REQUESTS
  "$LOADGEN" --socket "$T/nc.sock" --keys 10000 --connections 50 \
    --requests "$1" --json "$T/load.json" --quiet
}

for tool in $TOOLS; do
  case "$tool" in
    strace)
      log "strace: syscalls per request"
      start_nc
      n=100000
      timeout 120 strace -c -f -q -o "$OUT/strace.txt" -p "$NC_PID" &
      st=$!
      sleep 1
      load $n
      kill -INT "$st"; wait "$st" 2>/dev/null || true
      echo "requests: $n" >>"$OUT/strace.txt"
      stop_nc
      ;;
    perf)
      log "perf: cpu-clock samples, 5 s of load"
      start_nc
      perf record -q -e cpu-clock -F 4999 -g -p "$NC_PID" -o "$T/perf.data" \
        -- sleep 6 2>/dev/null &
      pr=$!
      "$LOADGEN" --socket "$T/nc.sock" --keys 10000 --connections 50 \
        --duration 5 --json "$T/load.json" --quiet
      wait "$pr" || true
      perf report -i "$T/perf.data" --no-children --sort dso,symbol \
        --stdio -g none --percent-limit 0.5 2>/dev/null >"$OUT/perf.txt" || true
      perf report -i "$T/perf.data" --no-children --sort dso --stdio \
        -g none 2>/dev/null >"$OUT/perf-dso.txt" || true
      perf report -i "$T/perf.data" --children --sort symbol --stdio \
        -g none --percent-limit 2 2>/dev/null >"$OUT/perf-children.txt" || true
      python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("throughput under perf: %.0f req/s" % j["throughput_rps"])' \
        "$T/load.json" >>"$OUT/perf.txt"
      stop_nc
      ;;
    callgrind)
      log "callgrind: instructions per request"
      start_nc valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$T/callgrind.out" --dump-instr=no
      n=20000
      h0=$(hits)
      callgrind_control -i on "$NC_PID" >/dev/null
      load $n
      callgrind_control -i off "$NC_PID" >/dev/null
      h1=$(hits)
      stop_nc
      cp "$T/callgrind.out" "$OUT/callgrind.out"
      callgrind_annotate --inclusive=yes "$T/callgrind.out" 2>/dev/null |
        head -80 >"$OUT/callgrind-inclusive.txt" || true
      callgrind_annotate "$T/callgrind.out" 2>/dev/null |
        head -60 >"$OUT/callgrind-self.txt" || true
      echo "requests: $n (cache hits counted meanwhile: $((h1 - h0)))" >>"$OUT/callgrind-self.txt"
      ;;
    heaptrack)
      log "heaptrack: allocations per request"
      start_nc heaptrack -o "$T/heaptrack.nc"
      n=100000
      load $n
      stop_nc
      sleep 1
      f=$(ls "$T"/heaptrack.nc* 2>/dev/null | head -1 || true)
      cp "$f" "$OUT/"
      heaptrack_print -f "$f" --print-peaks no --print-leaks no \
        --print-temporary no --print-allocators yes 2>/dev/null |
        head -120 >"$OUT/heaptrack.txt" || true
      heaptrack_print -f "$f" --print-peaks no --print-leaks no \
        --print-temporary no --print-allocators no 2>/dev/null |
        tail -12 >>"$OUT/heaptrack.txt" || true
      echo "requests: $n GET, after warm-up passes of 2000 MGET:100 (10000 keys fetched; counted too)" >>"$OUT/heaptrack.txt"
      ;;
    *) echo "unknown tool $tool" >&2; exit 2 ;;
  esac
done
log "profiles in $OUT"
ls "$OUT" >&2
