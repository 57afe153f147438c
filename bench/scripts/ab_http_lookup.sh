#!/usr/bin/env bash
# A/B of the HTTP lookup path: two nearcache binaries (e.g. before and after a
# change) and redis-server in alternating rounds of one run: RESP MGET of 50
# keys to Redis, then POST /v1/lookup of 50 keys to each nearcache (10k keys
# x 1 KiB, all cached; 50 connections; 2 rounds of 4 s).
#
# usage: bench/scripts/ab_http_lookup.sh OLD_NEARCACHE NEW_NEARCACHE [NC_LOADGEN]
set -u
OLD=$1; NEW=$2
LG=${3:-$(dirname "$0")/../../build/bench/nc_loadgen}
T=$(mktemp -d /tmp/hb2.XXXX)
redis-server --port 0 --unixsocket $T/r.sock --save "" --logfile $T/l &
RP=$!; sleep 0.4
$LG --socket $T/r.sock --keys 10000 --preload-only --quiet >/dev/null 2>&1
mk() { cat > $T/$1.yaml <<Y
listen:
  resp_socket: $T/$1.sock
  http_socket: $T/$1.http
admin:
  address: 127.0.0.1:$2
redis:
  address: unix://$T/r.sock
cache:
  ttl: 1h
log:
  level: warn
Y
$3 --config $T/$1.yaml > $T/$1.log 2>&1 &
echo $!; }
P1=$(mk old $((41000+RANDOM%1000)) "$OLD")
P2=$(mk new $((43000+RANDOM%1000)) "$NEW")
sleep 1
for n in old new; do $LG --socket $T/$n.sock --keys 10000 --command MGET:100 --requests 300 --quiet >/dev/null 2>&1; done
run() { $LG "$@" --keys 10000 --connections 50 --duration 4 --warmup 0.5 --quiet --json - 2>/dev/null | python3 -c '
import json,sys; r=json.load(sys.stdin); l=r["latency_us"]
print("%-10s %8.0f/s p50 %8.1f p99 %8.1f errs %s"%(sys.argv[1], r["throughput_rps"], l["p50"], l["p99"], r["errors"]))' $LABEL; }
for i in 1 2; do
LABEL=redis-mget50 run --socket $T/r.sock --command MGET:50
LABEL=old-http run --socket $T/old.http --protocol http --command LOOKUP:50
LABEL=new-http run --socket $T/new.http --protocol http --command LOOKUP:50
done
kill $P1 $P2 $RP; wait 2>/dev/null; rm -rf $T
