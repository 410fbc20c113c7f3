package expire

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeStore is a Target over real Indexes. Inside a synctest bubble its
// ExpireShard can charge virtual time per expired key, standing in for the
// store's work, so budgets and duty cycles are tested deterministically.
type fakeStore struct {
	shards []fakeShard
	perKey time.Duration // virtual cost of expiring one key
	lag    LagHistogram

	mu     sync.Mutex
	calls  []int // shard of each ExpireShard call
	badMax int   // a max other than the expected batch, if any
	batch  int
	maxLag int64 // ms
}

type fakeShard struct {
	mu sync.Mutex
	x  *Index
}

func newFakeStore(shards, batch int, now int64) *fakeStore {
	f := &fakeStore{shards: make([]fakeShard, shards), batch: batch}
	for i := range f.shards {
		f.shards[i].x = NewIndex(now)
	}
	return f
}

func (f *fakeStore) NumShards() int { return len(f.shards) }

func (f *fakeStore) ExpireShard(i int, nowMs int64, limit int) (int, bool) {
	sh := &f.shards[i]
	sh.mu.Lock()
	maxLag := int64(0)
	n, more := sh.x.Expired(nowMs, limit, func(_ uint32, d int64) {
		// Lag from the real (virtual) clock, as the store measures it.
		lag := time.Now().UnixMilli() - d
		f.lag.Observe(lag)
		maxLag = max(maxLag, lag)
	})
	sh.mu.Unlock()
	// Charge the work after unlocking: a goroutine blocked on a mutex is not
	// durably blocked, so sleeping under the lock could stall the bubble.
	if f.perKey > 0 && n > 0 {
		time.Sleep(time.Duration(n) * f.perKey)
	}
	f.mu.Lock()
	f.calls = append(f.calls, i)
	if limit != f.batch {
		f.badMax = limit
	}
	f.maxLag = max(f.maxLag, maxLag)
	f.mu.Unlock()
	return n, more
}

// add schedules n keys over the shards with deadlines from deadline(k).
func (f *fakeStore) add(n int, deadline func(k int) int64) {
	for k := range n {
		sh := &f.shards[k%len(f.shards)]
		sh.mu.Lock()
		sh.x.Set(uint32(k/len(f.shards)), deadline(k))
		sh.mu.Unlock()
	}
}

func (f *fakeStore) scheduled() int {
	n := 0
	for i := range f.shards {
		f.shards[i].mu.Lock()
		n += f.shards[i].x.Len()
		f.shards[i].mu.Unlock()
	}
	return n
}

func (f *fakeStore) callLog() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.calls...)
}

// runSweeper starts s.Run and returns a stop function that cancels it and
// checks it returned nil.
func runSweeper(t *testing.T, s *Sweeper) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	}
}

func TestSweeperDefaultsAndClamps(t *testing.T) {
	t.Parallel()
	f := newFakeStore(1, DefaultBatch, 0)
	s := NewSweeper(f, SweeperOptions{})
	if st := s.Stats(); st.Hz != DefaultHz || st.Effort != DefaultEffort || s.batch != DefaultBatch || s.clock != System {
		t.Fatalf("defaults: %+v batch=%d", st, s.batch)
	}
	s = NewSweeper(f, SweeperOptions{Hz: 100000, Effort: -3, Batch: -1})
	if st := s.Stats(); st.Hz != MaxHz || st.Effort != MinEffort || s.batch != DefaultBatch {
		t.Fatalf("clamped: %+v batch=%d", st, s.batch)
	}
	s.SetHz(-1)
	s.SetEffort(99)
	if st := s.Stats(); st.Hz != MinHz || st.Effort != MaxEffort {
		t.Fatalf("SetHz/SetEffort clamp: %+v", st)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewSweeper(nil) did not panic")
		}
	}()
	NewSweeper(nil, SweeperOptions{})
}

