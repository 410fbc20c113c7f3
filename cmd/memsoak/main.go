// Command memsoak checks that a RESP server started with a memory bound keeps
// its resident memory near that bound under sustained churn (issue 3).
//
// From -conns connections it writes values of sizes drawn log-uniformly from
// -min-size to -max-size (1 byte to 1 MiB by default: most values are small,
// but most bytes are in the large ones) to keys drawn uniformly from a key
// space far larger than the bound, and reads random keys in between (-reads
// GETs per SET), for -duration. Every -report it prints elapsed time, ops/s,
// the write rate, the server's RSS (VmRSS of /proc/<pid>/status with -pid,
// else INFO used_memory_rss), used_memory, evicted_keys and RSS / maxmemory.
// At the end it prints the peak RSS (sampled every -rss-every, and VmHWM with
// -pid) and whether it stayed within 1.15 x maxmemory + 32 MiB.
//
//	cachesrv --port 7000 --metrics-addr "" --maxmemory 100mb &
//	memsoak -addr 127.0.0.1:7000 -pid $! -duration 2m
//
// The exit status is 0 when the bound held, 3 when it did not, 1 on errors.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

type options struct {
	addr      string
	pid       int
	maxmemory int64
	duration  time.Duration
	report    time.Duration
	rssEvery  time.Duration
	conns     int
	reads     int
	keys      int
	minSize   int
	maxSize   int
	seed      uint64
	flush     bool
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:6379", "server address")
	flag.IntVar(&o.pid, "pid", 0, "server process id, for VmRSS/VmHWM from /proc/<pid>/status (0: INFO used_memory_rss)")
	flag.Int64Var(&o.maxmemory, "maxmemory", 0, "the server's memory bound in bytes (0: read it with CONFIG GET maxmemory)")
	flag.DurationVar(&o.duration, "duration", 2*time.Minute, "how long to drive the server")
	flag.DurationVar(&o.report, "report", 5*time.Second, "reporting interval")
	flag.DurationVar(&o.rssEvery, "rss-every", 250*time.Millisecond, "RSS sampling interval, for the peak")
	flag.IntVar(&o.conns, "conns", 8, "connections, each writing and reading")
	flag.IntVar(&o.reads, "reads", 1, "GETs per SET")
	flag.IntVar(&o.keys, "keys", 200_000, "key space")
	flag.IntVar(&o.minSize, "min-size", 1, "smallest value, bytes")
	flag.IntVar(&o.maxSize, "max-size", 1<<20, "largest value, bytes")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed")
	flag.BoolVar(&o.flush, "flush", true, "FLUSHALL before starting")
	flag.Parse()
	if o.conns < 1 || o.reads < 0 || o.keys < 1 || o.minSize < 1 || o.maxSize < o.minSize || o.duration <= 0 || o.report <= 0 || o.rssEvery <= 0 {
		fmt.Fprintln(os.Stderr, "memsoak: want -conns, -keys, -min-size >= 1, -max-size >= -min-size, -reads >= 0 and positive durations")
		os.Exit(2)
	}
	ok, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memsoak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(3)
	}
}

const mib = 1 << 20

// procStatus returns a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			fs := strings.Fields(v)
			if len(fs) == 0 {
				break
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func info(s string) map[string]string {
	m := make(map[string]string)
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") {
			m[k] = v
		}
	}
	return m
}

