#!/usr/bin/env bash
# Snapshot save and load, cachesrv against redis-server, same data, same
# machine (docs/persistence.md, "Measurements"). Ports 7410/7411 on
# 127.0.0.1; KEYS keys of 16 bytes with 32-byte values (default 10M).
#
#   KEYS=10000000 scripts/persist-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-10000000}
PC=7410 PR=7411
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/c" "$work/r"
go build -o "$work/cachesrv" ./cmd/cachesrv
go build -o "$work/persistbench" ./cmd/persistbench
pb() { "$work/persistbench" "$@"; }
now_ms() { date +%s%3N; }

start_cachesrv() { # dir file
  "$work/cachesrv" --port $PC --bind 127.0.0.1 --metrics-addr "" --maxmemory 0 \
    --dir "$1" --dbfilename "$2" --log-level warn 2>>"$work/cachesrv.log" &
  CPID=$!
}
start_redis() {
  redis-server --port $PR --bind 127.0.0.1 --save "" --appendonly no --dir "$work/r" \
    --dbfilename dump.rdb --logfile "$work/redis.log" &
  RPID=$!
}

echo "== $KEYS keys, 16-byte keys, 32-byte values"
start_cachesrv "$work/c" dump.csnap
start_redis
sleep 1
echo "-- cachesrv fill";     pb -addr 127.0.0.1:$PC -mode fill -keys "$KEYS"
echo "-- redis-server fill"; pb -addr 127.0.0.1:$PR -mode fill -keys "$KEYS"
echo "-- cachesrv BGSAVE";     pb -addr 127.0.0.1:$PC -mode bgsave -keys "$KEYS"
echo "-- redis-server BGSAVE"; pb -addr 127.0.0.1:$PR -mode bgsave -keys "$KEYS"
ls -l "$work/c/dump.csnap" "$work/r/dump.rdb"
redis-cli -p $PC shutdown nosave >/dev/null 2>&1 || true
redis-cli -p $PR shutdown nosave >/dev/null 2>&1 || true
wait $CPID $RPID 2>/dev/null || true

echo "-- cachesrv load of its snapshot"
t=$(now_ms); start_cachesrv "$work/c" dump.csnap; pb -addr 127.0.0.1:$PC -mode waitload -since "$t"
redis-cli -p $PC shutdown nosave >/dev/null 2>&1 || true; wait $CPID 2>/dev/null || true
echo "-- redis-server load of its dump.rdb"
t=$(now_ms); start_redis; pb -addr 127.0.0.1:$PR -mode waitload -since "$t"
grep -h "DB loaded from disk" "$work/redis.log" | tail -1 || true
redis-cli -p $PR shutdown nosave >/dev/null 2>&1 || true; wait $RPID 2>/dev/null || true
echo "-- cachesrv import of redis-server's dump.rdb"
t=$(now_ms); start_cachesrv "$work/r" dump.rdb; pb -addr 127.0.0.1:$PC -mode waitload -since "$t"
redis-cli -p $PC shutdown nosave >/dev/null 2>&1 || true; wait $CPID 2>/dev/null || true