// TestSweeperSpreadTTLs scales the target down: 100k keys with TTLs
// spread over 1-10 s, each costing 10 µs of (virtual) store work, is the load
// of 1M keys at 1 µs each. Every key must be reclaimed within 0.5 s of the
// last deadline, without hitting the time cap, at well under 15% of a core.
func TestSweeperSpreadTTLs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const keys = 100_000
		start := time.Now().UnixMilli()
		f := newFakeStore(16, 256, start)
		f.perKey = 10 * time.Microsecond
		r := rand.New(rand.NewPCG(3, 3))
		last := int64(0)
		f.add(keys, func(int) int64 {
			d := start + 1000 + r.Int64N(9000)
			last = max(last, d)
			return d
		})
		s := NewSweeper(f, SweeperOptions{})
		stop := runSweeper(t, s)
		time.Sleep(time.Until(time.UnixMilli(last + 500)))
		synctest.Wait()
		window := time.Duration(last+500-start) * time.Millisecond
		st := s.Stats()
		stop()

		if left := f.scheduled(); left != 0 {
			t.Fatalf("%d keys not reclaimed 0.5 s after the last deadline", left)
		}
		if st.ExpiredKeys != keys {
			t.Fatalf("Stats.ExpiredKeys = %d, want %d", st.ExpiredKeys, keys)
		}
		if st.TimeCapReached != 0 {
			t.Fatalf("time cap reached %d times under a light load", st.TimeCapReached)
		}
		if share := float64(st.CPU) / float64(window); share > 0.15 {
			t.Fatalf("sweeper used %.1f%% of a core", 100*share)
		}
		// A key waits for the next cycle (100 ms) and its shard's turn in
		// it (the cycle's ~11 ms of work).
		if f.maxLag > 125 {
			t.Fatalf("max lag %d ms, want <= one cycle period plus its work", f.maxLag)
		}
		if p50 := f.lag.Quantile(0.5); p50 > 0.1 {
			t.Fatalf("median lag %.3f s", p50)
		}
		if f.badMax != 0 {
			t.Fatalf("ExpireShard called with max %d, want %d", f.badMax, f.batch)
		}
	})
}

// TestSweeperIdle: keys that are not due cost one cheap call per shard per
// cycle and nothing else.
func TestSweeperIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().UnixMilli()
		f := newFakeStore(8, 64, start)
		f.add(10_000, func(k int) int64 { return start + 3_600_000 + int64(k) })
		s := NewSweeper(f, SweeperOptions{Batch: 64})
		stop := runSweeper(t, s)
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		st := s.Stats()
		stop()
		if st.Cycles != 100 {
			t.Fatalf("%d cycles in 10 s at hz 10", st.Cycles)
		}
		if st.ExpiredKeys != 0 || st.TimeCapReached != 0 || st.StalePerc != 0 {
			t.Fatalf("idle stats: %+v", st)
		}
		if calls := len(f.callLog()); calls != 100*8 {
			t.Fatalf("%d ExpireShard calls, want one per shard per cycle (800)", calls)
		}
	})
}

