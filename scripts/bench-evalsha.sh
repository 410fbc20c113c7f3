#!/bin/bash
# EVALSHA of a 3-call script (GET, INCR, EXPIRE): cachesrv vs redis-server, both pinned to core 1,
# redis-benchmark pinned to core 0. Usage: bench_eval.sh CACHESRV_BIN N
BIN=${1:?path to a cachesrv binary (go build -o /tmp/cachesrv ./cmd/cachesrv)}; N=${2:-20000}
redis-cli -p 7601 shutdown nosave >/dev/null 2>&1
taskset -c 1 redis-server --port 7601 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --logfile /tmp/redis7601.log
taskset -c 1 $BIN --port 7602 --bind 127.0.0.1 --metrics-addr '' > /tmp/cachesrv7602.log 2>&1 &
CPID=$!
sleep 1
S='local v = redis.call("GET", KEYS[1]) local n = redis.call("INCR", KEYS[1]) redis.call("EXPIRE", KEYS[1], 100) return n'
for round in 1 2 3; do
for p in 7601 7602; do
  sha=$(redis-cli -p $p script load "$S")
  r=$(taskset -c 0 redis-benchmark -p $p -n $N -c 50 -q evalsha $sha 1 key 2>/dev/null | tr '\r' '\n' | grep -i "requests per second" | tail -1)
  echo "port $p round $round: $r"
done
done
redis-cli -p 7601 shutdown nosave >/dev/null 2>&1
kill $CPID; wait $CPID 2>/dev/null
