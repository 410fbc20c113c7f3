#!/usr/bin/env bash
# hitratio-e2e.sh: end-to-end hit ratio of cachesrv vs redis-server at the same
# maxmemory, over real sockets, in the same run.
#
# For every (trace, size) point of the traces README's reference table and for
# each value size (100 B and 4,000 B):
#   1. maxmemory is calibrated so that redis-server holds about `size` keys:
#      a fresh redis-server (no limit) is filled with the replay's keys
#      key:000000000000 .. (size-1) and values of that size, and its
#      used_memory at that point becomes maxmemory;
#   2. a fresh cachesrv (default policy), and a fresh redis-server with
#      allkeys-lru and with allkeys-lfu, each at that maxmemory, get the
#      trace replayed by cmd/replay as cache-aside GET/SET traffic;
#   3. tracesim (the pure policy, offline) runs the same requests at the
#      number of keys cachesrv held.
# It prints one table and the issue-13 target verdicts.
#
# usage: scripts/hitratio-e2e.sh            (make hitratio-e2e)
# environment:
#   TRACES=../shared/traces   folder with README.md and the trace files
#   MAX=1000000               replay only the first MAX requests of each trace
#                             (0 = all; orm-busy has 5,000,000, scarab-recs 1,245,184)
#   VALUES="100 4000"         value sizes in bytes
#   ONLY=""                   regexp: run only points whose "trace/size" matches
#   PORT_BASE=7100            three consecutive ports from here (127.0.0.1 only)
#   CACHESRV=bin/cachesrv     cachesrv binary (built by make)
#   CACHESRV_ARGS=""          extra cachesrv flags (e.g. "--shards 1")
#   REDIS_SERVER=redis-server (skipped, with a note, when not installed)
#   OUT=/tmp/hitratio-e2e.tsv raw results
set -euo pipefail

TRACES=${TRACES:-../shared/traces}
MAX=${MAX:-1000000}
VALUES=${VALUES:-"100 4000"}
ONLY=${ONLY:-}
PORT_BASE=${PORT_BASE:-7100}
CACHESRV=${CACHESRV:-bin/cachesrv}
CACHESRV_ARGS=${CACHESRV_ARGS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
OUT=${OUT:-/tmp/hitratio-e2e.tsv}
GO=${GO:-go}

tmp=$(mktemp -d /tmp/hitratio-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do stop "$p"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

$GO build -o "$tmp/replay" ./cmd/replay
$GO build -o "$tmp/tracesim" ./cmd/tracesim
REPLAY=$tmp/replay
TRACESIM=$tmp/tracesim
[ -x "$CACHESRV" ] || { echo "no cachesrv binary at $CACHESRV (make build)" >&2; exit 1; }
have_redis=1
command -v "$REDIS_SERVER" >/dev/null 2>&1 || { have_redis=0; echo "note: $REDIS_SERVER not found; cachesrv only" >&2; }

wait_port() { # port pid
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "server on port $1 died" >&2; return 1; }
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2; return 1
}

start_redis() { # port maxmemory policy
  "$REDIS_SERVER" --port "$1" --bind 127.0.0.1 --save "" --appendonly no \
    --maxmemory "$2" --maxmemory-policy "$3" --daemonize no >"$tmp/redis-$1.log" 2>&1 &
  local p=$!; wait_port "$1" "$p"; echo "$p"
}

start_cachesrv() { # port maxmemory
  # shellcheck disable=SC2086
  "$CACHESRV" --port "$1" --metrics-addr "" --maxmemory "$2" $CACHESRV_ARGS >"$tmp/cachesrv-$1.log" 2>&1 &
  local p=$!; wait_port "$1" "$p"; echo "$p"
}

# The servers are children of $(...) subshells: stop waits for the pid to go.
stop() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 400); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.025; done
  kill -9 "$1" 2>/dev/null || true
}

field() { # name line
  sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"
}

# Points from the README's reference table: "| trace | size | ..." rows.
mapfile -t points < <(awk -F'|' '/^\| *[a-z][a-z0-9-]* *\| *[0-9][0-9,]* *\|/ {
  gsub(/[ ,]/, "", $2); gsub(/[ ,]/, "", $3); print $2 " " $3 }' "$TRACES/README.md")
