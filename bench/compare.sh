#!/usr/bin/env bash
# Side by side: nearcache vs redis-server, on one machine, in one run.
#
# Starts a throwaway redis-server (temp dir, Unix socket, no persistence) and
# nearcache instances with generated configs, preloads keys, then runs
# nc_loadgen and redis-benchmark in ALTERNATING rounds against (a) Redis
# directly and (b) nearcache, for these scenarios:
#   hit      10k keys x 1 KiB, all cached (the cache is warmed first)
#   miss     the same keys, max_bytes 64KiB: nearly every GET reads through
#   zipf     100k keys, Zipf s=0.99, cache holds ~10% of them; 95% GETs to
#            the target, 5% SETs to Redis (nearcache sees invalidations)
#   memory   nearcache RSS vs max_bytes under churn (evictions + writes), with
#            256-2048-byte values and again with 32-256-byte ones
#   http     POST /v1/lookup, when nearcache serves HTTP (else a TODO row)
#   lag      invalidation lag, when bench/invalidation_lag is built (else TODO)
# then hit, miss and zipf again with Redis behind nc_delay_proxy (0.5 ms each
# way): nearcache points at the proxy, "redis" means the client goes through
# the proxy too. Figures move +-20% run to run on a shared machine: only the
# ratios within one run mean much.
#
# Writes a markdown report (--out, default /tmp/nearcache-bench.md) and
# prints it. Bounded: ~6-8 minutes by default, ~1-2 minutes with --quick.
#
# usage: bench/compare.sh [--quick] [--out FILE] [--rounds N]
#                         [--duration SECONDS] [--build-dir DIR] [--no-proxy]
#                         [--keep]
# env:   NEARCACHE_BIN (default BUILD_DIR/src/app/nearcache),
#        NC_LOADGEN_BIN, NC_DELAY_PROXY_BIN (default BUILD_DIR/bench/...),
#        INVALIDATION_LAG_BIN (default BUILD_DIR/bench/invalidation_lag),
#        NEARCACHE_THREADS (listen.threads, default 1),
#        BENCH_SOURCE_LABEL (what the report names as the source, default
#        the git commit of this checkout)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMMAND_LINE="bench/compare.sh $*"
OUT=/tmp/nearcache-bench.md
ROUNDS=3
DURATION=5
QUICK=0
PROXY=1
KEEP=0
BUILD_DIR="$ROOT/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; ROUNDS=1; DURATION=2 ;;
    --out) OUT=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --build-dir) BUILD_DIR=$(cd "$2" && pwd); shift ;;
    --no-proxy) PROXY=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

NEARCACHE_BIN=${NEARCACHE_BIN:-$BUILD_DIR/src/app/nearcache}
LOADGEN=${NC_LOADGEN_BIN:-$BUILD_DIR/bench/nc_loadgen}
DELAY_PROXY=${NC_DELAY_PROXY_BIN:-$BUILD_DIR/bench/nc_delay_proxy}
THREADS=${NEARCACHE_THREADS:-1}
for bin in "$NEARCACHE_BIN" "$LOADGEN" "$DELAY_PROXY"; do
  [[ -x $bin ]] || { echo "compare.sh: $bin not built (try --build-dir)" >&2; exit 2; }
done
for tool in redis-server redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 2; }
done

CONNS=50
VALUE=1024
HIT_KEYS=10000
ZIPF_KEYS=100000
MEM_KEYS=120000
MEM_SMALL_KEYS=400000
MEM_MAX_BYTES=$((32 << 20))
MEM_DURATION=$((QUICK ? 6 : 20))
# Bytes nearcache charges per entry beyond key and value (for the memory
# overhead figure): read from the header so that it stays true.
ENTRY_OVERHEAD=$(sed -n 's/.*kEntryOverhead = \([0-9]*\);.*/\1/p' \
  "$ROOT/include/nearcache/cache.h" | head -1)
