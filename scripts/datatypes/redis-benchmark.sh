#!/usr/bin/env bash
# Side-by-side redis-benchmark default test list: redis-server on 7520, cachesrv on 7521.
redis-server --port 7520 --bind 127.0.0.1 --save "" --appendonly no > /tmp/types-mem/rb-redis.log 2>&1 &
rp=$!
${CACHESRV:-./cachesrv} --port 7521 --maxmemory 0 --metrics-addr "" > /tmp/types-mem/rb-cachesrv.log 2>&1 &
cp=$!
sleep 1
for port in 7520 7521; do
  echo "== port $port"
  redis-benchmark -q -p $port -n 50000 2>&1 | tr '\r' '\n' | grep "per second"
done
redis-cli -p 7520 shutdown nosave >/dev/null 2>&1; redis-cli -p 7521 shutdown nosave >/dev/null 2>&1
wait $rp $cp 2>/dev/null
