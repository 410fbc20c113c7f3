// Command expirebench measures how fast a RESP server reclaims keys whose
// time to live ran out without anyone touching them again, and what the
// active expiry costs in CPU (issue 9). It works against cachesrv and
// redis-server alike, so both can be run on the same machine in one session.
//
// Mode expire (the default) loads -keys keys (16-byte keys, 32-byte values,
// SET ... PX, pipelined) with TTLs drawn uniformly from -min-ttl..-max-ttl,
// never touches them again, and samples DBSIZE, INFO used_memory, INFO
// expire_cycle_cpu_milliseconds and the server's CPU time (utime+stime of
// /proc/<pid>/stat, all threads) every -interval. It reports how long after
// the last deadline at least 99% of the keys had left DBSIZE and used_memory
// had come back to baseline + 1% of the loaded delta (+ 1% of the baseline),
// and the server's CPU over the expiry window, from the first deadline (or
// the end of the load, if later) until both of those happened.
//
// Mode idle loads the keys with a TTL of one hour, lets the server settle,
// then reads the server's CPU time before and after -idle of silence (no
// requests at all in between).
//
//	expirebench -addr 127.0.0.1:6379 -pid $(pidof redis-server) -label redis
//	expirebench -addr 127.0.0.1:7000 -pid $CACHESRV_PID -label cachesrv -mode idle
//
// With -tsv FILE one row of results is appended to FILE (a header first if
// the file is empty), which scripts/bench-compare.sh uses to build its tables.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

type options struct {
	addr     string
	pid      int
	label    string
	mode     string
	keys     int
	minTTL   time.Duration
	maxTTL   time.Duration
	interval time.Duration
	conns    int
	loader   string
	batch    int
	maxWait  time.Duration
	settle   time.Duration
	idle     time.Duration
	pre      time.Duration
	flush    bool
	seed     uint64
	tsv      string
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:6379", "server address")
	flag.IntVar(&o.pid, "pid", 0, "server process id, for its CPU time from /proc/<pid>/stat (0: no CPU figures)")
	flag.StringVar(&o.label, "label", "", "server name printed in the report (default: the INFO server name)")
	flag.StringVar(&o.mode, "mode", "expire", "expire: time and CPU to reclaim keys with short TTLs; idle: CPU while keys with long TTLs sit idle")
	flag.IntVar(&o.keys, "keys", 1_000_000, "keys to load")
	flag.DurationVar(&o.minTTL, "min-ttl", 0, "shortest TTL (default 1s in expire mode, 1h in idle mode)")
	flag.DurationVar(&o.maxTTL, "max-ttl", 0, "longest TTL (default 10s in expire mode, 1h in idle mode)")
	flag.DurationVar(&o.interval, "interval", 50*time.Millisecond, "sampling interval (expire mode)")
	flag.IntVar(&o.conns, "conns", 4, "connections used for the load")
	flag.StringVar(&o.loader, "loader", "raw", "how the load is sent: raw (hand-encoded RESP pipelines) or go-redis (go-redis pipelines; slower on the client side)")
	flag.IntVar(&o.batch, "batch", 1000, "commands per pipeline during the load")
	flag.DurationVar(&o.maxWait, "max-wait", 60*time.Second, "give up this long after the last deadline (expire mode)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait after the load before measuring idle CPU (idle mode)")
	flag.DurationVar(&o.idle, "idle", 20*time.Second, "idle period measured (idle mode)")
	flag.DurationVar(&o.pre, "pre", 2*time.Second, "sampling on the empty server before the load: baseline used_memory and the CPU cost of sampling (expire mode)")
	flag.BoolVar(&o.flush, "flush", true, "FLUSHALL before starting")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed for the TTLs")
	flag.StringVar(&o.tsv, "tsv", "", "append one tab-separated result row to this file")
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "expirebench:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "expirebench:", err)
		os.Exit(1)
	}
}

