package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/client/cacheaside"
)

// Config sizes the two workloads.
type Config struct {
	// Cold miss: Clients readers ask for one missing key at once.
	Clients int
	Loader  time.Duration // how long the origin takes

	// Hot key: HotClients readers read one key for HotDuration, each
	// pausing Think between reads; the key lives TTL (Grace after it in the
	// stale-while-revalidate mode). Origin calls are counted per Bucket.
	HotClients  int
	HotDuration time.Duration
	Think       time.Duration
	TTL         time.Duration
	Grace       time.Duration
	Bucket      time.Duration
}

// Mode is one way of reading through the cache.
type Mode struct {
	Name      string
	Protected bool    // cacheaside.GetOrLoad (leases) instead of GET/SET
	Beta      float64 // XFetch beta; negative disables early refresh
	Grace     bool    // stale-while-revalidate
}

// Modes of the hot-key workload.
var Modes = []Mode{
	{Name: "no protection (GET, load, SET)"},
	{Name: "leases, early refresh off", Protected: true, Beta: -1},
	{Name: "leases + early refresh (XFetch)", Protected: true, Beta: 1},
	{Name: "leases + stale-while-revalidate", Protected: true, Beta: -1, Grace: true},
}

// ColdResult is the outcome of the cold-miss workload in one mode.
type ColdResult struct {
	Mode        string
	LoaderCalls int64
	GotValue    int
	Errors      int
	P50, P99    time.Duration
	Max         time.Duration
}

// HotResult is the outcome of the hot-key workload in one mode.
type HotResult struct {
	Mode        string
	Reads       int
	LoaderCalls int64
	PerBucket   []int64 // origin calls per Bucket
	P50, P99    time.Duration
	Max         time.Duration
}

// origin is a slow data source that counts its calls over time.
type origin struct {
	delay time.Duration
	calls atomic.Int64
	mu    sync.Mutex
	at    []time.Time
}

