package integration

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

func init() {
	for _, n := range []string{
		"cache.get", "cache.fill", "cache.notfound", "cache.release", "cache.stale",
		"bf.reserve", "bf.add", "bf.madd", "bf.insert", "bf.exists", "bf.mexists", "bf.info", "bf.card",
	} {
		extraCovered[n] = true
	}
}

// cacheGet runs CACHE.GET and returns its [state, value, token] reply.
func cacheGet(t *testing.T, c *redis.Client, key string, opts ...any) (state string, val, tok any) {
	t.Helper()
	v, err := c.Do(ctx, append([]any{"cache.get", key}, opts...)...).Slice()
	if err != nil {
		t.Fatalf("CACHE.GET %s: %v", key, err)
	}
	if len(v) != 3 {
		t.Fatalf("CACHE.GET %s: %#v", key, v)
	}
	return v[0].(string), v[1], v[2]
}

// leaseOf runs CACHE.GET and expects a fill lease.
func leaseOf(t *testing.T, c *redis.Client, key string, opts ...any) string {
	t.Helper()
	st, _, tok := cacheGet(t, c, key, opts...)
	if st != "LEASE" || tok == nil {
		t.Fatalf("CACHE.GET %s: state %s token %v, want a lease", key, st, tok)
	}
	return tok.(string)
}

// stampedeInfo returns INFO stampede as a map.
func stampedeInfo(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	txt, err := c.Info(ctx, "stampede").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(txt, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// TestStampedeCoalescing: 50 clients miss one key at once; one gets the
// lease and fills after 50 ms, the others wait on the server and all get the
// value. The loader runs once.
func TestStampedeCoalescing(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 64, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	var loads atomic.Int64
	var wg sync.WaitGroup
	got := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, val, tok := cacheGet(t, c, "hot", "lease", "5000", "wait", "5000")
			switch st {
			case "LEASE":
				loads.Add(1)
				time.Sleep(50 * time.Millisecond) // the origin
				want(t, c, int64(1), "cache.fill", "hot", tok, "computed", "ex", "60")
				got <- "computed"
			case "HIT":
				got <- val.(string)
			default:
				t.Errorf("state %s", st)
			}
		}()
	}
	wg.Wait()
	close(got)
	for v := range got {
		if v != "computed" {
			t.Fatalf("client got %q", v)
		}
	}
	if loads.Load() != 1 {
		t.Fatalf("loader ran %d times", loads.Load())
	}
	info := stampedeInfo(t, c)
	if info["stampede_leases_granted"] != "1" || info["stampede_fills"] != "1" || atoi(info["stampede_waits"]) == 0 {
		t.Fatalf("INFO stampede: %v", info)
	}
}

// TestStampedeStaleSet: a DEL, an overwrite or a tag invalidation between
// the grant and the fill makes the fill fail.
func TestStampedeStaleSet(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	want(t, c, "OK", "tagset", "other", "v", "tags", "1", "t") // creates tag t
	for _, tc := range []struct {
		name  string
		write []any
		tags  []any
	}{
		{"del", []any{"del", "k"}, nil},
		{"set", []any{"set", "k", "newer"}, nil},
		{"stale", []any{"cache.stale", "k"}, nil},
		{"forced fill", []any{"cache.fill", "k", "*", "newer"}, nil},
		{"tag invalidation", []any{"invalidate", "t"}, []any{"tags", "1", "t"}},
		{"soft tag invalidation", []any{"softinvalidate", "5000", "t"}, []any{"tags", "1", "t"}},
	} {
		do(t, c, "del", "k")
		tok := leaseOf(t, c, "k")
		// In one transaction with a new member of tag t, so that the tag
		// index cannot drop t (and its invalidation record) once its old
		// members are gone.
		p := c.TxPipeline()
		p.Do(ctx, tc.write...)
		p.Do(ctx, "tagset", "keep", "v", "tags", "1", "t")
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		args := append([]any{"cache.fill", "k", tok, "old", "ex", "60"}, tc.tags...)
		if v, e := do(t, c, args...); e != "" || v != int64(0) {
			t.Errorf("%s: fill replied %v %q, want 0", tc.name, v, e)
		}
	}
	// Without a write in between the tagged fill lands, and the tags work.
	do(t, c, "del", "k")
	tok := leaseOf(t, c, "k")
	want(t, c, int64(1), "cache.fill", "k", tok, "fresh", "ex", "60", "tags", "1", "t")
	want(t, c, []any{"t"}, "tags", "k")
	want(t, c, int64(2), "invalidate", "t") // k and keep
	if st, _, _ := cacheGet(t, c, "k", "nolease"); st != "MISS" {
		t.Fatalf("after invalidating its tag: %s", st)
	}
	if info := stampedeInfo(t, c); info["stampede_fills_rejected"] != "6" {
		t.Fatalf("INFO stampede: %v", info)
	}
}

