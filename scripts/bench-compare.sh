#!/usr/bin/env bash
# bench-compare.sh: side-by-side benchmark of cachesrv (or any RESP server) against
# redis-server, on the same machine, in the same run, interleaved A B A B.
# Adapted from the shared vs-redis.sh harness; results and how to read them are in
# docs/benchmarks.md.
#
# usage: scripts/bench-compare.sh [options] -- CANDIDATE_CMD [ARGS...]
#   e.g. (what `make bench-compare` runs, from the repository root):
#     ./scripts/bench-compare.sh -- ./bin/cachesrv --port {PORT} --metrics-addr "" --maxmemory 0
#   In CANDIDATE_CMD every literal {PORT} is replaced by the candidate's port
#   (127.0.0.1 is the only interface used); $PORT is exported as well.
#   Give the server binary itself, not a shell wrapper: RSS and CPU are read
#   from the process that listens on the port (found with ss -p).
#   Needs redis-server, redis-cli and redis-benchmark (Debian: apt-get install
#   redis-server redis-tools), taskset, ss and awk; the mix, expire and idle loads
#   also need go (to build cmd/mixload, cmd/expirebench) or MIXLOAD=/EXPIREBENCH=
#   pointing at built binaries.
#
# options (each also settable as the environment variable in brackets):
#   -r N         measured rounds per load, each round = redis then candidate [ROUNDS=3]
#   -m "MODES"   any of: pinned unpinned                      [MODES="pinned unpinned"]
#                pinned:   servers on CPU $SRV_CPUS, load generator on CPU $CLI_CPUS
#                unpinned: no taskset at all (client and server share both cores)
#   -l "LOADS"   any of: rb-p1 rb-p16 mix-p1 mix-p16 mt-p1 mt-p16 mem expire idle
#                                                 [LOADS="rb-p1 rb-p16 mix-p1 mem"]
#                rb-pN:  redis-benchmark -t set then -t get (two invocations, so the
#                        server CPU of each test is known), -n $RB_N -r 100000 -d 64 -c 50 -P N
#                mix-pN: 1:10 set:get without memtier, by cmd/mixload (built with go, or
#                        MIXLOAD=<binary>): $RB_N requests, 50 connections, each sending
#                        SET then 10 GETs in turn, -P N, uniform keys over the 100,000
#                        keys redis-benchmark -r 100000 uses, all pre-populated, 64-byte
#                        values; p50/p99 over all requests. (Two concurrent redis-benchmark
#                        processes, -t set and -t get, do not hold a 1:10 ratio on a busy
#                        client: the scheduler gives both processes the same CPU share.)
#                mt-pN:  memtier_benchmark 1:10 set:get, gaussian keys (G:G) over 100k
#                        pre-populated keys, -d 64, 1 thread x 50 conns, $MT_TIME s
#                        (only if memtier_benchmark is found; skipped otherwise)
#                mem:    fresh servers, 1,000,000 SETs (16-byte keys, 32-byte values)
#                        through redis-cli --pipe, then VmRSS/VmHWM of each server
#                expire: fresh servers each round; cmd/expirebench loads $EXP_KEYS keys with
#                        TTLs uniform over 1-10 s and measures reclaim time and server CPU
#                idle:   fresh servers each round; cmd/expirebench loads $EXP_KEYS keys with
#                        1 h TTLs and measures the server's CPU over $IDLE_TIME s of silence
#   -n N         requests per redis-benchmark test                 [RB_N=1000000]
#   -o DIR       output directory (raw logs, results.tsv, summary.md) [OUT_DIR=/tmp/bench-compare...]
#   --order ab|abba  abba swaps the order on even rounds              [ORDER=ab]
#   other knobs: SRV_CPUS=1 CLI_CPUS=0 RB_THREADS=1 MT_TIME=10 MT_THREADS=1 MT_CLIENTS=50
#                MEM_ROUNDS=3 MEM_KEYS=1000000 WARMUP_N=100000 MIX_KEYS=100000
#                EXP_KEYS=1000000 IDLE_TIME=20 EXPIREBENCH=<binary; built from cmd/expirebench if unset>
#                MIXLOAD=<binary; built from cmd/mixload if unset>
#                QUIET_MAX_BUSY=10 (% of all CPUs busy with other work, sampled for 1 s
#                while both servers are idle, above which a run waits) QUIET_TIMEOUT=120
#                (s; the run then goes ahead anyway)
#                MAX_BG=10 (% of all CPUs used by other processes *during* a run above
#                which the run is marked invalid, left out of the medians and retried)
#                RETRIES=2 (extra attempts per run)
#                PORT_LO, PORT_HI: pick the servers' ports from [PORT_LO, PORT_HI) (a shared
#                machine where each user has a port range) instead of 10000 and up
#                REDIS_SERVER=redis-server MEMTIER=<path to memtier_benchmark, if you have one>
#
# Output (also in OUT_DIR/summary.md): one row per mode/load/test with median ops/s,
# p50 and p99 per server; ratio = median(cand ops/s) / median(redis ops/s); the
# per-round paired ratios (adjacent A/B runs, both valid): median (min..max);
# server CPU microseconds per op and the efficiency ratio redis/cand (>1: the
# candidate needs less CPU per op; unlike ops/s this is not capped when the load
# generator saturates); server and client CPU % of one core (client near 100%
# means the run is client-bound and the ops/s ratio is compressed towards 1);
# valid/total runs; background CPU % seen during the runs. Then the memory table,
# then the expiry tables. The load average is logged with every run (run.log) and
# kept in results.tsv. Everything started here is stopped by PID on exit.
#
# Recommended gate on a 2-core machine:
#   scripts/bench-compare.sh -m pinned -l rb-p16 -r 5 --order abba -- ./bin/cachesrv --port {PORT} --metrics-addr "" --maxmemory 0
# and judge the median paired ratio plus the efficiency ratio. Do not edit this file
# while it runs (bash reads scripts incrementally).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-"pinned unpinned"}
LOADS=${LOADS:-"rb-p1 rb-p16 mix-p1 mem"}
RB_N=${RB_N:-1000000}
RB_THREADS=${RB_THREADS:-1}
ORDER=${ORDER:-ab}
SRV_CPUS=${SRV_CPUS:-1}
CLI_CPUS=${CLI_CPUS:-0}
MT_TIME=${MT_TIME:-10}
MT_THREADS=${MT_THREADS:-1}
MT_CLIENTS=${MT_CLIENTS:-50}
MEM_ROUNDS=${MEM_ROUNDS:-3}
MEM_KEYS=${MEM_KEYS:-1000000}
WARMUP_N=${WARMUP_N:-100000}
MIX_KEYS=${MIX_KEYS:-100000}
EXP_KEYS=${EXP_KEYS:-1000000}
IDLE_TIME=${IDLE_TIME:-20}
EXPIREBENCH=${EXPIREBENCH:-}
MIXLOAD=${MIXLOAD:-}
QUIET_MAX_BUSY=${QUIET_MAX_BUSY:-10}
QUIET_TIMEOUT=${QUIET_TIMEOUT:-120}
MAX_BG=${MAX_BG:-10}
RETRIES=${RETRIES:-2}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
OUT_DIR=${OUT_DIR:-/tmp/bench-compare.$(date +%Y%m%d-%H%M%S)}