[ ${#points[@]} -gt 0 ] || { echo "no reference table in $TRACES/README.md" >&2; exit 1; }
trace_file() { ls "$TRACES/$1".* 2>/dev/null | grep -v '\.md$' | head -1; }

# Calibrate maxmemory per value size on one redis-server, filled in
# increasing key counts.
declare -A maxmem
sizes=$(for p in "${points[@]}"; do echo "${p#* }"; done | sort -n -u | paste -sd,)
for v in $VALUES; do
  if [ $have_redis = 1 ]; then
    port=$PORT_BASE
    p=$(start_redis "$port" 0 noeviction); pids+=("$p")
    while read -r line; do
      n=$(field fill "$line"); maxmem[$v/$n]=$(field used_memory "$line")
    done < <("$REPLAY" -addr "127.0.0.1:$port" -fill "$sizes" -value-size "$v")
    stop "$p"
    # Client buffers make used_memory vary by tens of KB between runs: check
    # each point with allkeys-lru (fill 2 x size keys, count what stays) and
    # correct maxmemory by the keys missing or extra, at the marginal cost.
    for n in ${sizes//,/ }; do
      p=$(start_redis "$port" "${maxmem[$v/$n]}" allkeys-lru); pids+=("$p")
      held=$(field keys "$("$REPLAY" -addr "127.0.0.1:$port" -fill "$((2 * n))" -value-size "$v")")
      stop "$p"
      maxmem[$v/$n]=$((maxmem[$v/$n] + (n - held) * (v + 200)))
    done
  else
    # Without Redis: 200 + value bytes per key over an 900 KB base (Redis 7's
    # figures at these sizes).
    for n in ${sizes//,/ }; do maxmem[$v/$n]=$((900000 + n * (200 + v))); done
  fi
done

: >"$OUT"
printf 'trace\tsize\tvalue\tmaxmemory\tserver\thit_ratio\tkeys_held\tevictions\tused_memory\tops_per_sec\tset_errors\n' >>"$OUT"
for pt in "${points[@]}"; do
  name=${pt% *}; size=${pt#* }
  if [ -n "$ONLY" ] && ! grep -Eq "$ONLY" <<<"$name/$size"; then continue; fi
  file=$(trace_file "$name")
  [ -n "$file" ] || { echo "no trace file for $name in $TRACES" >&2; exit 1; }
  for v in $VALUES; do
    mm=${maxmem[$v/$size]}
    servers="cachesrv"
    [ $have_redis = 1 ] && servers="cachesrv redis-lru redis-lfu"
    for s in $servers; do
      port=$((PORT_BASE + 1))
      case $s in
        cachesrv) p=$(start_cachesrv "$port" "$mm") ;;
        redis-lru) p=$(start_redis "$port" "$mm" allkeys-lru) ;;
        redis-lfu) p=$(start_redis "$port" "$mm" allkeys-lfu) ;;
      esac
      pids+=("$p")
      line=$("$REPLAY" -addr "127.0.0.1:$port" -trace "$file" -value-size "$v" -max "$MAX")
      stop "$p"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$size" "$v" "$mm" "$s" \
        "$(field hit_ratio "$line")" "$(field keys_held "$line")" "$(field evictions "$line")" \
        "$(field used_memory "$line")" "$(field ops_per_sec "$line")" "$(field set_errors "$line")" >>"$OUT"
      if [ $s = cachesrv ]; then
        held=$(field keys_held "$line"); held=${held%.*}
        sim=$("$TRACESIM" -trace "$file" -sizes "$((held > 0 ? held : 1))" -max "$MAX" -policies allkeys-wtinylfu -j 1 |
          awk 'NR == 2 { print $3 }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\t\t\n' "$name" "$size" "$v" "$mm" "tracesim" "$sim" "$held" >>"$OUT"
      fi
    done
    echo "done: $name/$size/${v}B" >&2
  done
done

echo "maxmemory: redis-server filled with <size> keys of <value> bytes; replay: first $MAX requests (0 = all) of each trace; cachesrv ${CACHESRV_ARGS:-defaults}"
awk -F'\t' -v have_redis=$have_redis '
NR == 1 { next }
{ k = $1 "/" $2 "/" $3; if (!(k in seen)) { seen[k] = 1; order[++n] = k; tr[k] = $1; sz[k] = $2; vs[k] = $3; mm[k] = $4 }
  hr[k, $5] = $6; held[k, $5] = $7; if ($11 > 0) { oom[k, $5] = $11; oomn++ } }
END {
  printf "%-12s %7s %5s %10s | %8s %8s %8s %6s | %8s %6s | %8s %8s %8s\n", "trace", "size", "value", "maxmemory",
    "cachesrv", "r-lru", "r-lfu", "delta", "tracesim", "e2e-sim", "keys cs", "keys lru", "keys lfu"
  for (i = 1; i <= n; i++) {
    k = order[i]; c = hr[k, "cachesrv"]; r = hr[k, "redis-lru"]; f = hr[k, "redis-lfu"]
    best = (r > f ? r : f); d = c - best;
    printf "%-12s %7s %5s %10s | %8.2f %8s %8s %+6.2f | %8.2f %+6.2f | %8d %8s %8s\n", tr[k], sz[k], vs[k], mm[k],
      c, (have_redis ? sprintf("%.2f", r) : "-"), (have_redis ? sprintf("%.2f", f) : "-"), (have_redis ? d : 0),
      hr[k, "tracesim"], c - hr[k, "tracesim"], held[k, "cachesrv"], held[k, "redis-lru"], held[k, "redis-lfu"]
    sumd += d; if (d < 1) bad++; if (d < worst || i == 1) { worst = d; wk = k }
    gap = c - hr[k, "tracesim"]; if (gap < 0) gap = -gap; if (gap > 1) simbad++; if (gap > wgap) { wgap = gap; wsk = k }
    kmin = held[k, "redis-lru"] + 0; if (held[k, "redis-lfu"] + 0 > kmin) kmin = held[k, "redis-lfu"] + 0
    if (held[k, "cachesrv"] + 0 < kmin) { kbad++; kl = kl " " k }
    sc += c; sr += r; sf += f
  }
  if (oomn) for (x in oom) { split(x, parts, SUBSEP); printf "note: %s: %s refused %d SETs (OOM)\n", parts[1], parts[2], oom[x] }
  printf "%-12s %7s %5s %10s | %8.2f %8.2f %8.2f %+6.2f |\n", "mean", "", "", "", sc / n, sr / n, sf / n, sumd / n
  if (!have_redis) exit
  printf "target: every point cachesrv >= max(redis lru, lfu) + 1: %s (%d of %d below; worst %+.2f at %s)\n", (bad ? "MISSED" : "MET"), bad, n, worst, wk
  printf "target: mean delta >= +4 points: %s (%+.2f)\n", (sumd / n >= 4 ? "MET" : "MISSED"), sumd / n
  printf "target: e2e within 1 point of tracesim at the keys held: %s (%d of %d off by more; worst %.2f at %s)\n", (simbad ? "MISSED" : "MET"), simbad, n, wgap, wsk
  printf "target: keys held >= redis at every point: %s (%d of %d below:%s)\n", (kbad ? "MISSED" : "MET"), kbad, n, kl
}' "$OUT"