// TestStampedeHolderDies: a lease whose holder never fills expires; a
// waiting client is granted the next one.
func TestStampedeHolderDies(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	a, b := s.client(2), s.client(2)
	dead := leaseOf(t, a, "k", "lease", "150")
	start := time.Now()
	tok := leaseOf(t, b, "k", "wait", "5000")
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Fatalf("waited %v for the dead holder's lease", d)
	}
	want(t, a, int64(0), "cache.fill", "k", dead, "late")
	want(t, b, int64(1), "cache.fill", "k", tok, "v")
	want(t, b, int64(0), "cache.release", "k", tok)
	// A holder that gives up wakes waiters at once.
	do(t, a, "del", "k")
	tok = leaseOf(t, a, "k")
	go func() {
		time.Sleep(30 * time.Millisecond)
		do(t, a, "cache.release", "k", tok)
	}()
	leaseOf(t, b, "k", "wait", "5000")
}

// TestStampedeStaleWhileRevalidate: after its TTL an entry is stale for its
// grace period; one reader refreshes, the others keep the stale value.
func TestStampedeStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	s, _ := startClock(t, nil)
	c := s.client(3)
	want(t, c, int64(1), "cache.fill", "k", "*", "v1", "px", "30", "grace", "60000")
	s.clock.Advance(40 * time.Millisecond)
	want(t, c, nil, "get", "k")
	st, val, tok := cacheGet(t, c, "k")
	if st != "STALE" || val != "v1" || tok == nil {
		t.Fatalf("first stale read: %s %v %v", st, val, tok)
	}
	for i := 0; i < 3; i++ {
		if st, val, tok2 := cacheGet(t, c, "k"); st != "STALE" || val != "v1" || tok2 != nil {
			t.Fatalf("stale read: %s %v %v", st, val, tok2)
		}
	}
	want(t, c, int64(1), "cache.fill", "k", tok, "v2", "ex", "60", "grace", "60000")
	if st, val, _ := cacheGet(t, c, "k"); st != "HIT" || val != "v2" {
		t.Fatalf("after refresh: %s %v", st, val)
	}
	// Soft tag invalidation (the tag index) serves stale the same way.
	want(t, c, int64(1), "cache.fill", "p", "*", "page", "ex", "60", "tags", "1", "product:1")
	want(t, c, int64(1), "softinvalidate", "5000", "product:1")
	if st, val, tok := cacheGet(t, c, "p"); st != "STALE" || val != "page" || tok == nil {
		t.Fatalf("tag-stale read: %s %v %v", st, val, tok)
	}
	if info := stampedeInfo(t, c); atoi(info["stampede_stale_serves"]) != 5 || info["stampede_refresh_leases_granted"] != "2" {
		t.Fatalf("INFO stampede: %v", info)
	}
}

// TestStampedeNegativeCaching: a negative entry is told apart from a miss
// until its own TTL ends.
func TestStampedeNegativeCaching(t *testing.T) {
	t.Parallel()
	s, _ := startClock(t, nil)
	c := s.client(2)
	tok := leaseOf(t, c, "user:404")
	want(t, c, int64(1), "cache.notfound", "user:404", tok, "px", "60")
	for i := 0; i < 3; i++ {
		if st, val, tok := cacheGet(t, c, "user:404"); st != "NOTFOUND" || val != nil || tok != nil {
			t.Fatalf("negative hit: %s %v %v", st, val, tok)
		}
	}
	s.clock.Advance(70 * time.Millisecond)
	leaseOf(t, c, "user:404")
	if info := stampedeInfo(t, c); info["stampede_negative_hits"] != "3" || info["stampede_negative_fills"] != "1" {
		t.Fatalf("INFO stampede: %v", info)
	}
}