while [ $# -gt 0 ]; do
  case "$1" in
    -r) ROUNDS=$2; shift 2 ;;
    -m) MODES=$2; shift 2 ;;
    -l) LOADS=$2; shift 2 ;;
    -n) RB_N=$2; shift 2 ;;
    -o) OUT_DIR=$2; shift 2 ;;
    --order) ORDER=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (candidate command goes after --)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [options] -- CANDIDATE_CMD [ARGS...]  ({PORT} is substituted)" >&2; exit 2; }
CAND_TEMPLATE=("$@")

if [ -z "${MEMTIER:-}" ]; then
  if [ -x "$ROOT/bin/memtier_benchmark" ]; then MEMTIER=$ROOT/bin/memtier_benchmark
  else MEMTIER=$(command -v memtier_benchmark || true); fi
fi
missing=()
for t in "$REDIS_SERVER" redis-benchmark redis-cli taskset ss awk; do
  command -v "$t" >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  {
    echo "bench-compare.sh: missing tool(s): ${missing[*]}"
    echo "  It compares the candidate with a local redis-server and drives both with"
    echo "  redis-benchmark and redis-cli. On Debian/Ubuntu:"
    echo "    apt-get install redis-server redis-tools   # redis-server, redis-cli, redis-benchmark"
    echo "    apt-get install util-linux iproute2 gawk    # taskset, ss, awk"
    echo "  (or set REDIS_SERVER=/path/to/redis-server)"
  } >&2
  exit 2
fi
NCPU=$(getconf _NPROCESSORS_ONLN)
TCK=$(getconf CLK_TCK)
mkdir -p "$OUT_DIR" "$OUT_DIR/raw"
RES=$OUT_DIR/results.tsv
MEMRES=$OUT_DIR/mem.tsv
EXPRES=$OUT_DIR/expire.tsv
IDLERES=$OUT_DIR/idle.tsv
printf 'mode\tround\tload\ttest\tserver\tops\tp50_ms\tp99_ms\twall_s\tsrv_cpu_s\tcli_cpu_s\tbg_pct\tsteal_pct\tquiet_wait_s\tattempt\tvalid\tloadavg1\n' > "$RES"
printf 'mode\tround\tserver\tkeys\trss_before_kb\trss_after_kb\thwm_kb\tbytes_per_key_delta\tbytes_per_key_total\tredis_used_memory\tload_s\n' > "$MEMRES"

log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT_DIR/run.log" >&2; }

# ---------- process bookkeeping: everything we start is killed by PID ----------
STARTED_PIDS=()
PROTO_FILE=""
cleanup() {
  local p
  for p in "${STARTED_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${STARTED_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$PROTO_FILE" ] && rm -f "$PROTO_FILE"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports come from below the kernel's ephemeral range (ip_local_port_range), so an