// TestSweeperBacklog: a burst that needs 1 s of work. Cycles stop on their
// budget, the next one comes sooner, and the backlog drains at the backlog
// duty cycle; higher effort drains it faster.
func TestSweeperBacklog(t *testing.T) {
	for _, tt := range []struct {
		effort int
		duty   float64 // expected share of wall time while draining
	}{
		{1, 0.50},
		{5, 0.66},
		{10, 0.75},
	} {
		t.Run(fmt.Sprintf("effort=%d", tt.effort), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const keys = 20_000
				start := time.Now().UnixMilli()
				f := newFakeStore(4, 16, start)
				f.perKey = 50 * time.Microsecond // 1 s of work in all
				f.add(keys, func(int) int64 { return start + 50 })
				s := NewSweeper(f, SweeperOptions{Batch: 16, Effort: tt.effort})
				stop := runSweeper(t, s)
				defer stop()

				// Poll in virtual time until drained.
				began := time.Now()
				for f.scheduled() > 0 {
					time.Sleep(time.Millisecond)
				}
				took := time.Since(began)
				time.Sleep(50 * time.Millisecond) // let the last cycle end
				synctest.Wait()
				st := s.Stats()

				if st.TimeCapReached == 0 {
					t.Fatal("the time cap was never reached")
				}
				if st.CPU < time.Second || st.CPU > time.Second+10*time.Millisecond {
					t.Fatalf("CPU = %v, want the 1 s of work", st.CPU)
				}
				want := time.Duration(float64(time.Second)/tt.duty) + 100*time.Millisecond // + first period
				if took < want*9/10 || took > want*11/10 {
					t.Fatalf("drained in %v, want about %v (duty %.0f%%)", took, want, 100*tt.duty)
				}
				if st.StalePerc <= 0 {
					t.Fatalf("StalePerc = %v while backlogged", st.StalePerc)
				}
				// Batches per cycle: each lock hold expired at most 16 keys.
				if f.badMax != 0 {
					t.Fatalf("ExpireShard called with max %d", f.badMax)
				}
				// Shards were served fairly: they drained within a few
				// batches of one another (no shard drained before another
				// had started).
				calls := f.callLog()
				seen := map[int]bool{}
				for _, i := range calls[:4] {
					seen[i] = true
				}
				if len(seen) != 4 {
					t.Fatalf("first pass did not visit every shard: %v", calls[:4])
				}
			})
		})
	}
}

// TestSweeperCycleBudget drives cycle directly: it stops on its budget,
// resumes where it stopped, and reports the stale sample.
func TestSweeperCycleBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().UnixMilli()
		f := newFakeStore(5, 10, start)
		f.perKey = time.Millisecond // a full batch costs 10 ms
		f.add(5*100, func(int) int64 { return start })
		s := NewSweeper(f, SweeperOptions{Batch: 10})
		never := make(chan struct{})

		// 25 ms budget: three calls (30 ms), the third overshooting.
		r := s.cycle(never, time.Now(), 25*time.Millisecond)
		if r.expired != 30 || !r.capped || !r.backlog {
			t.Fatalf("cycle 1: %+v; want 30 expired, capped with backlog", r)
		}
		if r.stale != 100 {
			t.Fatalf("cycle 1: stale sample %v, want 100 (every visited shard backlogged)", r.stale)
		}
		r = s.cycle(never, time.Now(), 25*time.Millisecond)
		if r.expired != 30 || !r.capped || !r.backlog {
			t.Fatalf("cycle 2: %+v", r)
		}
		if got, want := f.callLog(), []int{0, 1, 2, 3, 4, 0}; !slices.Equal(got, want) {
			t.Fatalf("calls %v, want %v (cycle 2 resumes at shard 3)", got, want)
		}
		// A large budget drains everything in backlog passes.
		r = s.cycle(never, time.Now(), time.Hour)
		if r != (cycleResult{expired: 500 - 60}) {
			t.Fatalf("draining cycle: %+v", r)
		}
		// Stopped: a cycle makes one call, then returns uncapped.
		f.add(5, func(int) int64 { return start })
		stopped := make(chan struct{})
		close(stopped)
		if r := s.cycle(stopped, time.Now(), time.Hour); r.expired != 1 || r.capped {
			t.Fatalf("stopped cycle: %+v", r)
		}
	})
}

