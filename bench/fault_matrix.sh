#!/usr/bin/env bash
# The fault matrix under load, long version (issue #8; docs/fault-matrix.md).
#
# Runs tests/fault_matrix/fault_matrix_test (the fast version is part of the
# test command) with bigger key sets and longer fault windows, and prints a
# markdown table: per fault, the requests served during the run, error
# replies to keys nearcache had cached (target 0), dropped connections,
# values older than the current generation served after recovery
# ("stale-as-fresh", target 0) and the most RSS seen against the bound
# 1.15 x cache.max_bytes + 20 MiB.
#
#   bench/fault_matrix.sh [--build-dir DIR] [--out FILE] [--keys N]
#                         [--fault-seconds S] [--filter GTEST_FILTER]
#
# Defaults: build dir build-fm (RelWithDebInfo, configured and built here),
# 20000 keys of 256 bytes in a 32 MiB cache, 50 connections, 2 s of load
# before each fault, 10 s of fault, 5 s after, 5 s of final verification;
# the rss_churn row reads 200000 keys through an 8 MiB cache. Needs
# redis-server on PATH (or NEARCACHE_REDIS_SERVER).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR="$ROOT/build-fm"
OUT=""
KEYS=20000
FAULT_S=10
FILTER="*"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --keys) KEYS=$2; shift ;;
    --fault-seconds) FAULT_S=$2; shift ;;
    --filter) FILTER=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "fault_matrix.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j 2 --target fault_matrix_test nearcache nc_loadgen nc_delay_proxy >&2

RESULTS=$(mktemp)
LOG=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
export NC_FM_RESULTS=$RESULTS
export NC_FM_KEYS=$KEYS
export NC_FM_VALUE_SIZE=${NC_FM_VALUE_SIZE:-256}
export NC_FM_CONNECTIONS=${NC_FM_CONNECTIONS:-50}
export NC_FM_MAX_BYTES=${NC_FM_MAX_BYTES:-$((32 << 20))}
export NC_FM_CHURN_KEYS=${NC_FM_CHURN_KEYS:-200000}
export NC_FM_CHURN_MAX_BYTES=${NC_FM_CHURN_MAX_BYTES:-$((8 << 20))}
export NC_FM_BEFORE_S=${NC_FM_BEFORE_S:-2}
export NC_FM_FAULT_S=$FAULT_S
export NC_FM_AFTER_S=${NC_FM_AFTER_S:-5}
export NC_FM_VERIFY_S=${NC_FM_VERIFY_S:-5}

echo "fault_matrix.sh: $(date -u +%FT%TZ), keys $KEYS, fault window ${FAULT_S}s; log $LOG" >&2
status=0
"$BUILD_DIR/tests/fault_matrix/fault_matrix_test" --gtest_filter="$FILTER" >"$LOG" 2>&1 || status=$?
grep -E '^\[ +(OK|FAILED|SKIPPED) +\]' "$LOG" >&2 || true

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
{
  echo "| fault | keys | requests served | reads sent to Redis | stale hits | errors on cached keys | errors on other keys | dropped connections | old values while settling | served stale while verifying | stale-as-fresh after recovery | max RSS (MiB) | bound (MiB) | result |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  while IFS=$'\t' read -r name completed ew ec conn nils misses stale vstale rounds settle_old old nil_old rss bound max_bytes keys kinds; do
    verdict=pass
    if [[ $name != rss_churn && $ew != 0 ]]; then verdict=FAIL; fi
    if [[ $conn != 0 || $old != 0 || $nil_old != 0 ]]; then verdict=FAIL; fi
    if (( rss > bound )); then verdict="FAIL (RSS)"; fi
    echo "| $name | $keys | $completed | $misses | $stale | $ew | $ec | $conn | $settle_old | $vstale | $((old + nil_old)) | $(mib "$rss") | $(mib "$bound") | $verdict |"
  done <"$RESULTS"
} | if [[ -n $OUT ]]; then tee "$OUT"; else cat; fi
# Error kinds, when there were any.
awk -F'\t' '$18 != "{}" && $18 != "" { print "- " $1 ": " $18 }' "$RESULTS" >&2
exit $status
