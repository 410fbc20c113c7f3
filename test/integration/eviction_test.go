package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

func init() {
	for _, n := range []string{"latency", "latency|latest", "latency|history", "latency|reset", "latency|doctor", "latency|help"} {
		extraCovered[n] = true
	}
}

func infoField(t *testing.T, c *redis.Client, section, field string) string {
	t.Helper()
	for _, l := range strings.Split(c.Info(ctx, section).Val(), "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return ""
}

func infoInt(t *testing.T, c *redis.Client, section, field string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(infoField(t, c, section, field), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNoEvictionOOM: writes that need memory get Redis's OOM error; reads
// and deletes still work.
func TestNoEvictionOOM(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) {
		c.MaxMemory = 4 << 20
		c.MaxMemoryPolicy = "noeviction"
	})
	c := s.client(2)
	val := strings.Repeat("x", 1000)
	var oom string
	for i := 0; i < 20000; i++ {
		if err := c.Set(ctx, fmt.Sprint("k", i), val, 0).Err(); err != nil {
			oom = err.Error()
			break
		}
	}
	if oom != "OOM command not allowed when used memory > 'maxmemory'." {
		t.Fatalf("got %q", oom)
	}
	want(t, c, val, "get", "k1")
	want(t, c, int64(1), "del", "k1")
	if infoInt(t, c, "stats", "evicted_keys") != 0 {
		t.Fatal("noeviction evicted")
	}
	if used, max := infoInt(t, c, "memory", "used_memory"), infoInt(t, c, "memory", "maxmemory"); used > max+max/10 {
		t.Fatalf("used_memory %d over maxmemory %d", used, max)
	}
	// Inside MULTI the write is refused at queue time and EXEC aborts.
	r := s.raw()
	for i := 0; i < 5000; i++ {
		c.Set(ctx, fmt.Sprint("f", i), val, 0)
	}
	r.cmd("multi")
	r.reply()
	r.cmd("set", "x", val)
	if got := r.reply(); !strings.HasPrefix(got, "-OOM") {
		t.Fatalf("queued write while OOM: %q", got)
	}
	r.cmd("exec")
	if got := r.reply(); !strings.HasPrefix(got, "-EXECABORT") {
		t.Fatalf("exec: %q", got)
	}
}

// TestEvictionPolicies: every policy keeps used_memory near the bound and
// counts evictions; CONFIG SET switches policies live.
func TestEvictionPolicies(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.MaxMemory = 8 << 20 })
	c := s.client(2)
	val := strings.Repeat("v", 500)
	var last int64
	for _, policy := range []string{"allkeys-wtinylfu", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"} {
		want(t, c, "OK", "config", "set", "maxmemory-policy", policy)
		if got := infoField(t, c, "memory", "maxmemory_policy"); got != policy {
			t.Fatalf("maxmemory_policy %q after setting %q", got, policy)
		}
		// 40,000 writes in pipelines of 2,000: one 20 MB pipeline outlasts
		// go-redis's 3 s write timeout on a loaded machine under -race.
		for chunk := 0; chunk < 40000; chunk += 2000 {
			p := c.Pipeline()
			for i := chunk; i < chunk+2000; i++ {
				p.Set(ctx, fmt.Sprint(policy, i), val, 3600e9) // TTLs so volatile-* can evict
			}
			if _, err := p.Exec(ctx); err != nil {
				t.Fatalf("%s: %v", policy, err)
			}
		}
		ev := infoInt(t, c, "stats", "evicted_keys")
		if ev <= last {
			t.Fatalf("%s: evicted_keys did not grow (%d)", policy, ev)
		}
		last = ev
		if used := infoInt(t, c, "memory", "used_memory"); used > 8<<20+(8<<20)/10 {
			t.Fatalf("%s: used_memory %d over the bound", policy, used)
		}
	}
	wantErr(t, c, "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')", "config", "set", "maxmemory-policy", "bogus")
	// Shrinking maxmemory evicts down to it on the next writes.
	want(t, c, "OK", "config", "set", "maxmemory-policy", "allkeys-lru")
	want(t, c, "OK", "config", "set", "maxmemory", "2mb")
	for i := 0; i < 100; i++ {
		c.Set(ctx, fmt.Sprint("after", i), val, 0)
	}
	if used := infoInt(t, c, "memory", "used_memory"); used > 3<<20 {
		t.Fatalf("used_memory %d after lowering maxmemory to 2mb", used)
	}
}

// TestVolatileWithoutTTLKeysIsOOM: volatile-* with nothing volatile to
// evict refuses writes like noeviction.
func TestVolatileWithoutTTLKeysIsOOM(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) {
		c.MaxMemory = 2 << 20
		c.MaxMemoryPolicy = "volatile-lru"
	})
	c := s.client(2)
	val := strings.Repeat("x", 1000)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = c.Set(ctx, fmt.Sprint("k", i), val, 0).Err()
	}
	if err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("got %v", err)
	}
}

func TestValueLargerThanBudget(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.MaxMemory = 1 << 20 })
	c := s.client(2)
	c.Set(ctx, "keep", "me", 0)
	wantErr(t, c, "OOM value is larger than maxmemory", "set", "big", strings.Repeat("x", 2<<20))
	want(t, c, "me", "get", "keep")
}

func TestObjectFreqAndIdleSeeThePolicy(t *testing.T) {
	t.Parallel()
	// lfu-decay-time 0: counters never decay (Redis), so a minute boundary
	// during the test cannot lower them.
	s := start(t, func(c *config.Config) { c.MaxMemoryPolicy = "allkeys-lfu"; c.LFUDecayTime = 0 })
	c := s.client(2)
	c.Set(ctx, "hot", "1", 0)
	c.Set(ctx, "cold", "1", 0)
	for i := 0; i < 2000; i++ {
		c.Get(ctx, "hot")
	}
	hot, _ := do(t, c, "object", "freq", "hot")
	cold, _ := do(t, c, "object", "freq", "cold")
	if hot.(int64) <= cold.(int64) {
		t.Fatalf("freq hot %v <= cold %v", hot, cold)
	}
	// CLIENT NO-TOUCH reads do not bump the counter.
	r := s.raw()
	r.cmd("client", "no-touch", "on")
	r.reply()
	for i := 0; i < 2000; i++ {
		r.cmd("get", "cold")
		r.reply()
	}
	if after, _ := do(t, c, "object", "freq", "cold"); after != cold {
		t.Fatalf("NO-TOUCH reads changed freq %v -> %v", cold, after)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	want(t, c, []any{}, "latency", "latest")
	want(t, c, []any{}, "latency", "history", "command")
	want(t, c, int64(0), "latency", "reset")
	v, _ := do(t, c, "latency", "doctor")
	if !strings.Contains(v.(string), "no latency spike") {
		t.Fatal(v)
	}
	v, _ = do(t, c, "latency", "help")
	if len(v.([]any)) < 6 {
		t.Fatal(v)
	}
}
