package cacheaside_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/client/cacheaside"
	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/apptest"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// nearServer runs a real cachesrv on a fake clock for one test.
func nearServer(t *testing.T, mod func(*config.Config)) (string, *expire.FakeClock) {
	t.Helper()
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 8
	cfg.Dir = t.TempDir()
	if mod != nil {
		mod(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := expire.NewFakeClock(time.Now())
	a, err := app.New(cfg, nil, nil, app.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ln := apptest.Listen(t)
	apptest.Serve(t, a, ln)
	return ln.Addr().String(), clk
}

func newNear(t *testing.T, addr string, o cacheaside.NearOptions) *cacheaside.Near {
	t.Helper()
	o.Redis = &redis.Options{Addr: addr}
	n, err := cacheaside.NewNear(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func otherClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// getCalls is the server's count of GET commands (INFO commandstats).
func getCalls(t *testing.T, c *redis.Client) int {
	t.Helper()
	info := c.Info(context.Background(), "commandstats").Val()
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
			var n int
			fmt.Sscanf(rest, "%d", &n)
			return n
		}
	}
	return 0
}

// nearEventually polls the near cache until key reads want (invalidations are
// asynchronous: they travel on another connection).
func nearEventually(t *testing.T, n *cacheaside.Near, key, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := n.Get(context.Background(), key)
		got := string(v)
		if errors.Is(err, redis.Nil) {
			got = "<nil>"
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %q (err %v), want %q; stats %+v", key, got, err, want, n.Stats())
		}
		time.Sleep(time.Millisecond) // polling another connection's delivery
	}
}

// TestNearServesRepeatReadsLocally: the second read of a key does not reach
// the server; a write by another client, an expiry, an eviction and a tag
// invalidation each make the next read go to the server.
func TestNearServesRepeatReadsLocally(t *testing.T) {
	addr, clk := nearServer(t, nil)
	ctx := context.Background()
	n := newNear(t, addr, cacheaside.NearOptions{})
	other := otherClient(t, addr)

	other.Set(ctx, "k", "v1", 0)
	if v, err := n.Get(ctx, "k"); err != nil || string(v) != "v1" {
		t.Fatalf("first read: %q %v", v, err)
	}
	before := getCalls(t, other)
	for range 100 {
		if v, _ := n.Get(ctx, "k"); string(v) != "v1" {
			t.Fatalf("L1 read: %q", v)
		}
	}
	if d := getCalls(t, other) - before; d != 0 {
		t.Fatalf("%d repeat reads reached the server", d)
	}
	if st := n.Stats(); st.Hits < 100 || st.Entries != 1 {
		t.Fatalf("stats: %+v", st)
	}

	// A write by another client.
	other.Set(ctx, "k", "v2", 0)
	nearEventually(t, n, "k", "v2")

	// A missing key is cached as missing until someone writes it.
	if _, err := n.Get(ctx, "absent"); !errors.Is(err, redis.Nil) {
		t.Fatalf("absent: %v", err)
	}
	other.Set(ctx, "absent", "now", 0)
	nearEventually(t, n, "absent", "now")

	// Expiry on the server (the fake clock moves; the sweeper or the next
	// read expires the key and the server pushes the invalidation).
	other.Set(ctx, "short", "s", 500*time.Millisecond)
	nearEventually(t, n, "short", "s")
	clk.Advance(time.Second)
	other.Get(ctx, "short") // lazy expiry, if the sweeper was not first
	nearEventually(t, n, "short", "<nil>")

	// Tag invalidation.
	if err := other.Do(ctx, "TAGSET", "page", "html", "TAGS", 1, "product:1").Err(); err != nil {
		t.Fatal(err)
	}
	nearEventually(t, n, "page", "html")
	other.Do(ctx, "INVALIDATE", "product:1")
	nearEventually(t, n, "page", "<nil>")

	// A write through the Near cache's own client invalidates its own copy.
	n.Client().Set(ctx, "k", "v3", 0)
	nearEventually(t, n, "k", "v3")

	// FLUSHALL drops everything.
	other.FlushAll(ctx)
	nearEventually(t, n, "k", "<nil>")
	if st := n.Stats(); st.Invalidations < 5 || st.Flushes < 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestNearEviction: a key the server evicts is dropped from the L1.
func TestNearEviction(t *testing.T) {
	addr, _ := nearServer(t, func(c *config.Config) {
		c.MaxMemory = 4 << 20
		c.MaxMemoryPolicy = "allkeys-lru"
	})
	ctx := context.Background()
	n := newNear(t, addr, cacheaside.NearOptions{})
	other := otherClient(t, addr)
	other.Set(ctx, "victim", "x", 0)
	nearEventually(t, n, "victim", "x")
	val := strings.Repeat("v", 1000)
	for i := 0; other.Exists(ctx, "victim").Val() == 1; i++ {
		if i > 100_000 {
			t.Fatal("victim never evicted")
		}
		other.Set(ctx, fmt.Sprint("fill", i), val, 0)
	}
	nearEventually(t, n, "victim", "<nil>")
}

// TestNearBCAST: in broadcasting mode only keys under the prefixes are
// cached coherently, and the server keeps no per-key state.
func TestNearBCAST(t *testing.T) {
	addr, _ := nearServer(t, nil)
	ctx := context.Background()
	n := newNear(t, addr, cacheaside.NearOptions{BCAST: true, Prefixes: []string{"user:"}})
	other := otherClient(t, addr)
	other.Set(ctx, "user:1", "ann", 0)
	nearEventually(t, n, "user:1", "ann")
	other.Set(ctx, "user:1", "bob", 0)
	nearEventually(t, n, "user:1", "bob")
	if st := n.Stats(); st.Invalidations == 0 {
		t.Fatalf("no invalidation in BCAST mode: %+v", st)
	}
	info := other.Info(ctx, "clients").Val()
	if !strings.Contains(info, "tracking_clients:") {
		t.Fatalf("INFO clients: %s", info)
	}
}

// TestNearSingleFlight: concurrent first reads of a key send one GET.
func TestNearSingleFlight(t *testing.T) {
	addr, _ := nearServer(t, nil)
	ctx := context.Background()
	n := newNear(t, addr, cacheaside.NearOptions{})
	other := otherClient(t, addr)
	other.Set(ctx, "hot", "v", 0)
	before := getCalls(t, other)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := n.Get(ctx, "hot"); err != nil || string(v) != "v" {
				t.Errorf("read: %q %v", v, err)
			}
		}()
	}
	wg.Wait()
	if d := getCalls(t, other) - before; d < 1 || d > 3 {
		t.Fatalf("50 concurrent first reads sent %d GETs", d)
	}
}

// TestNearReconnect: when the invalidation connection is killed, the L1 is
// dropped, and after the reconnect invalidations work again.
func TestNearReconnect(t *testing.T) {
	addr, _ := nearServer(t, nil)
	ctx := context.Background()
	n := newNear(t, addr, cacheaside.NearOptions{})
	other := otherClient(t, addr)
	other.Set(ctx, "k", "v1", 0)
	nearEventually(t, n, "k", "v1")
	// Kill the subscribed connection (the one with flag P).
	killed := false
	for _, line := range strings.Split(other.ClientList(ctx).Val(), "\n") {
		if strings.Contains(line, "flags=P") {
			id := strings.Fields(line)[0]
			if err := other.Do(ctx, "CLIENT", "KILL", "ID", strings.TrimPrefix(id, "id=")).Err(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no subscribed connection in\n%s", other.ClientList(ctx).Val())
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.Stats().Reconnects == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect: %+v", n.Stats())
		}
		time.Sleep(5 * time.Millisecond) // polling the listener
	}
	// Values read after the reconnect are tracked into the new connection.
	nearEventually(t, n, "k", "v1")
	other.Set(ctx, "k", "v2", 0)
	nearEventually(t, n, "k", "v2")
	if st := n.Stats(); st.Flushes == 0 {
		t.Fatalf("L1 not dropped on reconnect: %+v", st)
	}
}

// TestNearBounded: the L1 holds at most MaxBytes.
func TestNearBounded(t *testing.T) {
	addr, _ := nearServer(t, nil)
	ctx := context.Background()
	n := newNear(t, addr, cacheaside.NearOptions{MaxBytes: 64 << 10})
	other := otherClient(t, addr)
	val := strings.Repeat("x", 1000)
	for i := range 500 {
		other.Set(ctx, fmt.Sprint("k", i), val, 0)
		n.Get(ctx, fmt.Sprint("k", i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.Stats().Bytes > 64<<10 {
		if time.Now().After(deadline) {
			t.Fatalf("L1 over its bound: %+v", n.Stats())
		}
		time.Sleep(time.Millisecond) // the L1 evicts in its maintenance
	}
}

// BenchmarkNearGet compares a read served by the L1 with a read that goes
// to the server (go-redis GET on the same in-process server):
//
//	go test -run '^$' -bench Near -benchmem ./client/cacheaside/
func BenchmarkNearGet(b *testing.B) {
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Dir = b.TempDir()
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ln := apptest.Listen(b)
	apptest.Serve(b, a, ln)
	addr := ln.Addr().String()
	ctx := context.Background()
	n, err := cacheaside.NewNear(ctx, cacheaside.NearOptions{Redis: &redis.Options{Addr: addr}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	c.Set(ctx, "k", strings.Repeat("v", 64), 0)
	b.Run("l1-hit", func(b *testing.B) {
		for b.Loop() {
			if _, err := n.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("server", func(b *testing.B) {
		for b.Loop() {
			if err := c.Get(ctx, "k").Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
