#!/usr/bin/env bash
# Usage: CACHESRV=path memory.sh shape  (hash|set|zset|list). Loads /tmp/types-mem/<shape>.txt into
# redis-server (port 7510) and cachesrv (port 7511), one after the other, and prints RSS.
set -u
shape=$1
rss() { awk '/VmRSS/{print $2*1024}' /proc/$1/status; }
for srv in redis cachesrv; do
  if [ $srv = redis ]; then
    redis-server --port 7510 --bind 127.0.0.1 --save "" --appendonly no > /tmp/types-mem/redis.log 2>&1 &
    port=7510
  else
    ${CACHESRV:-./cachesrv} --port 7511 --maxmemory 0 --metrics-addr "" > /tmp/types-mem/cachesrv.log 2>&1 &
    port=7511
  fi
  pid=$!
  sleep 0.8
  before=$(rss $pid)
  start=$(date +%s.%N)
  redis-cli -p $port --pipe < /tmp/types-mem/$shape.txt > /tmp/types-mem/pipe-$srv.log 2>&1
  end=$(date +%s.%N)
  sleep 1
  after=$(rss $pid)
  used=$(redis-cli -p $port info memory | awk -F: '/^used_memory:/{print $2}' | tr -d '\r')
  keys=$(redis-cli -p $port dbsize)
  echo "$shape $srv keys=$keys rss_before=$before rss_after=$after delta=$((after-before)) used_memory=$used load_s=$(echo "$end - $start" | bc) $(tail -1 /tmp/types-mem/pipe-$srv.log)"
  redis-cli -p $port shutdown nosave > /dev/null 2>&1 || kill $pid
  wait $pid 2>/dev/null
done