func infoInt(m map[string]string, k string) int64 {
	n, err := strconv.ParseInt(m[k], 10, 64)
	if err != nil {
		return -1
	}
	return n
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

// counters shared by the workers.
type counters struct {
	sets, gets, hits, written, oom, errs atomic.Int64
}

// sizer draws value sizes log-uniformly from [min, max].
type sizer struct{ lo, hi float64 }

func newSizer(min, max int) sizer {
	return sizer{lo: math.Log(float64(min)), hi: math.Log(float64(max) + 1)}
}

func (s sizer) draw(r *rand.Rand) int {
	return int(math.Exp(s.lo + r.Float64()*(s.hi-s.lo)))
}

// mean is the expected size, (max+1-min)/ln((max+1)/min) for the
// continuous distribution.
func (s sizer) mean() float64 { return (math.Exp(s.hi) - math.Exp(s.lo)) / (s.hi - s.lo) }

func worker(ctx context.Context, c *redis.Client, o options, w int, payload []byte, cnt *counters) error {
	rng := rand.New(rand.NewPCG(o.seed, uint64(w)))
	sz := newSizer(o.minSize, o.maxSize)
	key := make([]byte, 0, 32)
	for ctx.Err() == nil {
		n := min(sz.draw(rng), o.maxSize)
		key = strconv.AppendInt(append(key[:0], "soak:"...), int64(rng.IntN(o.keys)), 10)
		err := c.Set(ctx, string(key), payload[:n], 0).Err()
		switch {
		case err == nil:
			cnt.sets.Add(1)
			cnt.written.Add(int64(n))
		case ctx.Err() != nil:
			return nil
		case strings.HasPrefix(err.Error(), "OOM"):
			cnt.oom.Add(1)
		default:
			cnt.errs.Add(1)
			if cnt.errs.Load() > 100 {
				return fmt.Errorf("SET: %w", err)
			}
		}
		for range o.reads {
			key = strconv.AppendInt(append(key[:0], "soak:"...), int64(rng.IntN(o.keys)), 10)
			err := c.Get(ctx, string(key)).Err()
			switch {
			case err == nil:
				cnt.gets.Add(1)
				cnt.hits.Add(1)
			case errors.Is(err, redis.Nil):
				cnt.gets.Add(1)
			case ctx.Err() != nil:
				return nil
			default:
				cnt.errs.Add(1)
				if cnt.errs.Load() > 100 {
					return fmt.Errorf("GET: %w", err)
				}
			}
		}
	}
	return nil
}

func run(ctx context.Context, o options) (bool, error) {
	c := redis.NewClient(&redis.Options{Addr: o.addr, PoolSize: o.conns, MinIdleConns: o.conns,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	mon := redis.NewClient(&redis.Options{Addr: o.addr, PoolSize: 1, DisableIdentity: true, MaxRetries: -1})
	defer mon.Close()

	if o.maxmemory == 0 {
		v, err := c.ConfigGet(ctx, "maxmemory").Result()
		if err != nil {
			return false, fmt.Errorf("config get maxmemory: %w", err)
		}
		o.maxmemory, _ = strconv.ParseInt(v["maxmemory"], 10, 64)
		if o.maxmemory <= 0 {
			return false, errors.New("the server has no maxmemory: start it with one, or give -maxmemory")
		}
	}
	pol, _ := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if o.flush {
		if err := c.FlushAll(ctx).Err(); err != nil {
			return false, fmt.Errorf("flushall: %w", err)
		}
	}
	srv := info(c.Info(ctx, "server").Val())
	name := "redis " + srv["redis_version"]
	if v := srv["cachesrv_version"]; v != "" {
		name = "cachesrv " + v
	}
	limit := o.maxmemory*115/100 + 32*mib
	sz := newSizer(o.minSize, o.maxSize)
	fmt.Printf("memsoak: %s at %s (pid %d), maxmemory %d (%.1f MiB), policy %s; limit for RSS 1.15 x maxmemory + 32 MiB = %.1f MiB\n",
		name, o.addr, o.pid, o.maxmemory, float64(o.maxmemory)/mib, pol["maxmemory-policy"], float64(limit)/mib)
	fmt.Printf("memsoak: %d connections, %d GET per SET, %d keys, values %d..%d bytes log-uniform (mean %.0f bytes, %.1f GiB if every key were held), %v; loadavg %s\n",
		o.conns, o.reads, o.keys, o.minSize, o.maxSize, sz.mean(), sz.mean()*float64(o.keys)/(1<<30), o.duration, loadavg())

	rss := func() (int64, error) {
		if o.pid != 0 {
			return procStatus(o.pid, "VmRSS")
		}
		v := infoInt(info(mon.Info(ctx, "memory").Val()), "used_memory_rss")
		if v < 0 {
			return 0, errors.New("INFO has no used_memory_rss")
		}
		return v, nil
	}
	rss0, err := rss()
	if err != nil {
		return false, err
	}

	payload := make([]byte, o.maxSize)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var cnt counters
	wctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, o.conns)
	start := time.Now()
	for w := range o.conns {
		wg.Go(func() {
			if err := worker(wctx, c, o, w, payload, &cnt); err != nil {
				errc <- err
				cancel()
			}
		})
	}

	// Sample RSS often for the peak; print every report interval.
	var peakRSS, peakUsed int64
	var lastOps, lastSets, lastBytes int64
	lastT := start
	rssTick := time.NewTicker(o.rssEvery)
	defer rssTick.Stop()
	next := start.Add(o.report)
	fmt.Printf("%8s %10s %8s %9s %10s %12s %10s %12s %9s %10s\n",
		"elapsed", "ops/s", "sets/s", "MiB/s", "RSS MiB", "used_memory", "used MiB", "evicted_keys", "RSS/max", "keys")
	sampleErr := func(err error) (bool, error) { cancel(); wg.Wait(); return false, err }
	for wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-rssTick.C:
		}
		r, err := rss()
		if err != nil {
			return sampleErr(err)
		}
		peakRSS = max(peakRSS, r)
		mi := info(mon.Info(ctx, "memory", "stats").Val())
		used := infoInt(mi, "used_memory")
		peakUsed = max(peakUsed, used)
		now := time.Now()
		if now.Before(next) && wctx.Err() == nil {
			continue
		}
		next = next.Add(o.report)
		ops := cnt.sets.Load() + cnt.gets.Load()
		sets, bytes := cnt.sets.Load(), cnt.written.Load()
		dt := now.Sub(lastT).Seconds()
		keys := mon.DBSize(ctx).Val()
		fmt.Printf("%7.0fs %10.0f %8.0f %9.1f %10.1f %12d %10.1f %12d %9.3f %10d\n",
			now.Sub(start).Seconds(), float64(ops-lastOps)/dt, float64(sets-lastSets)/dt,
			float64(bytes-lastBytes)/dt/mib, float64(r)/mib, used, float64(used)/mib,
			infoInt(mi, "evicted_keys"), float64(r)/float64(o.maxmemory), keys)
		lastOps, lastSets, lastBytes, lastT = ops, sets, bytes, now
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return false, err
	}
	elapsed := time.Since(start)

	hwm := int64(-1)
	if o.pid != 0 {
		if h, err := procStatus(o.pid, "VmHWM"); err == nil {
			hwm = h
			peakRSS = max(peakRSS, h)
		}
	}
	final := info(mon.Info(ctx, "memory", "stats").Val())
	ok := peakRSS <= limit
	fmt.Printf("memsoak: %.0f s, %d SETs (%.1f GiB written), %d GETs (%.1f%% hits), %d OOM replies, %d other errors, %.0f ops/s overall\n",
		elapsed.Seconds(), cnt.sets.Load(), float64(cnt.written.Load())/(1<<30), cnt.gets.Load(),
		100*float64(cnt.hits.Load())/float64(max(cnt.gets.Load(), 1)), cnt.oom.Load(), cnt.errs.Load(),
		float64(cnt.sets.Load()+cnt.gets.Load())/elapsed.Seconds())
	fmt.Printf("memsoak: RSS before %.1f MiB; peak RSS %.1f MiB (sampled every %v; VmHWM %s) = %.3f x maxmemory; peak used_memory %.1f MiB; at the end used_memory %s, evicted_keys %s\n",
		float64(rss0)/mib, float64(peakRSS)/mib, o.rssEvery, mibOrNA(hwm), float64(peakRSS)/float64(o.maxmemory),
		float64(peakUsed)/mib, final["used_memory"], final["evicted_keys"])
	verdict := "PASS"
	if !ok {
		verdict = "FAIL"
	}
	fmt.Printf("memsoak: %s: peak RSS %.1f MiB %s limit %.1f MiB (1.15 x maxmemory + 32 MiB); loadavg %s\n",
		verdict, float64(peakRSS)/mib, map[bool]string{true: "<=", false: ">"}[ok], float64(limit)/mib, loadavg())
	return ok, nil
}

func mibOrNA(v int64) string {
	if v < 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(v)/mib, 'f', 1, 64) + " MiB"
}