func (o *options) validate() error {
	var errs []error
	switch o.mode {
	case "expire":
		if o.minTTL == 0 {
			o.minTTL = time.Second
		}
		if o.maxTTL == 0 {
			o.maxTTL = 10 * time.Second
		}
	case "idle":
		if o.minTTL == 0 {
			o.minTTL = time.Hour
		}
		if o.maxTTL == 0 {
			o.maxTTL = time.Hour
		}
	default:
		errs = append(errs, fmt.Errorf("-mode %q: want expire or idle", o.mode))
	}
	if o.keys < 1 || o.keys > 1e8 {
		errs = append(errs, fmt.Errorf("-keys %d: want 1..100000000", o.keys))
	}
	if o.minTTL < time.Millisecond || o.maxTTL < o.minTTL {
		errs = append(errs, fmt.Errorf("-min-ttl %v -max-ttl %v: want 1ms <= min <= max", o.minTTL, o.maxTTL))
	}
	if o.loader != "raw" && o.loader != "go-redis" {
		errs = append(errs, fmt.Errorf("-loader %q: want raw or go-redis", o.loader))
	}
	if o.conns < 1 || o.batch < 1 || o.interval <= 0 {
		errs = append(errs, errors.New("-conns, -batch and -interval must be positive"))
	}
	if o.pid != 0 {
		if _, err := procCPU(o.pid); err != nil {
			errs = append(errs, fmt.Errorf("-pid %d: %w", o.pid, err))
		}
	}
	return errors.Join(errs...)
}

// clkTck is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clkTck = 100

// procCPU returns the user+system CPU time of process pid, all threads.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("cannot parse /proc/pid/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("cannot parse /proc/pid/stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cannot parse /proc/pid/stat: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// info parses INFO output into name -> value.
func info(s string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = v
		}
	}
	return m
}

func infoInt(m map[string]string, k string) int64 {
	v, ok := m[k]
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// sample is one observation of the server.
type sample struct {
	at      time.Duration // since the run's reference time
	keys    int64         // DBSIZE
	used    int64         // used_memory
	expired int64         // expired_keys
	cycleMs int64         // expire_cycle_cpu_milliseconds, -1 if absent
	cpu     time.Duration // server utime+stime, -1 without -pid
}

type bench struct {
	o   options
	ctx context.Context
	c   *redis.Client // load and control
	sc  *redis.Client // sampler
	t0  time.Time     // reference time for every offset

	mu      sync.Mutex
	samples []sample
}

func (b *bench) now() time.Duration { return time.Since(b.t0) }

func (b *bench) cpu() time.Duration {
	if b.o.pid == 0 {
		return -1
	}
	d, err := procCPU(b.o.pid)
	if err != nil {
		return -1
	}
	return d
}

// take records one sample through the sampler connection.
func (b *bench) take() (sample, error) {
	p := b.sc.Pipeline()
	dbs := p.DBSize(b.ctx)
	inf := p.Info(b.ctx, "memory", "stats")
	if _, err := p.Exec(b.ctx); err != nil {
		return sample{}, fmt.Errorf("sample: %w", err)
	}
	m := info(inf.Val())
	s := sample{
		at:      b.now(),
		keys:    dbs.Val(),
		used:    infoInt(m, "used_memory"),
		expired: infoInt(m, "expired_keys"),
		cycleMs: infoInt(m, "expire_cycle_cpu_milliseconds"),
		cpu:     b.cpu(),
	}
	if s.used < 0 {
		return s, errors.New("sample: INFO has no used_memory")
	}
	return s, nil
}

// sampleLoop samples every interval until stop is closed.
func (b *bench) sampleLoop(stop <-chan struct{}, errc chan<- error) {
	t := time.NewTicker(b.o.interval)
	defer t.Stop()
	for {
		s, err := b.take()
		if err != nil {
			errc <- err
			return
		}
		b.mu.Lock()
		b.samples = append(b.samples, s)
		b.mu.Unlock()
		select {
		case <-stop:
			errc <- nil
			return
		case <-t.C:
		}
	}
}

func (b *bench) snapshot() []sample {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.samples)
}