# outgoing connection of another program cannot be holding the port we pick, and a
# port counts as taken if any TCP socket uses it, not only a listener.
EPHEMERAL_LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port_free() { [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]; }
pick_port() {
  local p lo=10000 hi=$EPHEMERAL_LOW
  [ "$hi" -gt $((lo + 1000)) ] || { lo=20000; hi=50000; }
  if [ -n "${PORT_LO:-}" ]; then lo=$PORT_LO; hi=${PORT_HI:-$((PORT_LO + 100))}; fi
  for _ in $(seq 200); do
    p=$(( lo + RANDOM % (hi - lo) ))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  echo "no free port" >&2; return 1
}
listener_pid() { ss -Hltnp "( sport = :$1 )" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
wait_ready() { # port pid
  for _ in $(seq 100); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "server pid $2 died" >&2; return 1; }
    sleep 0.1
  done
  echo "server on port $1 did not answer PING" >&2; return 1
}
stop_pid() { # pid...  (and forget them, so cleanup never signals a recycled PID)
  local p q keep
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    wait "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done   # a grandchild cannot be waited for
  done
  keep=()
  for q in "${STARTED_PIDS[@]}"; do
    for p in "$@"; do [ "$q" = "$p" ] && continue 2; done
    keep+=("$q")
  done
  STARTED_PIDS=("${keep[@]}")
}

# start_servers MODE -> sets R_PORT R_PID C_PORT C_PID C_LPID
start_servers() {
  local mode=$1 pin=()
  [ "$mode" = pinned ] && pin=(taskset -c "$SRV_CPUS")
  local try
  # A port can still be taken between pick_port and the server's bind (the machine
  # is shared): a server that dies at start is retried on another port.
  for try in 1 2 3; do
    R_PORT=$(pick_port)
    "${pin[@]}" "$REDIS_SERVER" --bind 127.0.0.1 --port "$R_PORT" --save '' --appendonly no \
        --protected-mode no --daemonize no --dir "$OUT_DIR" --logfile "$OUT_DIR/redis-$R_PORT.log" &
    R_PID=$!; STARTED_PIDS+=("$R_PID")
    wait_ready "$R_PORT" "$R_PID" && break
    stop_pid "$R_PID"
    [ "$try" -lt 3 ] || { log "redis-server would not start (see $OUT_DIR/redis-$R_PORT.log)"; exit 1; }
    log "redis-server did not start on port $R_PORT; trying another port"
  done
  local cmd=() a
  for try in 1 2 3; do
    C_PORT=$(pick_port)
    while [ "$C_PORT" = "$R_PORT" ]; do C_PORT=$(pick_port); done
    cmd=()
    for a in "${CAND_TEMPLATE[@]}"; do cmd+=("${a//\{PORT\}/$C_PORT}"); done
    PORT=$C_PORT "${pin[@]}" "${cmd[@]}" >"$OUT_DIR/cand-$C_PORT.log" 2>&1 &
    C_PID=$!; STARTED_PIDS+=("$C_PID")
    wait_ready "$C_PORT" "$C_PID" && break
    stop_pid "$C_PID"
    [ "$try" -lt 3 ] || { log "candidate would not start (see $OUT_DIR/cand-$C_PORT.log)"; exit 1; }
    log "candidate did not start on port $C_PORT (see $OUT_DIR/cand-$C_PORT.log); trying another port"
  done
  C_LPID=$(listener_pid "$C_PORT"); [ -n "$C_LPID" ] || C_LPID=$C_PID
  if [ "$C_LPID" != "$C_PID" ]; then
    STARTED_PIDS+=("$C_LPID")
    log "note: candidate listens in pid $C_LPID (started pid $C_PID); measuring $C_LPID"
  fi
  log "$mode: redis pid $R_PID port $R_PORT affinity $(taskset -pc "$R_PID" | awk '{print $NF}');" \
      "candidate pid $C_LPID port $C_PORT affinity $(taskset -pc "$C_LPID" | awk '{print $NF}') ($(cat /proc/"$C_LPID"/comm))"
}
stop_servers() { stop_pid "$C_PID" "$R_PID"; [ "$C_LPID" != "$C_PID" ] && stop_pid "$C_LPID"; return 0; }

