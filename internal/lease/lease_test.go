package lease

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func newManager(t *testing.T, o Options) *Manager {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestOptionsValidated(t *testing.T) {
	t.Parallel()
	_, err := New(Options{TTL: -time.Second, MaxLeases: -1})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"lease TTL must not be negative", "max leases must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := New(Options{TTL: time.Hour, MaxTTL: time.Minute}); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("TTL > MaxTTL: got %v", err)
	}
	m := newManager(t, Options{Beta: -1})
	if o := m.Options(); o.Beta != 0 || o.TTL != 5*time.Second || o.NegativeTTL != 30*time.Second {
		t.Errorf("defaults: %+v", o)
	}
}

func TestLeaseLifecycle(t *testing.T) {
	t.Parallel()
	key := []byte("k")
	tests := []struct {
		name string
		run  func(t *testing.T, m *Manager)
	}{
		{"one grant at a time", func(t *testing.T, m *Manager) {
			g := m.Acquire(0, key, 1000, 500, Fill, false)
			if g.Token == 0 || g.Expires != 1500 {
				t.Fatalf("first acquire: %+v", g)
			}
			g2 := m.Acquire(0, key, 1001, 500, Fill, true)
			if g2.Token != 0 || g2.Expires != 1500 || g2.Wait == nil {
				t.Fatalf("second acquire: %+v", g2)
			}
			if g3 := m.Acquire(1, key, 1001, 500, Fill, false); g3.Token == 0 {
				t.Fatal("leases are per database")
			}
			if !m.Fill(0, key, g.Token, 1100, nil) {
				t.Fatal("fill refused")
			}
			if !closed(g2.Wait) {
				t.Fatal("waiter not woken by the fill")
			}
			if m.Fill(0, key, g.Token, 1100, nil) {
				t.Fatal("a lease fills once")
			}
			s := m.Stats()
			if s.Granted != 2 || s.Fills != 1 || s.FillsRejected != 1 || s.Active != 1 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"a write breaks the lease", func(t *testing.T, m *Manager) {
			g := m.Acquire(0, key, 1000, 500, Fill, false)
			w := m.Acquire(0, key, 1000, 500, Fill, true)
			m.Written(0, []byte("other"))
			m.Written(1, key)
			if closed(w.Wait) {
				t.Fatal("an unrelated write broke the lease")
			}
			m.Written(0, key)
			if !closed(w.Wait) {
				t.Fatal("waiter not woken by the write")
			}
			if m.Fill(0, key, g.Token, 1100, nil) {
				t.Fatal("fill after a write accepted")
			}
			if s := m.Stats(); s.Broken != 1 || s.FillsRejected != 1 || s.Active != 0 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"an expired lease is granted again", func(t *testing.T, m *Manager) {
			g := m.Acquire(0, key, 1000, 500, Fill, false)
			w := m.Acquire(0, key, 1200, 500, Fill, true)
			g2 := m.Acquire(0, key, 1500, 500, Fill, false)
			if g2.Token == 0 || g2.Token == g.Token || g2.Expires != 2000 {
				t.Fatalf("re-grant: %+v", g2)
			}
			if !closed(w.Wait) {
				t.Fatal("waiters of the expired lease not woken")
			}
			if m.Fill(0, key, g.Token, 1600, nil) {
				t.Fatal("the dead holder's fill accepted")
			}
			if m.Fill(0, key, g2.Token, 2000, nil) {
				t.Fatal("fill at the lease deadline accepted")
			}
			if s := m.Stats(); s.Expired != 1 || s.Granted != 2 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"release wakes waiters", func(t *testing.T, m *Manager) {
			g := m.Acquire(0, key, 1000, 500, Fill, false)
			w := m.Acquire(0, key, 1000, 500, Fill, true)
			if m.Release(0, key, g.Token+1) {
				t.Fatal("released with a wrong token")
			}
			if !m.Release(0, key, g.Token) || !closed(w.Wait) {
				t.Fatal("release")
			}
			if g2 := m.Acquire(0, key, 1001, 500, Refresh, false); g2.Token == 0 {
				t.Fatal("no lease after release")
			}
			if s := m.Stats(); s.Released != 1 || s.RefreshGranted != 1 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"sweep drops expired leases", func(t *testing.T, m *Manager) {
			m.Acquire(0, []byte("a"), 1000, 100, Fill, false)
			w := m.Acquire(0, []byte("a"), 1000, 100, Fill, true)
			m.Acquire(0, []byte("b"), 1000, 1000, Early, false)
			if n := m.Sweep(1100); n != 1 {
				t.Fatalf("swept %d", n)
			}
			if !closed(w.Wait) || m.Outstanding(0, []byte("a"), 1100) || !m.Outstanding(0, []byte("b"), 1100) {
				t.Fatal("sweep")
			}
			if s := m.Stats(); s.Expired != 1 || s.Active != 1 || s.EarlyRefreshes != 1 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"table full", func(t *testing.T, m *Manager) {
			m.Acquire(0, []byte("a"), 1000, 100, Fill, false)
			m.Acquire(0, []byte("b"), 1000, 100, Fill, false)
			if g := m.Acquire(0, []byte("c"), 1000, 100, Fill, true); g.Token != 0 || g.Wait != nil {
				t.Fatalf("grant beyond MaxLeases: %+v", g)
			}
			if s := m.Stats(); s.Refused != 1 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"exempt key argument", func(t *testing.T, m *Manager) {
			arg := []byte("k") // the fill's own key argument
			g := m.Acquire(0, arg, 1000, 500, Fill, false)
			m.Exempt(0, arg)
			m.Written(0, arg)
			if !m.Outstanding(0, key, 1001) {
				t.Fatal("the exempt call broke the lease")
			}
			m.Written(0, []byte("k")) // another command's argument
			if m.Outstanding(0, key, 1001) || m.Fill(0, key, g.Token, 1001, nil) {
				t.Fatal("a write by another command did not break the lease")
			}
			m.Exempt(0, arg) // consumed even with no lease outstanding
			m.Written(0, arg)
			if m.exempts.Load() != 0 {
				t.Fatal("exemption left behind")
			}
		}},
		{"long keys", func(t *testing.T, m *Manager) {
			long := []byte(strings.Repeat("x", 1000))
			g := m.Acquire(3, long, 1000, 100, Fill, false)
			if m.Acquire(3, long, 1000, 100, Fill, false).Token != 0 || !m.Fill(3, long, g.Token, 1001, nil) {
				t.Fatal("long key")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newManager(t, Options{MaxLeases: 2}))
		})
	}
}

// fakeTags invalidates tag "t" at sequence 5.
type fakeTags struct{ seq atomic.Uint64 }

func (f *fakeTags) Seq() uint64 { return f.seq.Load() }
func (f *fakeTags) InvalidatedSince(db int, tags [][]byte, seq uint64) bool {
	for _, t := range tags {
		if string(t) == "t" && seq < 5 && f.seq.Load() >= 5 {
			return true
		}
	}
	return false
}

func TestTagInvalidationFailsFill(t *testing.T) {
	t.Parallel()
	tc := new(fakeTags)
	tc.seq.Store(3)
	m := newManager(t, Options{})
	m.SetTagClock(tc)
	g := m.Acquire(0, []byte("k"), 1000, 500, Fill, false)
	w := m.Acquire(0, []byte("k"), 1000, 500, Fill, true)
	tc.seq.Store(5) // tag t invalidated after the grant
	if m.Fill(0, []byte("k"), g.Token, 1001, [][]byte{[]byte("u"), []byte("t")}) {
		t.Fatal("fill with an invalidated tag accepted")
	}
	if !closed(w.Wait) {
		t.Fatal("waiters not woken")
	}
	g = m.Acquire(0, []byte("k"), 1001, 500, Fill, false) // granted at seq 5
	if !m.Fill(0, []byte("k"), g.Token, 1002, [][]byte{[]byte("t")}) {
		t.Fatal("fill granted after the invalidation refused")
	}
	m.SetTagClock(nil)
	if m.TagClock() != NopTagClock {
		t.Fatal("nil restores the no-op clock")
	}
}

// TestWrittenIsFreeWithoutLeases: the write observer runs for every write
// command; with no lease outstanding it must not allocate.
func TestWrittenIsFreeWithoutLeases(t *testing.T) {
	m := newManager(t, Options{})
	key := []byte("some:key")
	if n := testing.AllocsPerRun(100, func() { m.Written(0, key) }); n != 0 {
		t.Fatalf("Written allocates %v times", n)
	}
	m.Acquire(0, []byte("other"), 1000, 1000, Fill, false)
	if n := testing.AllocsPerRun(100, func() { m.Written(0, key) }); n != 0 {
		t.Fatalf("Written with leases outstanding allocates %v times", n)
	}
}

func BenchmarkWritten(b *testing.B) {
	m, _ := New(Options{})
	m.Acquire(0, []byte("other"), 1<<62, 1000, Fill, false)
	key := []byte("some:key")
	b.ReportAllocs()
	for b.Loop() {
		m.Written(0, key)
	}
}

// TestConcurrentAcquire: many readers race for one key; exactly one holds
// the lease at a time and every waiter is woken by the fill.
func TestConcurrentAcquire(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{})
	var granted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	waits := make(chan (<-chan struct{}), 64)
	tokens := make(chan uint64, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			g := m.Acquire(0, []byte("hot"), 1000, 10_000, Fill, true)
			if g.Token != 0 {
				granted.Add(1)
				tokens <- g.Token
			} else {
				waits <- g.Wait
			}
		}()
	}
	close(start)
	wg.Wait()
	close(waits)
	if granted.Load() != 1 {
		t.Fatalf("%d grants", granted.Load())
	}
	if !m.Fill(0, []byte("hot"), <-tokens, 1001, nil) {
		t.Fatal("fill refused")
	}
	for w := range waits {
		if !closed(w) {
			t.Fatal("a waiter was not woken")
		}
	}
}

// TestRunSweepsAndStops uses a fake time bubble: the sweeper drops an
// expired lease after one interval and closes Done when stopped.
func TestRunSweepsAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, Options{SweepInterval: time.Second})
		now := time.Now().UnixMilli()
		m.Acquire(0, []byte("k"), now, 100, Fill, false)
		wait := m.Acquire(0, []byte("k"), now, 100, Fill, true).Wait
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if !closed(wait) || m.Stats().Active != 0 {
			t.Fatal("expired lease not swept")
		}
		if closed(m.Done()) {
			t.Fatal("Done closed while running")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !closed(m.Done()) {
			t.Fatal("Done not closed after Run")
		}
	})
}