// TestStampedeNoWaitInTransactions: inside MULTI/EXEC a read never waits.
func TestStampedeNoWaitInTransactions(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	leaseOf(t, c, "k")
	r := s.raw()
	r.cmd("multi")
	r.reply()
	r.cmd("cache.get", "k", "wait", "10000")
	r.reply()
	begin := time.Now()
	r.cmd("exec")
	if got := r.reply(); got != "*1\r\n*3\r\n+PENDING\r\n$-1\r\n$-1\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("EXEC waited %v", d)
	}
}

// TestStampedeShutdownWakesWaiters: a client waiting for a fill is answered
// when the server shuts down.
func TestStampedeShutdownWakesWaiters(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	leaseOf(t, c, "k")
	r := s.raw()
	r.cmd("cache.get", "k", "wait", "60000")
	for s.App.Leases.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	begin := time.Now()
	s.App.Stop()
	if got := r.reply(); got != "*3\r\n+PENDING\r\n$-1\r\n$-1\r\n" {
		t.Fatalf("waiter at shutdown: %q", got)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}
}

// TestBloomWithGoRedis drives the BF.* commands through go-redis's own
// RedisBloom helpers, in RESP2 and RESP3.
func TestBloomWithGoRedis(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	for _, proto := range []int{2, 3} {
		c := s.client(proto)
		key := "bf:" + itoa(proto)
		if err := c.BFReserveExpansion(ctx, key, 0.01, 100, 4).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.BFReserve(ctx, key, 0.01, 100).Err(); err == nil || err.Error() != "ERR item exists" {
			t.Fatalf("reserve twice: %v", err)
		}
		if ok, err := c.BFAdd(ctx, key, "a").Result(); err != nil || !ok {
			t.Fatalf("BF.ADD: %v %v", ok, err)
		}
		if r, err := c.BFMAdd(ctx, key, "a", "b").Result(); err != nil || len(r) != 2 || r[0] || !r[1] {
			t.Fatalf("BF.MADD: %v %v", r, err)
		}
		if ok, _ := c.BFExists(ctx, key, "b").Result(); !ok {
			t.Fatal("BF.EXISTS")
		}
		if r, _ := c.BFMExists(ctx, key, "a", "zz").Result(); len(r) != 2 || !r[0] || r[1] {
			t.Fatalf("BF.MEXISTS: %v", r)
		}
		if n, _ := c.BFCard(ctx, key).Result(); n != 2 {
			t.Fatalf("BF.CARD: %d", n)
		}
		info, err := c.BFInfo(ctx, key).Result()
		if err != nil || info.Capacity != 100 || info.ItemsInserted != 2 || info.Filters != 1 || info.ExpansionRate != 4 || info.Size == 0 {
			t.Fatalf("BF.INFO: %+v %v", info, err)
		}
		r, err := c.BFInsert(ctx, key+":ins", &redis.BFInsertOptions{Capacity: 10, Error: 0.001}, "x", "y", "x").Result()
		if err != nil || len(r) != 3 || !r[0] || !r[1] || r[2] {
			t.Fatalf("BF.INSERT: %v %v", r, err)
		}
		want(t, c, "MBbloom--", "type", key)
		wantErr(t, c, "WRONGTYPE", "get", key)
		want(t, c, "OK", "set", "str", "v")
		wantErr(t, c, "WRONGTYPE", "bf.add", "str", "a")
	}
}

// TestBloomIsAnOrdinaryKey: filters expire, count towards used memory and
// are evicted like any key.
func TestBloomIsAnOrdinaryKey(t *testing.T) {
	t.Parallel()
	s, _ := startClock(t, func(c *config.Config) { c.MaxMemory = 8 << 20 })
	c := s.client(2)
	before := s.App.Store.UsedMemory()
	want(t, c, "OK", "bf.reserve", "big", "0.001", "200000")
	if grew := s.App.Store.UsedMemory() - before; grew < 350_000 {
		t.Fatalf("a 360 kB filter grew used memory by %d", grew)
	}
	want(t, c, int64(1), "pexpire", "big", "30")
	s.clock.Advance(40 * time.Millisecond)
	want(t, c, int64(0), "exists", "big")
	for i := 0; i < 40; i++ {
		if _, e := do(t, c, "bf.reserve", "f:"+itoa(i), "0.001", "200000"); e != "" {
			t.Fatalf("reserve %d: %s", i, e)
		}
	}
	if n, _ := c.DBSize(ctx).Result(); n >= 40 {
		t.Fatalf("no filter was evicted under an 8 MB bound (%d keys)", n)
	}
	wantErr(t, c, "OOM", "bf.reserve", "huge", "0.0001", "100000000")
}