# ---------- CPU accounting ----------
# These run without forking (builtins only), so that the CPU accounted to "children"
# between two snapshots is the load generator's alone.
proc_cpu() { # PID -> PCPU: utime+stime ticks of the whole process (all threads)
  local line f; PCPU=0
  if read -r line < "/proc/$1/stat" 2>/dev/null; then
    line=${line##*) }; read -r -a f <<< "$line"; PCPU=$(( f[11] + f[12] ))
  fi
}
sys_cpu() { # -> SBUSY (user+nice+system ticks, all CPUs), SSTEAL (steal ticks)
  local c u n sy i io irq sirq st rest
  read -r c u n sy i io irq sirq st rest < /proc/stat
  SBUSY=$(( u + n + sy )); SSTEAL=$st
}
# `times` reports the cumulative user+sys of this shell's waited-for children; it
# must run in the main shell (a $(...) subshell has its own, empty, counters).
times_s() { # FILE written by `times` -> seconds of children CPU
  awk 'NR==2{ s=0; for(i=1;i<=2;i++){ split($i,a,"m"); sub("s","",a[2]); s+=a[1]*60+a[2] } printf "%.3f\n", s }' "$1"
}
now_s() { echo "$EPOCHREALTIME"; }

# wait until other work on the machine is below QUIET_MAX_BUSY % (servers are idle now)
QUIET_WAITED=0
wait_quiet() {
  local t0 b1 b2 busy
  t0=$(date +%s); QUIET_WAITED=0
  while :; do
    sys_cpu; b1=$SBUSY; sleep 1; sys_cpu; b2=$SBUSY
    busy=$(( (b2 - b1) * 100 / (TCK * NCPU) ))
    [ "$busy" -le "$QUIET_MAX_BUSY" ] && break
    if [ $(( $(date +%s) - t0 )) -ge "$QUIET_TIMEOUT" ]; then
      log "  machine still ${busy}% busy after ${QUIET_TIMEOUT}s; running anyway (see bg_pct)"; break
    fi
  done
  QUIET_WAITED=$(( $(date +%s) - t0 - 1 ))
}

# measure MODE ROUND LOAD TEST SERVER PID -- CLIENT_CMD...
# runs the client (pinned if MODE=pinned) with the quiet-wait and CPU accounting,
# then parses ops/p50/p99 from its output and appends a row to results.tsv.
measure() {
  local mode=$1 round=$2 load=$3 test=$4 srv=$5 pid=$6; shift 7
  local pin=() attempt=0 logf
  [ "$mode" = pinned ] && pin=(taskset -c "$CLI_CPUS")
  mkdir -p "$OUT_DIR/raw"
  while :; do
    attempt=$((attempt + 1))
    logf="$OUT_DIR/raw/$mode-r$round-$load-${test//:/-}-$srv-a$attempt.txt"
    local args=() x
    for x in "$@"; do args+=("${x//@ATTEMPT@/$attempt}"); done
    wait_quiet
    local s0 s1 b0 st0 b1 st1 c0 c1 t0 t1
    proc_cpu "$pid"; s0=$PCPU; sys_cpu; b0=$SBUSY; st0=$SSTEAL
    times > "$OUT_DIR/.times0"; t0=$EPOCHREALTIME
    "${pin[@]}" "${args[@]}" >"$logf" 2>&1 || log "  client exited non-zero: see $logf"
    t1=$EPOCHREALTIME; times > "$OUT_DIR/.times1"
    sys_cpu; b1=$SBUSY; st1=$SSTEAL; proc_cpu "$pid"; s1=$PCPU
    c0=$(times_s "$OUT_DIR/.times0"); c1=$(times_s "$OUT_DIR/.times1")
    local ops="" p50="" p99=""
    case "$load" in
      rb-*) read -r ops p50 p99 < <(awk -F'","' '$1 ~ /^"(SET|GET)$/ {print $2, $5, $7}' "$logf" | tail -1) || true ;;
      mt-*) read -r ops p50 p99 < <(awk '/ALL STATS/{f=1} f && $1=="Totals"{print $2, $6, $7}' "$logf" | tail -1) || true ;;
      mix-*) read -r ops p50 p99 < <(awk -F'","' '$1 ~ /^"MIX$/ {print $2, $5, $7}' "$logf" | tail -1) || true ;;
    esac
    : "${ops:=NA}" "${p50:=NA}" "${p99:=NA}"
    # bg_pct: CPU used by anything but this server and this client, as % of all CPUs;
    # valid=0 when it exceeds MAX_BG (or the client gave no result): such a row is kept
    # in results.tsv but left out of the medians, and the run is retried.
    awk -v m="$mode" -v r="$round" -v l="$load" -v t="$test" -v s="$srv" -v o="$ops" -v a="$p50" -v b="$p99" \
        -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v b0="$b0" -v b1="$b1" -v st0="$st0" -v st1="$st1" \
        -v c0="$c0" -v c1="$c1" -v tck="$TCK" -v n="$NCPU" -v q="$QUIET_WAITED" -v maxbg="$MAX_BG" -v at="$attempt" \
        -v la="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{
          w=t1-t0; srv=(s1-s0)/tck; cli=c1-c0; busy=(b1-b0)/tck
          bg=(busy-srv-cli)/(n*w)*100; if (bg<0) bg=0
          ok=(bg<=maxbg && o!="NA") ? 1 : 0
          printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t%d\t%d\t%d\t%s\n",
            m,r,l,t,s,o,a,b,w,srv,cli,bg,(st1-st0)/tck/(n*w)*100,q,at,ok,la }' >> "$RES"
    local row; row=$(tail -1 "$RES")
    log "  $(echo "$row" | cut -f2-8 | tr '\t' ' ') srv_cpu=$(echo "$row" | cut -f10)s cli_cpu=$(echo "$row" | cut -f11)s bg=$(echo "$row" | cut -f12)% valid=$(echo "$row" | cut -f16) load=$(echo "$row" | cut -f17)"
    [ "$(echo "$row" | cut -f16)" = 1 ] && break
    if [ "$attempt" -gt "$RETRIES" ]; then log "  giving up after $attempt attempts (row kept, marked invalid)"; break; fi
    log "  rejected (background CPU above ${MAX_BG}% or no result): retrying"
  done
}

