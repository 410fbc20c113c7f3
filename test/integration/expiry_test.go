package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/config"
)

// TestActiveExpiryReclaimsUntouchedKeys: keys nobody reads again leave
// DBSIZE and used_memory through the sweeper.
func TestActiveExpiryReclaimsUntouchedKeys(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.Hz = 100 })
	c := s.client(2)
	base := infoInt(t, c, "memory", "used_memory")
	p := c.Pipeline()
	for i := 0; i < 20000; i++ {
		p.Set(ctx, fmt.Sprint("k", i), strings.Repeat("v", 100), time.Duration(50+i%100)*time.Millisecond)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.DBSize(ctx).Val() == 0 }, "the sweeper to reclaim 20,000 keys")
	if used := infoInt(t, c, "memory", "used_memory"); used > base+(2<<20) {
		t.Fatalf("used_memory %d after expiry, base %d", used, base)
	}
	if n := infoInt(t, c, "stats", "expired_keys"); n != 20000 {
		t.Fatalf("expired_keys %d", n)
	}
	if infoInt(t, c, "expiry", "expire_swept_keys") == 0 {
		t.Fatal("the sweeper reclaimed nothing")
	}
	if !strings.Contains(c.Info(ctx, "expiry").Val(), "expire_lag_p99_seconds:") {
		t.Fatal("INFO expiry lacks the lag")
	}
}

// TestExpireInThePastCountsAsExpiry: SET EXAT / EXPIREAT in the past delete
// the key and count an expiry, not a miss.
func TestExpireInThePastCountsAsExpiry(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	c.Set(ctx, "a", "1", 0)
	c.Set(ctx, "b", "1", 0)
	want(t, c, int64(1), "expireat", "a", "1")
	want(t, c, "OK", "set", "b", "2", "exat", "1")
	if n := infoInt(t, c, "stats", "expired_keys"); n != 2 {
		t.Fatalf("expired_keys %d", n)
	}
	if n := infoInt(t, c, "stats", "keyspace_misses"); n != 0 {
		t.Fatalf("keyspace_misses %d", n)
	}
	want(t, c, int64(0), "dbsize")
}

// TestTTLJitter: expire-jitter spreads relative TTLs by ± the fraction;
// JITTER and NOJITTER override it per command; TTL reports the real
// deadline.
func TestTTLJitter(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.ExpireJitter = 0.5 })
	c := s.client(2)
	seen := map[int64]bool{}
	for i := 0; i < 200; i++ {
		k := fmt.Sprint("j", i)
		c.Set(ctx, k, "v", 100*time.Second)
		ttl := c.TTL(ctx, k).Val()
		if ttl < 50*time.Second || ttl > 150*time.Second {
			t.Fatalf("TTL %v outside 100s ± 50%%", ttl)
		}
		seen[int64(ttl/time.Second)] = true
	}
	if len(seen) < 20 {
		t.Fatalf("jitter produced only %d distinct TTLs", len(seen))
	}
	want(t, c, "OK", "set", "n", "v", "ex", "100", "nojitter")
	want(t, c, int64(100), "ttl", "n")
	want(t, c, "OK", "set", "x", "v", "ex", "1000", "jitter", "0.01")
	if ttl := c.TTL(ctx, "x").Val(); ttl < 990*time.Second || ttl > 1010*time.Second {
		t.Fatalf("JITTER 0.01: %v", ttl)
	}
	want(t, c, int64(1), "expire", "n", "100", "nojitter")
	want(t, c, int64(100), "ttl", "n")
	// Absolute deadlines are never jittered.
	at := time.Now().Unix() + 500
	want(t, c, "OK", "set", "abs", "v", "exat", fmt.Sprint(at))
	want(t, c, at, "expiretime", "abs")
	wantErr(t, c, "ERR jitter must be a fraction between 0 and 1", "set", "x", "v", "ex", "10", "jitter", "2")
	want(t, c, "OK", "config", "set", "expire-jitter", "0")
	want(t, c, "OK", "setex", "z", "100", "v")
	want(t, c, int64(100), "ttl", "z")
}

// TestExpiryWithRenameMoveSwapPersist: a TTL travels with RENAME, MOVE and
// SWAPDB and PERSIST removes it from the sweeper's index.
func TestExpiryWithRenameMoveSwapPersist(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.Hz = 100 })
	c := s.client(2)
	c.Set(ctx, "r", "v", 150*time.Millisecond)
	c.Rename(ctx, "r", "r2")
	c.Set(ctx, "m", "v", 150*time.Millisecond)
	c.Move(ctx, "m", 1)
	c.Set(ctx, "p", "v", 150*time.Millisecond)
	c.Persist(ctx, "p")
	c.Set(ctx, "s", "v", 150*time.Millisecond)
	c.Do(ctx, "swapdb", "0", "2")
	waitFor(t, func() bool { return infoInt(t, c, "stats", "expired_keys") == 3 }, "three expiries")
	// The persisted key survived and moved to db 2 with SWAPDB 0 2.
	want(t, c, int64(0), "dbsize")
	r := s.raw()
	r.cmd("select", "2")
	r.reply()
	r.cmd("ttl", "p")
	if got := r.reply(); got != ":-1\r\n" {
		t.Fatalf("persisted key in db 2: %q", got)
	}
}
