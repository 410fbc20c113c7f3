package integration

import (
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// startClock runs a server whose every part reads time from a fake clock
// (app.WithClock): tests of TTLs, grace periods and idle times advance it
// instead of sleeping.
func startClock(t *testing.T, mod func(*config.Config)) (*server, *expire.FakeClock) {
	t.Helper()
	clk := expire.NewFakeClock(time.Now())
	s := startWith(t, func(cfg *config.Config) {
		cfg.Dir = t.TempDir()
		if mod != nil {
			mod(cfg)
		}
	}, nil, nil, app.WithClock(clk))
	s.clock = clk
	return s, clk
}

// TestFakeClockDrivesExpiry: with app.WithClock, TTLs, lazy expiry, the
// active sweeper and idle times all follow the injected clock, not the wall.
func TestFakeClockDrivesExpiry(t *testing.T) {
	t.Parallel()
	s, clk := startClock(t, nil)
	c := s.client(2)
	want(t, c, "OK", "set", "k", "v", "ex", "100")
	want(t, c, "OK", "set", "swept", "v", "px", "500")
	want(t, c, "OK", "set", "idle", "v")
	clk.Advance(99 * time.Second)
	want(t, c, int64(1), "ttl", "k")
	want(t, c, int64(99), "object", "idletime", "idle")
	// "swept" expired 98.5 s ago on the fake clock: the sweeper (running on
	// its own ticker, reading the fake clock) reclaims it without a read.
	deadline := time.Now().Add(5 * time.Second)
	for s.App.Store.DBSize(0) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("sweeper did not reclaim: %d keys", s.App.Store.DBSize(0))
		}
		time.Sleep(5 * time.Millisecond) // polling the sweeper, not waiting for time
	}
	clk.Advance(2 * time.Second)
	want(t, c, nil, "get", "k")
}