rb_cmd() { # port test pipeline n
  RB=(redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -n "$4" -r 100000 -d 64 -c 50 -P "$3" --threads "$RB_THREADS" --csv)
}
mix_cmd() { # port pipeline
  MIX=("$MIXLOAD" -addr "127.0.0.1:$1" -n "$RB_N" -c 50 -P "$2" -ratio 10 -keys "$MIX_KEYS" -d 64)
}
mix_prepopulate() { # port
  "$MIXLOAD" -addr "127.0.0.1:$1" -n 1 -c 1 -keys "$MIX_KEYS" -d 64 -prepopulate > "$OUT_DIR/raw/mix-prepop-$1.txt" 2>&1
}
mt_cmd() { # port pipeline
  MT=("$MEMTIER" -s 127.0.0.1 -p "$1" --protocol=redis -t "$MT_THREADS" -c "$MT_CLIENTS" --ratio=1:10
      --key-pattern=G:G --key-minimum=1 --key-maximum=100000 -d 64 --pipeline="$2" --test-time="$MT_TIME"
      --distinct-client-seed --hide-histogram --print-percentiles=50,99,99.9)
}
mt_prepopulate() { # port
  "$MEMTIER" -s 127.0.0.1 -p "$1" --protocol=redis -t 1 -c 10 --ratio=1:0 --key-pattern=P:P \
    --key-minimum=1 --key-maximum=100000 -n allkeys -d 64 --hide-histogram >"$OUT_DIR/raw/prepop-$1.txt" 2>&1
}

run_load() { # mode round load server port pid
  local mode=$1 round=$2 load=$3 srv=$4 port=$5 pid=$6
  case "$load" in
    rb-p*) local P=${load#rb-p} t
           for t in set get; do
             rb_cmd "$port" "$t" "$P" "$RB_N"; measure "$mode" "$round" "$load" "$t" "$srv" "$pid" -- "${RB[@]}"
           done ;;
    mix-p*) mix_cmd "$port" "${load#mix-p}"
            measure "$mode" "$round" "$load" "1:10" "$srv" "$pid" -- "${MIX[@]}" ;;
    mt-p*) mt_cmd "$port" "${load#mt-p}"
           MT+=(--json-out-file="$OUT_DIR/raw/$mode-r$round-$load-$srv-a@ATTEMPT@.json")
           measure "$mode" "$round" "$load" "1:10" "$srv" "$pid" -- "${MT[@]}" ;;
  esac
}

# ---------- memory test ----------
make_proto() { # writes MEM_KEYS SET commands, 16-byte keys, 32-byte values, as RESP
  PROTO_FILE=$(mktemp /tmp/bench-vs-redis-proto.XXXXXX)
  awk -v n="$MEM_KEYS" 'BEGIN{ for(i=0;i<n;i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$32\r\nv%031d\r\n", i, i }' > "$PROTO_FILE"
}
rss_kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status"; }
mem_one() { # mode round server port pid
  local mode=$1 round=$2 srv=$3 port=$4 pid=$5 before after hwm t0 t1 used dbs out
  before=$(rss_kb "$pid" VmRSS)
  t0=$(now_s)
  out=$(redis-cli -h 127.0.0.1 -p "$port" --pipe < "$PROTO_FILE" 2>&1 | tail -1)
  t1=$(now_s)
  sleep 2
  after=$(rss_kb "$pid" VmRSS); hwm=$(rss_kb "$pid" VmHWM)
  dbs=$(redis-cli -h 127.0.0.1 -p "$port" dbsize 2>/dev/null || echo NA)
  used=NA
  [ "$srv" = redis ] && used=$(redis-cli -h 127.0.0.1 -p "$port" info memory | awk -F: '/^used_memory:/{print $2+0}')
  echo "$out" | grep -q 'errors: 0,' || log "  WARNING $srv pipe load: $out"
  [ "$dbs" = "$MEM_KEYS" ] || log "  WARNING $srv DBSIZE=$dbs, expected $MEM_KEYS"
  awk -v m="$mode" -v r="$round" -v s="$srv" -v k="$dbs" -v b="$before" -v a="$after" -v h="$hwm" \
      -v n="$MEM_KEYS" -v u="$used" -v t0="$t0" -v t1="$t1" 'BEGIN{
      printf "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%.1f\t%s\t%.2f\n", m,r,s,k,b,a,h,(a-b)*1024/n,a*1024/n,u,t1-t0 }' >> "$MEMRES"
  log "  mem $srv: $(tail -1 "$MEMRES" | cut -f4-11 | tr '\t' ' ')"
}
run_mem() { # mode
  local mode=$1 r
  [ -n "$PROTO_FILE" ] || make_proto
  for r in $(seq "$MEM_ROUNDS"); do
    start_servers "$mode"
    wait_quiet; mem_one "$mode" "$r" redis "$R_PORT" "$R_PID"
    wait_quiet; mem_one "$mode" "$r" cand "$C_PORT" "$C_LPID"
    stop_servers
  done
}

# ---------- helper binaries: cmd/mixload, cmd/expirebench ----------
go_tool() { # VAR name: sets $VAR to a built ./cmd/<name>, building it unless given; 1 if impossible
  local var=$1 name=$2
  [ -n "${!var}" ] && [ -x "${!var}" ] && return 0
  if ! command -v go >/dev/null; then
    log "go not found and $var not set: cannot build cmd/$name"; return 1
  fi
  printf -v "$var" '%s' "$OUT_DIR/$name"
  log "building ${!var} from $ROOT/cmd/$name"
  (cd "$ROOT" && go build -o "$OUT_DIR/$name" "./cmd/$name") >"$OUT_DIR/$name-build.log" 2>&1 || {
    log "cannot build cmd/$name (see $OUT_DIR/$name-build.log)"; printf -v "$var" '%s' ""; return 1; }
}