ENTRY_OVERHEAD=${ENTRY_OVERHEAD:-0}
# Hard cap on the whole run; scenarios past it are skipped (and say so).
DEADLINE=$((SECONDS + (QUICK ? 240 : 900)))

T=$(mktemp -d /tmp/ncbench.XXXXXX)
RUNS=$T/runs
mkdir -p "$RUNS"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $KEEP == 1 ]]; then echo "compare.sh: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%4ds] %s\n' "$SECONDS" "$*" >&2; }

wait_for_socket() {  # PATH PID NAME
  local i
  for i in $(seq 1 100); do
    if [[ -S $1 ]] && redis-cli -s "$1" PING >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "compare.sh: $3 exited; log:" >&2; tail -20 "$T/$3.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "compare.sh: $3 did not answer on $1" >&2
  exit 1
}

stop_pid() {  # PID
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# ------------------------------------------------------------------ servers

REDIS_SOCK=$T/redis.sock
redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
  --save "" --appendonly no --dir "$T" --logfile "$T/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_for_socket "$REDIS_SOCK" "$REDIS_PID" redis

PROXY_SOCK=$T/proxy.sock
PROXY_PID=
start_proxy() {
  "$DELAY_PROXY" --listen "unix:$PROXY_SOCK" --upstream "unix:$REDIS_SOCK" \
    --delay-ms 0.5 2>"$T/proxy.log" &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_for_socket "$PROXY_SOCK" "$PROXY_PID" proxy
}

# start_nearcache NAME MAX_BYTES REDIS_SOCKET: sets NC_SOCK, NC_PID, NC_HTTP.
ADMIN_PORT=$((20000 + RANDOM % 20000))
start_nearcache() {
  local name=$1 max_bytes=$2 upstream=$3
  NC_SOCK=$T/$name.sock
  NC_HTTP=$T/$name.http.sock
  ADMIN_PORT=$((ADMIN_PORT + 1))
  cat >"$T/$name.yaml" <<EOF
listen:
  resp_socket: $NC_SOCK
  http_socket: $NC_HTTP
  socket_mode: "0600"
  threads: $THREADS
admin:
  address: 127.0.0.1:$ADMIN_PORT
redis:
  address: unix://$upstream
  pool_size: 4
cache:
  max_bytes: ${max_bytes}B
  ttl: 1h
  max_stale: 10m
log:
  level: warn
  format: text
EOF
  if ! "$NEARCACHE_BIN" --check-config "$T/$name.yaml" >/dev/null 2>"$T/$name.check"; then
    # An older build may not know every key: drop http_socket and retry.
    sed -i '/http_socket/d' "$T/$name.yaml"
    "$NEARCACHE_BIN" --check-config "$T/$name.yaml" >/dev/null
  fi
  "$NEARCACHE_BIN" --config "$T/$name.yaml" >"$T/$name.log" 2>&1 &
  NC_PID=$!
  PIDS+=("$NC_PID")
  wait_for_socket "$NC_SOCK" "$NC_PID" "$name"
  sleep 0.3  # the invalidation link: nothing is fresh until it is up
}

info_stats() {  # SOCKET FILE
  redis-cli -s "$1" INFO stats | tr -d '\r' >"$2"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# ------------------------------------------------------------------ runners

# loadgen NAME SOCKET ARGS...: one nc_loadgen run into $RUNS/NAME.json.
loadgen() {
  local name=$1 sock=$2
  shift 2
  timeout $((DURATION * 3 + 30)) "$LOADGEN" --socket "$sock" \
    --connections "$CONNS" --warmup 0.5 --duration "$DURATION" --quiet \
    --json "$RUNS/$name.json" "$@" 2>>"$T/loadgen.log" ||
    log "nc_loadgen $name failed (see $T/loadgen.log)"
}

# bench_rb NAME SOCKET REQUESTS: one redis-benchmark run into $RUNS/NAME.csv.
bench_rb() {
  local name=$1 sock=$2 n=$3
  timeout $((DURATION * 4 + 30)) redis-benchmark -s "$sock" -t get \
    -c "$CONNS" -n "$n" -d "$VALUE" -r "$HIT_KEYS" -P 1 --csv \
    >"$RUNS/$name.csv" 2>>"$T/redis-benchmark.log" ||
    log "redis-benchmark $name failed"
}

# How many requests make redis-benchmark run ~DURATION seconds: what
# nc_loadgen just measured against the same target, times the duration.
rb_requests() {  # LOADGEN_JSON
  python3 - "$1" "$DURATION" <<'EOF'
import json, sys
try:
    rps = json.load(open(sys.argv[1]))["throughput_rps"]
except Exception:
    rps = 20000
print(max(10000, min(2000000, int(rps * float(sys.argv[2])))))
EOF
}

# run_pair PHASE SCENARIO REDIS_SOCK NC_SOCK RB(0|1) LOADGEN_ARGS...
# Rounds alternate which target goes first; each round runs nc_loadgen
# against both, then redis-benchmark against both.
run_pair() {
  local phase=$1 scenario=$2 rsock=$3 nsock=$4 rb=$5
  shift 5
  local r order target sock base
  for r in $(seq 1 "$ROUNDS"); do
    if ((SECONDS > DEADLINE)); then
      log "deadline reached: skipping $phase/$scenario round $r"
      echo "$phase $scenario round $r" >>"$RUNS/skipped.txt"
      return
    fi
    if ((r % 2 == 1)); then order="redis nearcache"; else order="nearcache redis"; fi
    for target in $order; do
      sock=$rsock
      [[ $target == nearcache ]] && sock=$nsock
      base=$phase.$scenario.$target
      [[ $target == nearcache ]] && info_stats "$sock" "$RUNS/$base.nc_loadgen.r$r.before"
      loadgen "$base.nc_loadgen.r$r" "$sock" "$@"
      [[ $target == nearcache ]] && info_stats "$sock" "$RUNS/$base.nc_loadgen.r$r.after"
    done
    if [[ $rb == 1 ]]; then
      for target in $order; do
        sock=$rsock
        [[ $target == nearcache ]] && sock=$nsock
        base=$phase.$scenario.$target
        [[ $target == nearcache ]] && info_stats "$sock" "$RUNS/$base.redis-benchmark.r$r.before"
        bench_rb "$base.redis-benchmark.r$r" "$sock" \
          "$(rb_requests "$RUNS/$base.nc_loadgen.r$r.json")"
        [[ $target == nearcache ]] && info_stats "$sock" "$RUNS/$base.redis-benchmark.r$r.after"
      done
    fi
    log "$phase/$scenario round $r/$ROUNDS done"
  done
}

# Warms a nearcache with every key of a key space (MGET of 100 random keys,
# enough draws that a key is missed with probability ~e^-20).
warm() {  # SOCKET KEYS PREFIX
  "$LOADGEN" --socket "$1" --keys "$2" --key-prefix "$3" --command MGET:100 \
    --connections 4 --requests $(($2 * 20 / 100)) --quiet 2>>"$T/loadgen.log"
}

# --------------------------------------------------------------- scenarios

preload() {  # PREFIX KEYS [ARGS...]
  local prefix=$1 keys=$2
  shift 2
  "$LOADGEN" --socket "$REDIS_SOCK" --preload-only --keys "$keys" \
    --key-prefix "$prefix" --value-size "$VALUE" "$@" 2>>"$T/loadgen.log"
}

scenario_hit() {  # PHASE UPSTREAM_SOCK
  local phase=$1 up=$2
  start_nearcache "$phase-hit" $((256 << 20)) "$up"
  warm "$NC_SOCK" "$HIT_KEYS" key:
  info_stats "$NC_SOCK" "$RUNS/$phase.hit.warm"
  run_pair "$phase" hit "$up" "$NC_SOCK" 1 --keys "$HIT_KEYS" --key-prefix key:
  maybe_http "$phase" "$up"
  maybe_invalidation_lag "$phase" "$up"
  stop_pid "$NC_PID"
}

scenario_miss() {
  local phase=$1 up=$2
  start_nearcache "$phase-miss" $((64 << 10)) "$up"
  run_pair "$phase" miss "$up" "$NC_SOCK" 1 --keys "$HIT_KEYS" --key-prefix key:
  stop_pid "$NC_PID"
}

scenario_zipf() {
  local phase=$1 up=$2
  # ~10% of the keys fit: each is charged key + value + the entry overhead.
  local per_entry=$((14 + VALUE + ENTRY_OVERHEAD))
  start_nearcache "$phase-zipf" $((ZIPF_KEYS / 10 * per_entry)) "$up"
  run_pair "$phase" zipf "$up" "$NC_SOCK" 0 --keys "$ZIPF_KEYS" --key-prefix z: \
    --distribution zipf --zipf-s 0.99 --read-ratio 0.95 --write-socket "$up" \
    --value-size "$VALUE"
  stop_pid "$NC_PID"
}

# HTTP front-end: POST /v1/lookup with 50 keys (the issue's size) vs MGET of 50 keys.
maybe_http() {
  local phase=$1 up=$2
  if [[ ! -S $NC_HTTP ]]; then
    echo "no HTTP socket at $NC_HTTP: nearcache serves no HTTP in this build" \
      >"$RUNS/$phase.http.todo"
    return
  fi
  local r
  for r in $(seq 1 "$ROUNDS"); do
    ((SECONDS > DEADLINE)) && return
    loadgen "$phase.http-lookup50.redis.nc_loadgen.r$r" "$up" --keys "$HIT_KEYS" --command MGET:50
    info_stats "$NC_SOCK" "$RUNS/$phase.http-lookup50.nearcache.nc_loadgen.r$r.before"
    loadgen "$phase.http-lookup50.nearcache.nc_loadgen.r$r" "$NC_HTTP" \
      --protocol http --keys "$HIT_KEYS" --command LOOKUP:50
    info_stats "$NC_SOCK" "$RUNS/$phase.http-lookup50.nearcache.nc_loadgen.r$r.after"
    loadgen "$phase.http-lookup50.nearcache-resp.nc_loadgen.r$r" "$NC_SOCK" \
      --keys "$HIT_KEYS" --command MGET:50
  done
}

# scenario_memory PHASE UPSTREAM NAME PREFIX KEYS VALUE_MIN VALUE_MAX
scenario_memory() {
  local phase=$1 up=$2 name=$3 prefix=$4 keys=$5 vmin=$6 vmax=$7
  start_nearcache "$phase-$name" "$MEM_MAX_BYTES" "$up"
  local base_rss
  base_rss=$(rss_kib "$NC_PID")
  "$LOADGEN" --socket "$NC_SOCK" --write-socket "$up" --keys "$keys" \
    --key-prefix "$prefix" --value-size "$vmin" --value-size-max "$vmax" \
    --read-ratio 0.9 --connections "$CONNS" --duration "$MEM_DURATION" \
    --quiet --json "$RUNS/$phase.$name.json" 2>>"$T/loadgen.log" &
  local lg=$! max_rss=0 rss
  while kill -0 "$lg" 2>/dev/null; do
    rss=$(rss_kib "$NC_PID")
    ((rss > max_rss)) && max_rss=$rss
    sleep 0.25
  done
  wait "$lg" || true
  info_stats "$NC_SOCK" "$RUNS/$phase.$name.info"
  cat >"$RUNS/$phase.$name.mem" <<EOF
base_rss_kib=$base_rss
max_rss_kib=$max_rss
end_rss_kib=$(rss_kib "$NC_PID")
hwm_kib=$(hwm_kib "$NC_PID")
max_bytes=$MEM_MAX_BYTES
entry_overhead=$ENTRY_OVERHEAD
keys=$keys
value_min=$vmin
value_max=$vmax
duration=$MEM_DURATION
EOF
  stop_pid "$NC_PID"
}

# Invalidation lag (bench/invalidation_lag.cc, when built): write acked by
# Redis -> nearcache serves the new value. Runs against the hit instance.
maybe_invalidation_lag() {  # PHASE UPSTREAM_SOCK
  local phase=$1 up=$2 bin=${INVALIDATION_LAG_BIN:-$BUILD_DIR/bench/invalidation_lag}
  if [[ ! -x $bin ]]; then
    echo "no invalidation_lag in $BUILD_DIR/bench (not built)" >"$RUNS/$phase.invalidation_lag.todo"
    return
  fi
  ((SECONDS > DEADLINE)) && return
  # The writer goes to Redis itself (not through the proxy): the lag is
  # measured from Redis's acknowledgement.
  timeout 120 "$bin" --redis-socket "$REDIS_SOCK" --nearcache-socket "$NC_SOCK" \
    --samples $((QUICK ? 300 : 2000)) --load-threads 1 \
    >"$RUNS/$phase.invalidation_lag.txt" 2>>"$T/invalidation_lag.log" ||
    log "invalidation_lag ($phase) failed (see $T/invalidation_lag.log)"
  log "$phase/invalidation lag done"
}

# -------------------------------------------------------------------- run

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "preloading: $HIT_KEYS + $ZIPF_KEYS + $MEM_KEYS + $MEM_SMALL_KEYS keys into redis-server"
preload key: "$HIT_KEYS"
preload z: "$ZIPF_KEYS"
preload m: "$MEM_KEYS" --value-size 256 --value-size-max 2048
preload s: "$MEM_SMALL_KEYS" --value-size 32 --value-size-max 256

log "direct: redis-server on a Unix socket"
scenario_hit direct "$REDIS_SOCK"
scenario_miss direct "$REDIS_SOCK"
scenario_zipf direct "$REDIS_SOCK"
scenario_memory direct "$REDIS_SOCK" memory m: "$MEM_KEYS" 256 2048
scenario_memory direct "$REDIS_SOCK" memory-small s: "$MEM_SMALL_KEYS" 32 256

if [[ $PROXY == 1 ]]; then
  log "proxy: redis-server behind nc_delay_proxy (0.5 ms each way)"
  start_proxy
  scenario_hit proxy "$PROXY_SOCK"
  scenario_miss proxy "$PROXY_SOCK"
  scenario_zipf proxy "$PROXY_SOCK"
  stop_pid "$PROXY_PID"
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report

CACHE=$(dirname "$(dirname "$(dirname "$NEARCACHE_BIN")")")/CMakeCache.txt
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$CACHE" 2>/dev/null || true)
CXX=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$CACHE" 2>/dev/null || true)
CXX_VERSION=$("${CXX:-c++}" --version 2>/dev/null | head -1 || true)
cat >"$RUNS/meta.env" <<EOF
command=$COMMAND_LINE
date=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
kernel=$(uname -r)
compiler=$CXX_VERSION
build_type=${BUILD_TYPE:-unknown}
nearcache_bin=$NEARCACHE_BIN
nearcache_version=$("$NEARCACHE_BIN" --version 2>/dev/null || echo unknown)
git=${BENCH_SOURCE_LABEL:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet -- src include 2>/dev/null || echo "+dirty src")}
redis=$(redis-server --version | sed 's/ sha=.*//')
rounds=$ROUNDS
duration=$DURATION
connections=$CONNS
value=$VALUE
threads=$THREADS
loadavg_start=$LOAD_START
loadavg_end=$LOAD_END
quick=$QUICK
runtime_s=$SECONDS
EOF
python3 "$ROOT/bench/scripts/compare_report.py" "$RUNS" >"$OUT"
cat "$OUT"
log "report written to $OUT"
