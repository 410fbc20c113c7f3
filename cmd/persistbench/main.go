// Command persistbench measures snapshots over RESP the same way against
// cachesrv and redis-server (scripts/persist-bench.sh runs both):
//
//	persistbench -addr 127.0.0.1:7410 -mode fill -keys 10000000
//	persistbench -addr 127.0.0.1:7410 -mode bgsave -readers 4
//	persistbench -addr 127.0.0.1:7410 -mode waitload   # after a restart
//
// fill writes keys of 16 bytes with 32-byte values. bgsave measures GET
// latency of other clients for a few seconds without a save, then starts
// BGSAVE and measures it again until the save ends; it reports the save's
// wall time, the GET p99 both ways and the server's extra memory during the
// save (RSS growth for cachesrv, current_cow_peak for redis-server, whose
// forked child's pages are not in the parent's RSS). waitload polls until
// the server stops answering -LOADING and reports the time since -since.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7410", "server address")
	mode := flag.String("mode", "bgsave", "fill, bgsave or waitload")
	keys := flag.Int("keys", 10_000_000, "keys (16-byte keys, 32-byte values)")
	readers := flag.Int("readers", 4, "concurrent GET clients during bgsave")
	base := flag.Duration("baseline", 3*time.Second, "GET measurement without a save")
	since := flag.Int64("since", 0, "waitload: unix ms the server was started")
	flag.Parse()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: *readers + 2, MaxRetries: -1, ReadTimeout: time.Minute})
	defer c.Close()
	var err error
	switch *mode {
	case "fill":
		err = fill(ctx, c, *keys)
	case "bgsave":
		err = bgsave(ctx, c, *keys, *readers, *base)
	case "waitload":
		err = waitLoad(ctx, c, *since)
	default:
		err = errors.New("unknown mode " + *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "persistbench:", err)
		os.Exit(1)
	}
}

func key(i int) string { return fmt.Sprintf("key:%012d", i) } // 16 bytes

func fill(ctx context.Context, c *redis.Client, n int) error {
	val := strings.Repeat("v", 32)
	start := time.Now()
	const batch = 10000
	for i := 0; i < n; i += batch {
		p := c.Pipeline()
		for j := i; j < min(i+batch, n); j++ {
			p.Set(ctx, key(j), val, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	fmt.Printf("fill: %d keys in %.1fs\n", n, time.Since(start).Seconds())
	fmt.Printf("used_memory: %s\n", info(ctx, c, "memory", "used_memory"))
	return nil
}

func info(ctx context.Context, c *redis.Client, section, field string) string {
	for _, l := range strings.Split(c.Info(ctx, section).Val(), "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	return ""
}

func infoInt(ctx context.Context, c *redis.Client, section, field string) int64 {
	n, _ := strconv.ParseInt(info(ctx, c, section, field), 10, 64)
	return n
}

// measure runs GET readers until stop closes and returns their latencies.
func measure(ctx context.Context, c *redis.Client, keys, readers int, stop <-chan struct{}) []time.Duration {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			var lat []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, lat...)
					mu.Unlock()
					return
				default:
				}
				t := time.Now()
				c.Get(ctx, key(rng.IntN(keys)))
				lat = append(lat, time.Since(t))
			}
		}()
	}
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[min(len(l)-1, int(float64(len(l))*p))]
}

func bgsave(ctx context.Context, c *redis.Client, keys, readers int, base time.Duration) error {
	stop := make(chan struct{})
	go func() { time.Sleep(base); close(stop) }()
	before := measure(ctx, c, keys, readers, stop)
	isRedis := info(ctx, c, "server", "cachesrv_version") == ""
	rss0 := infoInt(ctx, c, "memory", "used_memory_rss")
	used := infoInt(ctx, c, "memory", "used_memory")

	stop = make(chan struct{})
	var during []time.Duration
	done := make(chan struct{})
	go func() { during = measure(ctx, c, keys, readers, stop); close(done) }()
	start := time.Now()
	if err := c.BgSave(ctx).Err(); err != nil {
		return err
	}
	var peakRSS, cow int64
	mon := redis.NewClient(&redis.Options{Addr: c.Options().Addr})
	defer mon.Close()
	for {
		time.Sleep(5 * time.Millisecond)
		if r := infoInt(ctx, mon, "memory", "used_memory_rss"); r > peakRSS {
			peakRSS = r
		}
		if v := infoInt(ctx, mon, "persistence", "current_cow_peak"); v > cow {
			cow = v
		}
		if info(ctx, mon, "persistence", "rdb_bgsave_in_progress") == "0" {
			break
		}
	}
	took := time.Since(start)
	close(stop)
	<-done
	extra := peakRSS - rss0
	how := "RSS growth"
	if isRedis {
		extra, how = cow, "current_cow_peak (forked child)"
	}
	fmt.Printf("bgsave: %.2fs status=%s\n", took.Seconds(), info(ctx, mon, "persistence", "rdb_last_bgsave_status"))
	fmt.Printf("GET p50/p99 without save: %v / %v (%d calls)\n", pct(before, 0.5), pct(before, 0.99), len(before))
	fmt.Printf("GET p50/p99 during save:  %v / %v (%d calls)\n", pct(during, 0.5), pct(during, 0.99), len(during))
	fmt.Printf("extra memory during save: %d bytes = %.1f%% of used_memory %d (%s)\n", extra, 100*float64(extra)/float64(used), used, how)
	return nil
}

func waitLoad(ctx context.Context, c *redis.Client, since int64) error {
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			break
		}
		if !strings.HasPrefix(err.Error(), "LOADING") && !strings.Contains(err.Error(), "refused") {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(time.UnixMilli(since))
	n := c.DBSize(ctx).Val()
	fmt.Printf("load: %d keys ready %.2fs after start = %.0f keys/s\n", n, el.Seconds(), float64(n)/el.Seconds())
	return nil
}