# ---------- expiry tests (cmd/expirebench) ----------
exp_one() { # what(expire|idle) mode round server port pid
  local what=$1 mode=$2 round=$3 srv=$4 port=$5 pid=$6 pin=() tmp b0 b1 s0 s1 t0 t1 c0 c1 bg
  [ "$mode" = pinned ] && pin=(taskset -c "$CLI_CPUS")
  tmp=$OUT_DIR/raw/$what-$mode-r$round-$srv.tsv; rm -f "$tmp"
  wait_quiet
  proc_cpu "$pid"; s0=$PCPU; sys_cpu; b0=$SBUSY
  times > "$OUT_DIR/.times0"; t0=$EPOCHREALTIME
  "${pin[@]}" "$EXPIREBENCH" -addr "127.0.0.1:$port" -pid "$pid" -label "$srv" -mode "$what" -keys "$EXP_KEYS" \
      -idle "${IDLE_TIME}s" -tsv "$tmp" > "$OUT_DIR/raw/$what-$mode-r$round-$srv.txt" 2>&1 ||
    log "  expirebench exited non-zero: see $OUT_DIR/raw/$what-$mode-r$round-$srv.txt"
  t1=$EPOCHREALTIME; times > "$OUT_DIR/.times1"
  sys_cpu; b1=$SBUSY; proc_cpu "$pid"; s1=$PCPU
  c0=$(times_s "$OUT_DIR/.times0"); c1=$(times_s "$OUT_DIR/.times1")
  bg=$(awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" \
        -v tck="$TCK" -v n="$NCPU" 'BEGIN{ w=t1-t0; x=((b1-b0)/tck-(s1-s0)/tck-(c1-c0))/(n*w)*100; if (x<0) x=0; printf "%.1f", x }')
  local out=$EXPRES; [ "$what" = idle ] && out=$IDLERES
  if [ -s "$tmp" ]; then
    [ -s "$out" ] || { printf 'mode\tround\tbg_pct\t'; head -1 "$tmp"; } > "$out"
    { printf '%s\t%s\t%s\t' "$mode" "$round" "$bg"; sed -n 2p "$tmp"; } >> "$out"
  fi
  log "  $what $srv: $(sed -n 2p "$tmp" 2>/dev/null | tr '\t' ' ') bg=${bg}%"
}
run_expiry() { # what mode: fresh servers every round, order as for the other loads
  local what=$1 mode=$2 r
  go_tool EXPIREBENCH expirebench || return 0
  for r in $(seq "$ROUNDS"); do
    log "$mode round $r/$ROUNDS load $what"
    start_servers "$mode"
    if [ "$ORDER" = abba ] && [ $((r % 2)) -eq 0 ]; then
      exp_one "$what" "$mode" "$r" cand "$C_PORT" "$C_LPID"; exp_one "$what" "$mode" "$r" redis "$R_PORT" "$R_PID"
    else
      exp_one "$what" "$mode" "$r" redis "$R_PORT" "$R_PID"; exp_one "$what" "$mode" "$r" cand "$C_PORT" "$C_LPID"
    fi
    stop_servers
  done
}

# ---------- summary ----------
summarize() {
  [ "$(wc -l < "$RES")" -gt 1 ] && summarize_perf
  summarize_rest
}
summarize_perf() {
  # medians over valid rows (bg_pct <= MAX_BG); a cell with no valid row falls back to
  # all its rows and is marked "!". ratio = median(cand ops/s) / median(redis ops/s);
  # in brackets the min..max of the per-round ratios (same round, both runs valid).
  awk -F'\t' '
    function med(s,   a,n,i,j,t){ n=split(s,a," "); if(n==0) return -1
      for(i=2;i<=n;i++){t=a[i]+0;j=i-1; while(j>0 && a[j]+0>t){a[j+1]=a[j];j--} a[j+1]=t}
      return (n%2)? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
    function mn(s,  a,n,i,m){ n=split(s,a," "); if(n==0) return -1; m=a[1]+0; for(i=2;i<=n;i++) if(a[i]+0<m) m=a[i]+0; return m }
    function mx(s,  a,n,i,m){ n=split(s,a," "); if(n==0) return -1; m=a[1]+0; for(i=2;i<=n;i++) if(a[i]+0>m) m=a[i]+0; return m }
    function add(ks, v){ ops[ks]=ops[ks] " " $6; p50[ks]=p50[ks] " " $7; p99[ks]=p99[ks] " " $8
      if($6+0>0 && $9>0){ cpu[ks]=cpu[ks] " " ($10/($6*$9))*1e6; su[ks]=su[ks] " " $10/$9*100; cu[ks]=cu[ks] " " $11/$9*100 } }
    NR==1{next}
    { k=$1 SUBSEP $3 SUBSEP $4; if(!(k in seen)){seen[k]=1; order[++nk]=k}
      ks=k SUBSEP $5; tot[ks]++; add(ks "all")
      if($16==1){ nv[ks]++; add(ks "v"); bg[k]=bg[k] " " $12; pair[k SUBSEP $2 SUBSEP $5]=$6; rounds[k]=rounds[k] " " $2 } }
    END{
      print "| mode | load | test | redis ops/s | cand ops/s | ratio of medians | paired ratio med (min..max) | redis p50 / p99 ms | cand p50 / p99 ms | server CPU us/op redis / cand (eff. ratio) | server CPU % redis / cand | client CPU % (redis run / cand run) | valid runs redis / cand | bg CPU % med (max) |"
      print "|---|---|---|---:|---:|---|---|---|---|---|---|---|---|---|"
      for(i=1;i<=nk;i++){ k=order[i]; split(k,f,SUBSEP); r=k SUBSEP "redis"; c=k SUBSEP "cand"
        rs=(nv[r]>0)? r "v" : r "all"; cs=(nv[c]>0)? c "v" : c "all"; flag=(nv[r]>0 && nv[c]>0)? "" : " !"
        mr=med(ops[rs]); mc=med(ops[cs]); pr=""
        n=split(rounds[k],rr," "); delete done
        for(j=1;j<=n;j++){ x=rr[j]; if(x in done) continue; done[x]=1
          if(pair[k SUBSEP x SUBSEP "redis"]+0>0 && pair[k SUBSEP x SUBSEP "cand"]!="") pr=pr " " pair[k SUBSEP x SUBSEP "cand"]/pair[k SUBSEP x SUBSEP "redis"] }
        prs=(pr=="")? "no valid pair" : sprintf("%.2f (%.2f..%.2f)", med(pr), mn(pr), mx(pr))
        bgs=(bg[k]=="")? "n/a" : sprintf("%.0f (%.0f)", med(bg[k]), mx(bg[k]))
        ucr=med(cpu[rs]); ucc=med(cpu[cs])
        printf "| %s | %s | %s | %.0f | %.0f | **%.2f**%s | %s | %.3f / %.3f | %.3f / %.3f | %.2f / %.2f (%.2f) | %.0f / %.0f | %.0f / %.0f | %d/%d / %d/%d | %s |\n",
          f[1], f[2], f[3], mr, mc, (mr>0? mc/mr : 0), flag, prs, med(p50[rs]), med(p99[rs]), med(p50[cs]), med(p99[cs]),
          ucr, ucc, (ucc>0? ucr/ucc : 0), med(su[rs]), med(su[cs]), med(cu[rs]), med(cu[cs]), nv[r], tot[r], nv[c], tot[c], bgs }
    }' "$RES"
  return 0
}
summarize_rest() {
  if [ "$(wc -l < "$MEMRES")" -gt 1 ]; then
    echo
    awk -F'\t' '
      function med(s,   a,n,i,j,t){ n=split(s,a," "); for(i=2;i<=n;i++){t=a[i]+0;j=i-1; while(j>0 && a[j]+0>t){a[j+1]=a[j];j--} a[j+1]=t}
        return (n%2)? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
      NR==1{next}
      { k=$1 SUBSEP $3; if(!(k in seen)){seen[k]=1; order[++nk]=k}
        keys[k]=$4; b[k]=b[k] " " $5; a[k]=a[k] " " $6; h[k]=h[k] " " $7; d[k]=d[k] " " $8; t[k]=t[k] " " $9; u[k]=$10; n[k]++ }
      END{
        print "| mode | server | keys | RSS empty MiB | RSS loaded MiB | peak RSS (VmHWM) MiB | bytes/key (RSS delta) | bytes/key (RSS total) | redis used_memory/key | runs |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for(i=1;i<=nk;i++){ k=order[i]; split(k,f,SUBSEP)
          printf "| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %d |\n", f[1], f[2], keys[k], med(b[k])/1024, med(a[k])/1024,
            med(h[k])/1024, med(d[k]), med(t[k]), (u[k]=="NA"? "-" : sprintf("%.1f", u[k]/keys[k])), n[k] } }' "$MEMRES"
  fi
  # expiry tables: header-driven; each cell is the median (min..max) over rounds
  local f
  for f in "$EXPRES" "$IDLERES"; do
    [ -s "$f" ] || continue
    echo
    awk -F'\t' -v idle="$([ "$f" = "$IDLERES" ] && echo 1 || echo 0)" '
      function sortv(s, a,   n,i,j,t){ n=split(s,a," "); for(i=2;i<=n;i++){t=a[i]+0;j=i-1; while(j>0 && a[j]+0>t){a[j+1]=a[j];j--} a[j+1]=t}; return n }
      function fm(x){ return (x>=100 || x<=-100)? sprintf("%.0f", x) : sprintf("%.3g", x) }
      function cell(s,   a,n,m){ n=sortv(s,a); if(n==0) return "NA"; m=(n%2)? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2
        return (n==1)? fm(m) : fm(m) " (" fm(a[1]) ".." fm(a[n]) ")" }
      NR==1{ for(i=1;i<=NF;i++) col[$i]=i; next }
      { k=$col["mode"] SUBSEP $col["server"]; if(!(k in seen)){seen[k]=1; order[++nk]=k}; n[k]++
        for(c in col){ v=$col[c]; if(v!="NA" && v!="" && v+0==v) vals[k,c]=vals[k,c] " " v } }
      END{
        if(idle){
          print "| mode | server | keys | server CPU while idle, % of one core | expire_cycle_cpu_ms while idle | load s | bg CPU % | loadavg | runs |"
          print "|---|---|---:|---|---|---|---|---|---:|"
          for(i=1;i<=nk;i++){ k=order[i]; split(k,f,SUBSEP)
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", f[1], f[2], cell(vals[k,"keys"]), cell(vals[k,"cpu_pct"]),
              cell(vals[k,"cycle_ms"]), cell(vals[k,"load_s"]), cell(vals[k,"bg_pct"]), cell(vals[k,"loadavg1"]), n[k] }
        } else {
          print "| mode | server | 99% gone after last deadline s | used_memory back after last deadline s | 100% gone after last deadline s | 99% gone after 99th-pct deadline s | window s | server CPU % of one core | same, net of sampling | expire_cycle ms in window | lag p99 s | used_memory bytes/key | load s | bg CPU % | loadavg | runs |"
          print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|"
          for(i=1;i<=nk;i++){ k=order[i]; split(k,f,SUBSEP)
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", f[1], f[2],
              cell(vals[k,"keys99_after_last_s"]), cell(vals[k,"mem_after_last_s"]), cell(vals[k,"keys0_after_last_s"]),
              cell(vals[k,"keys99_after_d99_s"]), cell(vals[k,"window_s"]), cell(vals[k,"cpu_pct"]), cell(vals[k,"cpu_net_pct"]),
              cell(vals[k,"cycle_ms"]), cell(vals[k,"lag_p99_s"]), cell(vals[k,"bytes_per_key"]), cell(vals[k,"load_s"]),
              cell(vals[k,"bg_pct"]), cell(vals[k,"loadavg1"]), n[k] }
        } }' "$f"
  done
}

# ---------- main ----------
log "out: $OUT_DIR"
{
  echo "date: $(date -Is)"; echo "host: $(uname -srm); $(nproc) CPUs; $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "redis: $("$REDIS_SERVER" --version)"; echo "redis-benchmark: $(redis-benchmark --version)"
  [ -n "$MEMTIER" ] && echo "memtier: $MEMTIER"
  echo "candidate: ${CAND_TEMPLATE[*]}"
  echo "rounds=$ROUNDS modes=[$MODES] loads=[$LOADS] RB_N=$RB_N RB_THREADS=$RB_THREADS order=$ORDER SRV_CPUS=$SRV_CPUS CLI_CPUS=$CLI_CPUS MT_TIME=$MT_TIME"
  echo "loadavg at start: $(cat /proc/loadavg)"
} | tee "$OUT_DIR/env.txt" >&2

for mode in $MODES; do
  perf_loads=() want_mem=0 exp_loads=()
  for l in $LOADS; do
    case "$l" in
      mem) want_mem=1 ;;
      mt-*) if [ -n "$MEMTIER" ]; then perf_loads+=("$l"); else log "memtier_benchmark not found: skipping $l"; fi ;;
      rb-p[0-9]*) perf_loads+=("$l") ;;
      mix-p[0-9]*) if go_tool MIXLOAD mixload; then perf_loads+=("$l"); else log "skipping $l"; fi ;;
      expire|idle) exp_loads+=("$l") ;;
      *) echo "unknown load $l" >&2; exit 2 ;;
    esac
  done
  if [ ${#perf_loads[@]} -gt 0 ]; then
    start_servers "$mode"
    mkdir -p "$OUT_DIR/raw"
    for l in "${perf_loads[@]}"; do
      case "$l" in mt-*) mt_prepopulate "$R_PORT"; mt_prepopulate "$C_PORT"; break ;; esac
    done
    for l in "${perf_loads[@]}"; do
      case "$l" in mix-*) mix_prepopulate "$R_PORT"; mix_prepopulate "$C_PORT"; break ;; esac
    done
    log "$mode: warm-up (discarded)"
    cpin=(); [ "$mode" = pinned ] && cpin=(taskset -c "$CLI_CPUS")
    for s in redis cand; do
      if [ $s = redis ]; then p=$R_PORT; else p=$C_PORT; fi
      for t in set get; do
        rb_cmd "$p" "$t" 1 "$WARMUP_N"; "${cpin[@]}" "${RB[@]}" > "$OUT_DIR/raw/warmup-$mode-$s-$t.txt" 2>&1 || true
      done
    done
    for r in $(seq "$ROUNDS"); do
      for l in "${perf_loads[@]}"; do
        log "$mode round $r/$ROUNDS load $l"
        if [ "$ORDER" = abba ] && [ $((r % 2)) -eq 0 ]; then
          run_load "$mode" "$r" "$l" cand "$C_PORT" "$C_LPID"; run_load "$mode" "$r" "$l" redis "$R_PORT" "$R_PID"
        else
          run_load "$mode" "$r" "$l" redis "$R_PORT" "$R_PID"; run_load "$mode" "$r" "$l" cand "$C_PORT" "$C_LPID"
        fi
      done
    done
    stop_servers
  fi
  if [ "$want_mem" = 1 ]; then log "$mode: memory test"; run_mem "$mode"; fi
  for l in "${exp_loads[@]}"; do run_expiry "$l" "$mode"; done
done

summarize | tee "$OUT_DIR/summary.md"
log "raw data: $RES $MEMRES $EXPRES $IDLERES; logs under $OUT_DIR/raw; loadavg at end: $(cat /proc/loadavg)"
