// Command tagbench measures INVALIDATE on a large tag over RESP: the call's
// latency, the GET latency of other clients meanwhile, and how long the
// invalidated entries take to leave used_memory.
//
//	tagbench -addr 127.0.0.1:6379 -keys 1000000 -readers 8
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "server address")
	keys := flag.Int("keys", 1_000_000, "keys carrying the tag")
	others := flag.Int("others", 10_000, "untagged keys the readers GET")
	readers := flag.Int("readers", 8, "concurrent GET clients")
	flag.Parse()
	if err := run(*addr, *keys, *others, *readers); err != nil {
		fmt.Fprintln(os.Stderr, "tagbench:", err)
		os.Exit(1)
	}
}

func usedMemory(ctx context.Context, c *redis.Client) int64 {
	info := c.Info(ctx, "memory").Val()
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

func run(addr string, keys, others, readers int) error {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Minute})
	defer c.Close()
	if err := c.FlushAll(ctx).Err(); err != nil {
		return err
	}
	base := usedMemory(ctx, c)
	start := time.Now()
	const batch = 1000
	for i := 0; i < keys; i += batch {
		p := c.Pipeline()
		for j := i; j < i+batch && j < keys; j++ {
			p.Do(ctx, "tagset", "item:"+strconv.Itoa(j), "0123456789abcdef0123456789abcdef", "tags", "1", "big")
		}
		if _, err := p.Exec(ctx); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	for i := 0; i < others; i += batch {
		p := c.Pipeline()
		for j := i; j < i+batch && j < others; j++ {
			p.Set(ctx, "other:"+strconv.Itoa(j), "x", 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	loaded := usedMemory(ctx, c)
	fmt.Printf("loaded %d tagged keys in %v; used_memory %d -> %d\n", keys, time.Since(start).Round(time.Millisecond), base, loaded)

	var stop atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rc := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
			defer rc.Close()
			var mine []time.Duration
			for i := r; !stop.Load(); i++ {
				t0 := time.Now()
				rc.Get(ctx, "other:"+strconv.Itoa(i%others))
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(r)
	}
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	n, err := c.Do(ctx, "invalidate", "big").Int64()
	inv := time.Since(t0)
	if err != nil {
		return err
	}
	// Reclaimed: every invalidated entry has left the keyspace.
	var reclaimed time.Duration
	for {
		if c.DBSize(ctx).Val() == int64(others) {
			reclaimed = time.Since(t0)
			break
		}
		if time.Since(t0) > 30*time.Second {
			reclaimed = -1
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	fmt.Printf("INVALIDATE big -> %d keys in %v\n", n, inv)
	fmt.Printf("GETs by %d other clients during the run: %d, p50 %v, p99 %v, max %v\n", readers, len(lat), q(0.5), q(0.99), lat[len(lat)-1])
	after := usedMemory(ctx, c)
	fmt.Printf("all %d invalidated entries reclaimed after %v; used_memory %d -> %d (%.0f%% of the loaded bytes back; the rest is hash/id/policy tables kept for refill)\n",
		n, reclaimed, loaded, after, 100*float64(loaded-after)/float64(loaded-base))
	return nil
}