// load writes the keys from o.conns connections and returns each key's
// deadline as an offset from t0: the time its pipeline was sent plus its TTL.
// The server sets the deadline when it executes the command, a little later,
// so "time after the last deadline" is if anything overstated.
//
// The load encodes RESP itself on plain connections (-loader raw, the
// default) rather than going through go-redis pipelines: on a 2-core machine
// go-redis's per-command cost made loading a million keys take several
// seconds, most of the 1-10 s TTL range, and the expiry window would have
// been measured while the client still competed for the CPU.
func (b *bench) load() ([]time.Duration, error) {
	o := b.o
	deadlines := make([]time.Duration, o.keys)
	span := int64(o.maxTTL/time.Millisecond - o.minTTL/time.Millisecond)
	minMs := int64(o.minTTL / time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, o.conns)
	per := (o.keys + o.conns - 1) / o.conns
	for w := range o.conns {
		lo, hi := w*per, min((w+1)*per, o.keys)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(o.seed, uint64(w)))
			ttl := func() int64 {
				if span > 0 {
					return minMs + rng.Int64N(span+1)
				}
				return minMs
			}
			if o.loader == "go-redis" {
				errs[w] = b.loadGoRedis(lo, hi, deadlines, ttl)
			} else {
				errs[w] = b.loadRaw(lo, hi, deadlines, ttl)
			}
		})
	}
	wg.Wait()
	return deadlines, errors.Join(errs...)
}

const value32 = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"

// appendKey appends key number i, 16 bytes.
func appendKey(dst []byte, i int) []byte { return fmt.Appendf(dst, "eb:%013d", i) }

