package cacheaside_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/cachesrv/cachesrv/client/cacheaside"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// setup starts a server and returns a raw client and a cache-aside client,
// both closed (and the server stopped) when the test ends.
func setup(t *testing.T, o cacheaside.Options) (*redis.Client, *cacheaside.Client) {
	t.Helper()
	addr, stop := startServer()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 256})
	c := cacheaside.New(rdb, o)
	t.Cleanup(func() {
		c.Close()
		rdb.Close()
		stop()
	})
	return rdb, c
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func constant(v string, calls *atomic.Int64) cacheaside.Loader {
	return func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		return []byte(v), nil
	}
}

func TestStampedeProtection(t *testing.T) {
	t.Parallel()
	_, c := setup(t, cacheaside.Options{})
	var calls atomic.Int64
	slow := func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		return []byte("v"), nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := c.GetOrLoad(context.Background(), "k", slow); err != nil || string(v) != "v" {
				t.Errorf("got %q %v", v, err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("loader ran %d times", calls.Load())
	}
	if s := c.Stats(); s.Loads != 1 || s.Fills != 1 || s.Hits != 199 {
		t.Fatalf("stats %+v", s)
	}
}

// TestLoaderErrorHandsOver: a failing loader gives its lease back, so a
// waiting caller loads at once instead of waiting for the lease to expire.
func TestLoaderErrorHandsOver(t *testing.T) {
	t.Parallel()
	_, c := setup(t, cacheaside.Options{LeaseTTL: 30 * time.Second})
	boom := errors.New("database down")
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(context.Background(), "k", func(ctx context.Context) ([]byte, error) {
			close(started)
			time.Sleep(30 * time.Millisecond)
			return nil, boom
		})
		errc <- err
	}()
	<-started
	begin := time.Now()
	var calls atomic.Int64
	v, err := c.GetOrLoad(context.Background(), "k", constant("v", &calls))
	if err != nil || string(v) != "v" || calls.Load() != 1 {
		t.Fatalf("second caller: %q %v (%d calls)", v, err, calls.Load())
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Fatalf("second caller waited %v", d)
	}
	if err := <-errc; !errors.Is(err, boom) {
		t.Fatalf("first caller: %v", err)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	_, c := setup(t, cacheaside.Options{TTL: 50 * time.Millisecond, Grace: time.Minute, Beta: -1})
	var version atomic.Int64
	release := make(chan struct{})
	load := func(ctx context.Context) ([]byte, error) {
		n := version.Add(1)
		if n > 1 {
			<-release // the refresh is slow
		}
		return []byte("v" + strconv.FormatInt(n, 10)), nil
	}
	ctx := context.Background()
	if v, _ := c.GetOrLoad(ctx, "k", load); string(v) != "v1" {
		t.Fatalf("first: %q", v)
	}
	time.Sleep(60 * time.Millisecond)
	// Stale: served at once while one background refresh runs.
	for i := 0; i < 5; i++ {
		if v, err := c.GetOrLoad(ctx, "k", load); err != nil || string(v) != "v1" {
			t.Fatalf("stale read: %q %v", v, err)
		}
	}
	close(release)
	eventually(t, "the refreshed value", func() bool {
		v, _ := c.GetOrLoad(ctx, "k", load)
		return string(v) == "v2"
	})
	if s := c.Stats(); s.Refreshes != 1 || version.Load() != 2 || s.StaleHits < 5 {
		t.Fatalf("stats %+v, %d loads", s, version.Load())
	}
}

// TestEarlyRefresh: under steady reads a hot key is refreshed before it
// expires, in the background, so readers (almost) never load themselves.
func TestEarlyRefresh(t *testing.T) {
	t.Parallel()
	_, c := setup(t, cacheaside.Options{TTL: 300 * time.Millisecond, Beta: 10, Jitter: -1})
	var calls atomic.Int64
	load := func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		return []byte("v"), nil
	}
	ctx := context.Background()
	c.GetOrLoad(ctx, "hot", load)
	deadline := time.Now().Add(1200 * time.Millisecond) // four TTLs
	for time.Now().Before(deadline) {
		if _, err := c.GetOrLoad(ctx, "hot", load); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	s := c.Stats()
	// Without early refresh a reader would load at each of the four
	// expiries; allow one for a scheduling stall on a loaded machine.
	if sync := s.Loads - s.Refreshes; s.Refreshes == 0 || sync > 2 {
		t.Fatalf("%d loads by readers, %d background refreshes: %+v", sync, s.Refreshes, s)
	}
}

// TestWriteDuringLoad: a write-through Set made while a loader runs wins;
// the loader's older value is returned to its caller but not cached.
func TestWriteDuringLoad(t *testing.T) {
	t.Parallel()
	_, c := setup(t, cacheaside.Options{})
	ctx := context.Background()
	loading, finish := make(chan struct{}), make(chan struct{})
	got := make(chan string)
	go func() {
		v, _ := c.GetOrLoad(ctx, "k", func(ctx context.Context) ([]byte, error) {
			close(loading)
			<-finish
			return []byte("old"), nil
		})
		got <- string(v)
	}()
	<-loading
	if err := c.Set(ctx, "k", []byte("new"), func(ctx context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	close(finish)
	if v := <-got; v != "old" {
		t.Fatalf("loader's caller got %q", v)
	}
	var calls atomic.Int64
	if v, _ := c.GetOrLoad(ctx, "k", constant("x", &calls)); string(v) != "new" || calls.Load() != 0 {
		t.Fatalf("cache holds %q", v)
	}
	if s := c.Stats(); s.FillsRejected != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInvalidationHelpers(t *testing.T) {
	t.Parallel()
	rdb, c := setup(t, cacheaside.Options{Grace: time.Minute})
	ctx := context.Background()
	origin := map[string]string{"user:1": "Ada"}
	var mu sync.Mutex
	load := func(key string) cacheaside.Loader {
		return func(ctx context.Context) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			return []byte(origin[key]), nil
		}
	}
	c.GetOrLoad(ctx, "user:1", load("user:1"))
	// Update: origin, then DEL.
	err := c.Update(ctx, func(ctx context.Context) error {
		mu.Lock()
		origin["user:1"] = "Ada L."
		mu.Unlock()
		return nil
	}, "user:1")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.GetOrLoad(ctx, "user:1", load("user:1")); string(v) != "Ada L." {
		t.Fatalf("after Update: %q", v)
	}
	// MarkStale: served stale, refreshed in the background.
	mu.Lock()
	origin["user:1"] = "Ada Lovelace"
	mu.Unlock()
	if err := c.MarkStale(ctx, 0, "user:1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.GetOrLoad(ctx, "user:1", load("user:1")); string(v) != "Ada L." {
		t.Fatalf("stale read: %q", v)
	}
	eventually(t, "the refresh", func() bool {
		v, _ := c.GetOrLoad(ctx, "user:1", load("user:1"))
		return string(v) == "Ada Lovelace"
	})
	// Dependencies: writing user:1 invalidates the page built from it.
	var calls atomic.Int64
	c.GetOrLoad(ctx, "page:1", constant("page", &calls), cacheaside.WithDependsOn("user:1"))
	c.GetOrLoad(ctx, "page:1", constant("page", &calls), cacheaside.WithDependsOn("user:1"))
	rdb.Set(ctx, "user:1", "x", 0)
	c.GetOrLoad(ctx, "page:1", constant("page", &calls), cacheaside.WithDependsOn("user:1"))
	if calls.Load() != 2 {
		t.Fatalf("page loaded %d times, want 2", calls.Load())
	}
	if err := c.Invalidate(ctx, "page:1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "page:1").Result(); n != 0 {
		t.Fatal("Invalidate left the key")
	}
}

func TestBloomGate(t *testing.T) {
	t.Parallel()
	_, c := setup(t, cacheaside.Options{Bloom: "users"})
	ctx := context.Background()
	if err := c.BloomAdd(ctx, "users", "user:1"); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	if _, err := c.GetOrLoad(ctx, "user:2", constant("x", &calls)); !errors.Is(err, cacheaside.ErrNotFound) || calls.Load() != 0 {
		t.Fatalf("key outside the filter: %v, %d loads", err, calls.Load())
	}
	if _, err := c.GetOrLoad(ctx, "user:2", constant("x", &calls)); !errors.Is(err, cacheaside.ErrNotFound) {
		t.Fatalf("negative entry: %v", err)
	}
	if v, err := c.GetOrLoad(ctx, "user:1", constant("Ada", &calls)); err != nil || string(v) != "Ada" || calls.Load() != 1 {
		t.Fatalf("key in the filter: %q %v", v, err)
	}
	if s := c.Stats(); s.BloomRejects != 1 || s.NegativeHits != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestFailOpen: with the cache down, GetOrLoad still answers from the
// origin and reports the cache error.
func TestFailOpen(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	var reported atomic.Int64
	c := cacheaside.New(rdb, cacheaside.Options{OnError: func(string, error) { reported.Add(1) }})
	defer c.Close()
	var calls atomic.Int64
	v, err := c.GetOrLoad(context.Background(), "k", constant("v", &calls))
	if err != nil || string(v) != "v" || reported.Load() != 1 {
		t.Fatalf("%q %v, %d reports", v, err, reported.Load())
	}
}

// TestCloseCancelsRefreshes: Close cancels a background refresh and waits
// for it.
func TestCloseCancelsRefreshes(t *testing.T) {
	t.Parallel()
	addr, stop := startServer()
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	c := cacheaside.New(rdb, cacheaside.Options{TTL: 20 * time.Millisecond, Grace: time.Minute})
	ctx := context.Background()
	var calls atomic.Int64
	c.GetOrLoad(ctx, "k", constant("v", &calls))
	time.Sleep(30 * time.Millisecond)
	cancelled := make(chan struct{})
	c.GetOrLoad(ctx, "k", func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	c.Close()
	select {
	case <-cancelled:
	default:
		t.Fatal("Close returned before the refresh ended")
	}
	c.Close() // idempotent
}
