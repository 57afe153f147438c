#!/usr/bin/env bash
# The run command: installs what is missing, builds if needed, and starts
# nearcache in the foreground with config/nearcache.yaml (or the file given).
#
# For a newcomer's machine the sockets go under $NEARCACHE_RUN_DIR (default
# /tmp/nearcache) instead of /var/run/nearcache, and when no Redis answers at
# the configured address a throwaway redis-server (no persistence) is started
# there and stopped when nearcache exits.
#
#   scripts/run.sh [CONFIG]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-"$root/config/nearcache.yaml"}
rundir=${NEARCACHE_RUN_DIR:-/tmp/nearcache}

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null
bin="$root/build/src/app/nearcache"
if [ ! -x "$bin" ]; then
  echo "run.sh: $bin was not built; see the build output above" >&2
  exit 1
fi

mkdir -p "$rundir"
effective="$rundir/nearcache.yaml"
sed -e "s#/var/run/nearcache#$rundir#g" "$config" >"$effective"
"$bin" --check-config "$effective" >/dev/null

# The Redis address from the config (redis://host:port/db or unix:///path).
address=$(sed -n 's/^[[:space:]]*address:[[:space:]]*"\{0,1\}\(\(redis\|unix\)[^"[:space:]]*\).*/\1/p' "$effective" | head -n1)
address=${address:-redis://localhost:6379/0}
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

case "$address" in
  unix://*)
    path=${address#unix://}; path=${path%%\?*}
    if ! redis-cli -s "$path" PING >/dev/null 2>&1; then
      echo "run.sh: no Redis at $address; starting a throwaway redis-server there" >&2
      redis-server --port 0 --unixsocket "$path" --save "" --appendonly no \
        --dir "$rundir" >"$rundir/redis.log" 2>&1 &
      redis_pid=$!
    fi
    ;;
  *)
    hostport=${address#*://}; hostport=${hostport##*@}; hostport=${hostport%%/*}
    host=${hostport%:*}; port=${hostport##*:}
    [ "$host" = "$hostport" ] && port=6379
    if ! redis-cli -h "$host" -p "$port" PING >/dev/null 2>&1; then
      echo "run.sh: no Redis at $address; starting a throwaway redis-server on port $port" >&2
      redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$rundir" >"$rundir/redis.log" 2>&1 &
      redis_pid=$!
    fi
    ;;
esac
if [ -n "$redis_pid" ]; then
  for _ in $(seq 1 50); do
    if redis-cli -p "${port:-6379}" ${path:+-s "$path"} PING >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
fi

resp_socket=$(sed -n 's/^[[:space:]]*resp_socket:[[:space:]]*"\{0,1\}\([^"[:space:]]*\).*/\1/p' "$effective" | head -n1)
cat >&2 <<MSG
run.sh: nearcache starting with $effective
  query it:  redis-cli -s $resp_socket GET somekey
  or Python: redis.Redis(unix_socket_path="$resp_socket").get("somekey")
  stop it:   Ctrl-C
MSG
"$bin" --config "$effective" &
nc_pid=$!
trap 'kill -TERM $nc_pid 2>/dev/null || true' INT TERM
wait $nc_pid || status=$?
wait $nc_pid 2>/dev/null || true
exit ${status:-0}