func (o *origin) load(ctx context.Context) ([]byte, error) {
	o.calls.Add(1)
	o.mu.Lock()
	o.at = append(o.at, time.Now())
	o.mu.Unlock()
	select {
	case <-time.After(o.delay):
		return []byte("value computed by the origin"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// perBucket counts the calls in consecutive buckets from start.
func (o *origin) perBucket(start time.Time, bucket time.Duration, n int) []int64 {
	out := make([]int64, n)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, t := range o.at {
		if i := int(t.Sub(start) / bucket); i >= 0 && i < n {
			out[i]++
		}
	}
	return out
}

// reader reads key through the cache in one mode.
type reader func(ctx context.Context, key string) ([]byte, error)

func newReader(rdb *redis.Client, m Mode, o *origin, ttl, grace time.Duration) (reader, func()) {
	if !m.Protected {
		return func(ctx context.Context, key string) ([]byte, error) {
			v, err := rdb.Get(ctx, key).Bytes()
			if err == nil {
				return v, nil
			}
			if !errors.Is(err, redis.Nil) {
				return nil, err
			}
			v, err = o.load(ctx)
			if err != nil {
				return nil, err
			}
			return v, rdb.Set(ctx, key, v, ttl).Err()
		}, func() {}
	}
	opts := cacheaside.Options{TTL: ttl, Beta: m.Beta, Jitter: -1, LeaseTTL: 10 * time.Second}
	if m.Grace {
		opts.Grace = grace
	}
	c := cacheaside.New(rdb, opts)
	return func(ctx context.Context, key string) ([]byte, error) {
		return c.GetOrLoad(ctx, key, o.load)
	}, func() { c.Close() }
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// warmPool opens n connections, so that the workloads do not measure
// connection setup (which would also spread the readers out in time).
func warmPool(ctx context.Context, rdb *redis.Client, n int) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			// Hold a connection until all are open.
			rdb.Do(ctx, "cache.get", "stampedebench:warmup", "nolease")
		}()
	}
	close(gate)
	wg.Wait()
}

// Cold runs the cold-miss workload: cfg.Clients readers ask for one missing
// key at the same instant.
func Cold(ctx context.Context, rdb *redis.Client, cfg Config, m Mode, key string) ColdResult {
	warmPool(ctx, rdb, cfg.Clients)
	o := &origin{delay: cfg.Loader}
	read, closeReader := newReader(rdb, m, o, time.Minute, 0)
	defer closeReader()
	lat := make([]time.Duration, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var got atomic.Int64
	var ready, wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := 0; i < cfg.Clients; i++ {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-startGate
			begin := time.Now()
			v, err := read(ctx, key)
			lat[i] = time.Since(begin)
			errs[i] = err
			if err == nil && string(v) == "value computed by the origin" {
				got.Add(1)
			}
		}()
	}
	ready.Wait()
	close(startGate)
	wg.Wait()
	r := ColdResult{Mode: m.Name, LoaderCalls: o.calls.Load(), GotValue: int(got.Load())}
	for _, err := range errs {
		if err != nil {
			r.Errors++
		}
	}
	slices.Sort(lat)
	r.P50, r.P99, r.Max = percentile(lat, 0.5), percentile(lat, 0.99), lat[len(lat)-1]
	return r
}

// Hot runs the hot-key workload in one mode.
func Hot(ctx context.Context, rdb *redis.Client, cfg Config, m Mode, key string) HotResult {
	o := &origin{delay: cfg.Loader}
	read, closeReader := newReader(rdb, m, o, cfg.TTL, cfg.Grace)
	defer closeReader()
	// Warm up: the first load is the cold-miss workload's business.
	if _, err := read(ctx, key); err != nil {
		return HotResult{Mode: m.Name}
	}
	o.calls.Store(0)
	start := time.Now()
	end := start.Add(cfg.HotDuration)
	lats := make([][]time.Duration, cfg.HotClients)
	var wg sync.WaitGroup
	for i := 0; i < cfg.HotClients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				begin := time.Now()
				if _, err := read(ctx, key); err == nil {
					lats[i] = append(lats[i], time.Since(begin))
				}
				time.Sleep(cfg.Think)
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(lats...)
	slices.Sort(all)
	n := int((cfg.HotDuration + cfg.Bucket - 1) / cfg.Bucket)
	r := HotResult{Mode: m.Name, Reads: len(all), LoaderCalls: o.calls.Load(), PerBucket: o.perBucket(start, cfg.Bucket, n)}
	r.P50, r.P99 = percentile(all, 0.5), percentile(all, 0.99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

func round(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Microsecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.String()
}

// PrintCold writes the cold-miss results.
func PrintCold(w io.Writer, cfg Config, rs []ColdResult) {
	fmt.Fprintf(w, "Cold miss: %d concurrent clients, one missing key, loader %v\n", cfg.Clients, cfg.Loader)
	fmt.Fprintf(w, "  %-34s %12s %14s %8s %10s %10s %10s\n", "mode", "loader calls", "got the value", "errors", "p50", "p99", "max")
	for _, r := range rs {
		fmt.Fprintf(w, "  %-34s %12d %14d %8d %10s %10s %10s\n", r.Mode, r.LoaderCalls, r.GotValue, r.Errors, round(r.P50), round(r.P99), round(r.Max))
	}
}

// PrintHot writes the hot-key results.
func PrintHot(w io.Writer, cfg Config, rs []HotResult) {
	fmt.Fprintf(w, "Hot key: %d clients for %v (think %v), TTL %v, loader %v, grace %v in the stale-while-revalidate mode\n",
		cfg.HotClients, cfg.HotDuration, cfg.Think, cfg.TTL, cfg.Loader, cfg.Grace)
	fmt.Fprintf(w, "  %-34s %8s %13s %10s %10s %10s\n", "mode", "reads", "origin/s", "p50", "p99", "max")
	for _, r := range rs {
		perSec := float64(r.LoaderCalls) / cfg.HotDuration.Seconds()
		fmt.Fprintf(w, "  %-34s %8d %13.1f %10s %10s %10s\n", r.Mode, r.Reads, perSec, round(r.P50), round(r.P99), round(r.Max))
	}
	fmt.Fprintf(w, "  origin calls per %v over time:\n", cfg.Bucket)
	for _, r := range rs {
		var b strings.Builder
		for i, n := range r.PerBucket {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatInt(n, 10))
		}
		fmt.Fprintf(w, "  %-34s %s\n", r.Mode, b.String())
	}
}

// Run runs both workloads against the server at rdb and prints them.
func Run(ctx context.Context, rdb *redis.Client, cfg Config, w io.Writer) ([]ColdResult, []HotResult) {
	prefix := "stampedebench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	var cold []ColdResult
	for i, m := range []Mode{Modes[0], {Name: "leases (cacheaside.GetOrLoad)", Protected: true}} {
		cold = append(cold, Cold(ctx, rdb, cfg, m, prefix+"cold:"+strconv.Itoa(i)))
	}
	PrintCold(w, cfg, cold)
	fmt.Fprintln(w)
	var hot []HotResult
	for i, m := range Modes {
		hot = append(hot, Hot(ctx, rdb, cfg, m, prefix+"hot:"+strconv.Itoa(i)))
	}
	PrintHot(w, cfg, hot)
	return cold, hot
}