func (b *bench) loadRaw(lo, hi int, deadlines []time.Duration, ttl func() int64) error {
	conn, err := net.DialTimeout("tcp", b.o.addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	var buf []byte
	for i := lo; i < hi; i += b.o.batch {
		end := min(i+b.o.batch, hi)
		buf = buf[:0]
		for j := i; j < end; j++ {
			t := ttl()
			deadlines[j] = time.Duration(t) * time.Millisecond
			ts := strconv.FormatInt(t, 10)
			buf = append(buf, "*5\r\n$3\r\nSET\r\n$16\r\n"...)
			buf = appendKey(buf, j)
			buf = append(buf, "\r\n$32\r\n"+value32+"\r\n$2\r\nPX\r\n$"...)
			buf = strconv.AppendInt(buf, int64(len(ts)), 10)
			buf = append(buf, "\r\n"...)
			buf = append(buf, ts...)
			buf = append(buf, "\r\n"...)
		}
		sent := b.now()
		for j := i; j < end; j++ {
			deadlines[j] += sent
		}
		if _, err := conn.Write(buf); err != nil {
			return fmt.Errorf("load: %w", err)
		}
		for j := i; j < end; j++ {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			if string(line) != "+OK\r\n" {
				return fmt.Errorf("load: SET replied %q", strings.TrimSpace(string(line)))
			}
		}
	}
	return nil
}

func (b *bench) loadGoRedis(lo, hi int, deadlines []time.Duration, ttl func() int64) error {
	key := make([]byte, 0, 16)
	for i := lo; i < hi; i += b.o.batch {
		p := b.c.Pipeline()
		end := min(i+b.o.batch, hi)
		for j := i; j < end; j++ {
			t := ttl()
			deadlines[j] = time.Duration(t) * time.Millisecond
			key = appendKey(key[:0], j)
			p.Do(b.ctx, "SET", string(key), value32, "PX", t)
		}
		sent := b.now()
		for j := i; j < end; j++ {
			deadlines[j] += sent
		}
		if _, err := p.Exec(b.ctx); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	return nil
}

func run(ctx context.Context, o options) error {
	b := &bench{o: o, ctx: ctx, t0: time.Now()}
	b.c = redis.NewClient(&redis.Options{Addr: o.addr, PoolSize: o.conns + 1, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, DisableIdentity: true, MaxRetries: -1})
	defer b.c.Close()
	b.sc = redis.NewClient(&redis.Options{Addr: o.addr, PoolSize: 1, ReadTimeout: 10 * time.Second,
		DisableIdentity: true, MaxRetries: -1})
	defer b.sc.Close()

	srv := info(b.c.Info(ctx, "server").Val())
	if o.label == "" {
		o.label = "redis"
		if srv["cachesrv_version"] != "" {
			o.label = "cachesrv"
		}
		b.o.label = o.label
	}
	if o.flush {
		if err := b.c.FlushAll(ctx).Err(); err != nil {
			return fmt.Errorf("flushall: %w", err)
		}
	}
	la0 := loadavg()
	fmt.Printf("expirebench mode=%s server=%s (%s) addr=%s pid=%d keys=%d ttl=%v..%v loadavg(1/5/15m)=%s\n",
		o.mode, o.label, srv["redis_version"], o.addr, o.pid, o.keys, o.minTTL, o.maxTTL, la0)
	if o.mode == "idle" {
		return b.runIdle(la0)
	}
	return b.runExpire(la0)
}

// result is one printed row.
type result struct{ name, value, note string }

func ms(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + " s" }

func pct(cpu, wall time.Duration) float64 {
	if cpu < 0 || wall <= 0 {
		return -1
	}
	return 100 * cpu.Seconds() / wall.Seconds()
}

func fpct(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " %"
}

func (b *bench) runExpire(la0 string) error {
	o := b.o
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go b.sampleLoop(stop, errc)
	stopSampler := func() error {
		select {
		case <-stop:
		default:
			close(stop)
		}
		return <-errc
	}

	// Baseline on the empty server, and what sampling alone costs it.
	time.Sleep(o.pre)
	pre := b.snapshot()
	if len(pre) < 2 {
		_ = stopSampler()
		return errors.New("no samples before the load")
	}
	base := pre[len(pre)-1].used
	samplerPct := pct(pre[len(pre)-1].cpu-pre[0].cpu, pre[len(pre)-1].at-pre[0].at)
	if pre[0].cpu < 0 {
		samplerPct = -1
	}
	expired0 := pre[len(pre)-1].expired

	loadStart := b.now()
	deadlines, err := b.load()
	loadEnd := b.now()
	if err != nil {
		_ = stopSampler()
		return err
	}
	sorted := slices.Clone(deadlines)
	slices.Sort(sorted)
	first, last := sorted[0], sorted[len(sorted)-1]
	d99 := sorted[(len(sorted)*99+99)/100-1] // when 99% of the deadlines have passed

	// Wait until both criteria hold and DBSIZE is 0 (and at least until the
	// last deadline has passed), or give up.
	var (
		peak          int64
		keysDone      = -1
		memDone       = -1
		zeroDone      = -1
		atLast        = int64(-1)
		keysThreshold = int64(o.keys) / 100
		memThreshold  int64
	)
	for {
		time.Sleep(o.interval)
		ss := b.snapshot()
		peak = 0
		for _, s := range ss {
			peak = max(peak, s.used)
		}
		delta := peak - base
		memThreshold = base + delta/100 + base/100
		keysDone, memDone, zeroDone = -1, -1, -1
		for i, s := range ss {
			if s.at < loadEnd {
				continue
			}
			if keysDone < 0 && s.keys <= keysThreshold {
				keysDone = i
			}
			if memDone < 0 && s.used <= memThreshold {
				memDone = i
			}
			if zeroDone < 0 && s.keys == 0 {
				zeroDone = i
			}
		}
		if keysDone >= 0 && memDone >= 0 && zeroDone >= 0 && ss[len(ss)-1].at > last {
			break
		}
		if b.now() > last+o.maxWait {
			break
		}
	}
	// One more sample after reclaim, for the end-of-run counters.
	time.Sleep(2 * o.interval)
	if err := stopSampler(); err != nil {
		return err
	}
	ss := b.snapshot()
	end := ss[len(ss)-1]
	la1 := loadavg()
	atLast = -1
	for _, s := range ss {
		if s.at >= last {
			atLast = s.keys
			break
		}
	}

	rows := []result{
		{"load", ms(loadEnd - loadStart), fmt.Sprintf("%.0f keys/s", float64(o.keys)/(loadEnd-loadStart).Seconds())},
		{"first / last deadline after load start", ms(first-loadStart) + " / " + ms(last-loadStart), ""},
		{"used_memory baseline / peak", strconv.FormatInt(base, 10) + " / " + strconv.FormatInt(peak, 10),
			fmt.Sprintf("%.1f bytes/key loaded; reclaimed at <= %d", float64(peak-base)/float64(o.keys), memThreshold)},
		{"keys left at the last deadline", strconv.FormatInt(atLast, 10), ""},
	}
	var keysAt, memAt time.Duration = -1, -1
	if keysDone >= 0 {
		keysAt = ss[keysDone].at
		rows = append(rows, result{"99% gone from DBSIZE, after last deadline", ms(keysAt - last),
			"after the 99th-percentile deadline: " + ms(keysAt-d99)})
	} else {
		rows = append(rows, result{"99% gone from DBSIZE, after last deadline", "not reached", fmt.Sprintf("DBSIZE %d at the end", end.keys)})
	}
	var zeroAt time.Duration = -1
	if zeroDone >= 0 {
		zeroAt = ss[zeroDone].at
		rows = append(rows, result{"100% gone (DBSIZE 0), after last deadline", ms(zeroAt - last), ""})
	} else {
		rows = append(rows, result{"100% gone (DBSIZE 0), after last deadline", "not reached", ""})
	}
	if memDone >= 0 {
		memAt = ss[memDone].at
		rows = append(rows, result{"used_memory reclaimed, after last deadline", ms(memAt - last), ""})
	} else {
		rows = append(rows, result{"used_memory reclaimed, after last deadline", "not reached", fmt.Sprintf("used_memory %d at the end", end.used)})
	}

	// Expiry window: first deadline (or the end of the load, if later) to
	// reclaim done (both criteria), using the samples nearest to each end.
	wStart := max(first, loadEnd)
	wEnd := max(keysAt, memAt)
	if keysAt < 0 || memAt < 0 {
		wEnd = end.at
	}
	var s0, s1 sample
	for _, s := range ss {
		if s.at >= wStart {
			s0 = s
			break
		}
	}
	for _, s := range ss {
		if s.at <= wEnd {
			s1 = s
		}
	}
	window := s1.at - s0.at
	cpuPct := pct(s1.cpu-s0.cpu, window)
	if s0.cpu < 0 {
		cpuPct = -1
	}
	net := -1.0
	if cpuPct >= 0 && samplerPct >= 0 {
		net = max(cpuPct-samplerPct, 0)
	}
	cycle := "n/a"
	cycleTotal := "n/a"
	if s1.cycleMs >= 0 && s0.cycleMs >= 0 {
		cycle = strconv.FormatInt(s1.cycleMs-s0.cycleMs, 10) + " ms"
		cycleTotal = strconv.FormatInt(end.cycleMs, 10) + " ms"
	}
	rows = append(rows,
		result{"expiry window", ms(window), "from " + ms(s0.at-loadStart) + " to " + ms(s1.at-loadStart) + " after load start"},
		result{"server CPU over the window, % of one core", fpct(cpuPct), "sampling alone costs " + fpct(samplerPct) + " (measured before the load)"},
		result{"  the same net of the sampling cost", fpct(net), ""},
		result{"expire_cycle_cpu_milliseconds over the window / total", cycle + " / " + cycleTotal, ""},
		result{"expired_keys", strconv.FormatInt(end.expired-expired0, 10), ""},
	)
	ei := info(b.c.Info(b.ctx, "stats").Val())
	rows = append(rows, result{"expired_stale_perc / expired_time_cap_reached_count",
		ei["expired_stale_perc"] + " / " + ei["expired_time_cap_reached_count"], "at the end"})
	lag := info(b.c.Info(b.ctx, "expiry").Val())
	p50, p99 := lag["expire_lag_p50_seconds"], lag["expire_lag_p99_seconds"]
	if p99 != "" {
		rows = append(rows, result{"expire lag p50 / p99 (INFO expiry)", p50 + " s / " + p99 + " s", "whole server lifetime"})
	}
	rows = append(rows, result{"loadavg (1/5/15m) before / after", la0 + " / " + la1, ""})
	printRows(rows)

	if o.tsv != "" {
		f := func(d time.Duration) string {
			if d < 0 {
				return "NA"
			}
			return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
		}
		sec := func(a, b time.Duration) string {
			if a < 0 {
				return "NA"
			}
			return strconv.FormatFloat((a - b).Seconds(), 'f', 3, 64)
		}
		na := func(s string) string {
			if s == "" {
				return "NA"
			}
			return s
		}
		cyc := "NA"
		if s1.cycleMs >= 0 && s0.cycleMs >= 0 {
			cyc = strconv.FormatInt(s1.cycleMs-s0.cycleMs, 10)
		}
		return appendTSV(o.tsv, []string{"test", "server", "keys", "load_s", "keys99_after_last_s", "mem_after_last_s",
			"keys99_after_d99_s", "keys0_after_last_s", "keys_at_last", "window_s", "cpu_pct", "sampler_pct", "cpu_net_pct", "cycle_ms", "lag_p99_s",
			"used_base", "used_peak", "bytes_per_key", "loadavg1"},
			[]string{"expire", o.label, strconv.Itoa(o.keys), f(loadEnd - loadStart), sec(keysAt, last), sec(memAt, last),
				sec(keysAt, d99), sec(zeroAt, last), strconv.FormatInt(atLast, 10), f(window), strconv.FormatFloat(cpuPct, 'f', 2, 64),
				strconv.FormatFloat(samplerPct, 'f', 2, 64), strconv.FormatFloat(net, 'f', 2, 64), cyc, na(p99), strconv.FormatInt(base, 10),
				strconv.FormatInt(peak, 10), strconv.FormatFloat(float64(peak-base)/float64(o.keys), 'f', 1, 64),
				strings.Fields(la1)[0]})
	}
	return nil
}

func (b *bench) runIdle(la0 string) error {
	o := b.o
	loadStart := time.Now()
	if _, err := b.load(); err != nil {
		return err
	}
	loadDur := time.Since(loadStart)
	time.Sleep(o.settle)
	i0 := info(b.c.Info(b.ctx, "memory", "stats").Val())
	keys := b.c.DBSize(b.ctx).Val()
	// Nothing talks to the server between the two CPU readings.
	c0, t0 := b.cpu(), time.Now()
	time.Sleep(o.idle)
	c1, t1 := b.cpu(), time.Now()
	i1 := info(b.c.Info(b.ctx, "stats").Val())
	la1 := loadavg()
	cpuPct := pct(c1-c0, t1.Sub(t0))
	if c0 < 0 || c1 < 0 {
		cpuPct = -1
	}
	cyc := "NA"
	if a, z := infoInt(i0, "expire_cycle_cpu_milliseconds"), infoInt(i1, "expire_cycle_cpu_milliseconds"); a >= 0 && z >= 0 {
		cyc = strconv.FormatInt(z-a, 10)
	}
	printRows([]result{
		{"load", ms(loadDur), fmt.Sprintf("%.0f keys/s", float64(o.keys)/loadDur.Seconds())},
		{"DBSIZE / used_memory after load", strconv.FormatInt(keys, 10) + " / " + i0["used_memory"], ""},
		{"idle period", ms(t1.Sub(t0)), "after " + o.settle.String() + " of settling"},
		{"server CPU while idle, % of one core", fpct(cpuPct), fmt.Sprintf("%v of CPU", (c1 - c0).Round(time.Millisecond))},
		{"expire_cycle_cpu_milliseconds while idle", cyc + " ms", ""},
		{"loadavg (1/5/15m) before / after", la0 + " / " + la1, ""},
	})
	if o.tsv != "" {
		return appendTSV(o.tsv, []string{"test", "server", "keys", "load_s", "idle_s", "cpu_pct", "cycle_ms", "loadavg1"},
			[]string{"idle", o.label, strconv.FormatInt(keys, 10), strconv.FormatFloat(loadDur.Seconds(), 'f', 3, 64),
				strconv.FormatFloat(t1.Sub(t0).Seconds(), 'f', 3, 64), strconv.FormatFloat(cpuPct, 'f', 2, 64), cyc,
				strings.Fields(la1)[0]})
	}
	return nil
}

func printRows(rows []result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "metric\tvalue\tnote")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.name, r.value, r.note)
	}
	w.Flush()
}

// appendTSV appends row to file, writing header first if the file is empty.
func appendTSV(file string, header, row []string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open result file: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		_, err = fmt.Fprintln(f, strings.Join(header, "\t"))
	}
	if err == nil {
		_, err = fmt.Fprintln(f, strings.Join(row, "\t"))
	}
	return errors.Join(err, f.Close())
}