// TestSweeperManyIdleShards: when one cycle cannot even visit every shard,
// the cycle is capped but, with nothing due, the sweeper keeps its normal
// period instead of the backlog duty cycle.
func TestSweeperManyIdleShards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStore(64, DefaultBatch, time.Now().UnixMilli())
		slow := &slowTarget{fakeStore: f, perCall: time.Millisecond}
		s := NewSweeper(slow, SweeperOptions{Hz: 100}) // 2.5 ms budget: 3 calls
		stop := runSweeper(t, s)
		time.Sleep(time.Second + 5*time.Millisecond) // the 100th cycle ends at 1.003 s
		synctest.Wait()
		st := s.Stats()
		stop()
		if st.Cycles != 100 || st.TimeCapReached != 100 {
			t.Fatalf("cycles %d, capped %d; want 100, 100", st.Cycles, st.TimeCapReached)
		}
		// Round-robin: 300 calls cover the 64 shards evenly.
		seen := map[int]int{}
		for _, i := range f.callLog() {
			seen[i]++
		}
		if len(seen) != 64 {
			t.Fatalf("visited %d of 64 shards", len(seen))
		}
	})
}

// slowTarget charges virtual time for every call, due entries or not.
type slowTarget struct {
	*fakeStore
	perCall time.Duration
}

func (s *slowTarget) ExpireShard(i int, nowMs int64, limit int) (int, bool) {
	n, more := s.fakeStore.ExpireShard(i, nowMs, limit)
	time.Sleep(s.perCall)
	return n, more
}

func TestSweeperStopsPromptly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().UnixMilli()
		f := newFakeStore(2, 10, start)
		f.perKey = time.Millisecond
		f.add(10_000, func(int) int64 { return start })
		s := NewSweeper(f, SweeperOptions{Hz: 1, Batch: 10}) // 250 ms budget
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()

		time.Sleep(time.Second + 35*time.Millisecond) // mid-cycle
		cancel()
		began := time.Now()
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if took := time.Since(began); took > 10*time.Millisecond {
			t.Fatalf("Run took %v to stop, more than one batch", took)
		}

		// Cancel while waiting between cycles.
		ctx, cancel = context.WithCancel(t.Context())
		go func() { errc <- s.Run(ctx) }()
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
		default:
			t.Fatal("Run did not return after cancel")
		}
	})
}

func TestSweeperRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSweeper(newFakeStore(1, 1, 0), SweeperOptions{})
		stop := runSweeper(t, s)
		synctest.Wait()
		if err := s.Run(t.Context()); !errors.Is(err, ErrSweeperRunning) {
			t.Fatalf("second Run = %v, want ErrSweeperRunning", err)
		}
		stop()
		// After the first returned, Run may be called again.
		stop = runSweeper(t, s)
		stop()
	})
}

func TestSweeperSetHz(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeStore(1, DefaultBatch, 0)
		s := NewSweeper(f, SweeperOptions{Hz: 1})
		stop := runSweeper(t, s)
		defer stop()

		// Concurrent readers and writers (CONFIG SET / INFO).
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 100 {
					s.SetEffort(5)
					_ = s.Stats()
				}
			})
		}
		wg.Wait()

		time.Sleep(500 * time.Millisecond) // half way through a 1 s wait
		s.SetHz(100)                       // re-arms the timer now
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if c := s.Stats().Cycles; c < 99 || c > 101 {
			t.Fatalf("%d cycles in 1 s after SetHz(100)", c)
		}
		if e := s.Stats().Effort; e != 5 {
			t.Fatalf("Effort = %d", e)
		}
	})
}

// TestSweeperClock: nowMs comes from the configured Clock, not time.Now.
func TestSweeperClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := NewFakeClock(time.UnixMilli(t0))
		f := newFakeStore(2, DefaultBatch, t0)
		f.add(100, func(k int) int64 { return t0 + 1000 + int64(k) })
		s := NewSweeper(f, SweeperOptions{Clock: clk})
		stop := runSweeper(t, s)
		defer stop()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := f.scheduled(); n != 100 {
			t.Fatalf("%d keys left with the fake clock stopped, want 100", n)
		}
		clk.Advance(time.Hour)
		time.Sleep(101 * time.Millisecond)
		synctest.Wait()
		if n := f.scheduled(); n != 0 {
			t.Fatalf("%d keys left after the fake clock jumped", n)
		}
	})
}
