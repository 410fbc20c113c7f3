package expire

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"
)

// Sweeper tunables and their bounds (Redis's hz and active-expire-effort).
const (
	DefaultHz     = 10
	MinHz         = 1
	MaxHz         = 500
	DefaultEffort = 1
	MinEffort     = 1
	MaxEffort     = 10
	DefaultBatch  = 256
)

// ErrSweeperRunning is returned by Run when the sweeper is already running.
var ErrSweeperRunning = errors.New("expire: sweeper already running")

// Target is what the sweeper sweeps; the store implements it.
type Target interface {
	// NumShards returns the number of shards; shards are 0..NumShards()-1.
	NumShards() int
	// ExpireShard locks shard i, expires up to max due entries (removing them
	// from the keyspace), unlocks, and reports how many it expired and
	// whether more are due in that shard. It records the lag of each expired
	// entry (reclaim time - deadline) itself, e.g. into a LagHistogram.
	ExpireShard(i int, nowMs int64, max int) (expired int, more bool)
}

// SweeperOptions configure a Sweeper. Zero fields take defaults; values out
// of range are clamped (the config package validates user input).
type SweeperOptions struct {
	Hz     int   // cycles per second, MinHz..MaxHz, default DefaultHz
	Effort int   // MinEffort..MaxEffort, default DefaultEffort
	Batch  int   // max entries expired per shard lock hold, default DefaultBatch
	Clock  Clock // source of nowMs passed to the target, default System
}

// SweeperStats is a snapshot of a Sweeper's counters.
type SweeperStats struct {
	Cycles         uint64        // cycles run
	ExpiredKeys    uint64        // entries the target reported expired
	TimeCapReached uint64        // cycles stopped by their time budget with work left (expired_time_cap_reached_count)
	CPU            time.Duration // wall time spent inside cycles (expire_cycle_cpu_milliseconds)
	// StalePerc estimates the share of the keyspace holding due but not yet
	// reclaimed entries (expired_stale_perc), 0..100. The sweeper sees
	// backlog per shard, not per key: each cycle samples the percentage of
	// visited shards that still had due entries when the cycle ended (0 when
	// the cycle drained every shard), and StalePerc smooths the samples as
	// Redis does (new = 0.05*sample + 0.95*old).
	StalePerc float64
	Hz        int // current hz
	Effort    int // current effort
}

// Sweeper is the active expiry loop. Every 1/hz seconds a cycle walks the
// shards round-robin, resuming where the previous cycle stopped, and calls
// Target.ExpireShard with at most Batch entries per call. Shards that report
// more are visited again, one batch per shard per pass, until none does or
// the cycle's time budget runs out. The budget is (25 + 2*(effort-1))% of the
// cycle period, as Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC scaled by
// active-expire-effort; TimeCapReached counts the cycles it stopped. When a
// cycle stops on its budget while some shard still reports due entries, the
// next one starts after a rest that keeps the sweeper's duty cycle at twice
// that share (at most 75%) instead of waiting for the full period.
//
// Budgets are measured with the real monotonic clock (time.Now), not Clock,
// which only supplies nowMs to the target.
//
// Concurrency: Run is called once by the owner, in its own goroutine;
// SetHz, SetEffort and Stats are safe to call concurrently with it.
type Sweeper struct {
	target Target
	clock  Clock
	batch  int

	hz      atomic.Int64
	effort  atomic.Int64
	wake    chan struct{} // hz changed
	running atomic.Bool

	// Owned by the Run goroutine.
	cursor  int   // next shard of the round-robin walk
	pending []int // shards with backlog, reused across cycles

	cycles  atomic.Uint64
	expired atomic.Uint64
	capped  atomic.Uint64
	cpu     atomic.Int64  // ns
	stale   atomic.Uint64 // float64 bits
}

// NewSweeper returns a Sweeper over t. It panics if t is nil.
func NewSweeper(t Target, o SweeperOptions) *Sweeper {
	if t == nil {
		panic("expire: BUG: NewSweeper with nil target")
	}
	if o.Hz == 0 {
		o.Hz = DefaultHz
	}
	if o.Effort == 0 {
		o.Effort = DefaultEffort
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Clock == nil {
		o.Clock = System
	}
	s := &Sweeper{target: t, clock: o.Clock, batch: o.Batch, wake: make(chan struct{}, 1)}
	s.hz.Store(int64(clamp(o.Hz, MinHz, MaxHz)))
	s.effort.Store(int64(clamp(o.Effort, MinEffort, MaxEffort)))
	return s
}

// SetHz changes the cycle frequency, clamped to MinHz..MaxHz. A Run waiting
// for its next cycle re-arms its timer to one new period after the last
// cycle started.
func (s *Sweeper) SetHz(hz int) {
	s.hz.Store(int64(clamp(hz, MinHz, MaxHz)))
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// SetEffort changes the effort, clamped to MinEffort..MaxEffort; it applies
// from the next cycle.
func (s *Sweeper) SetEffort(e int) {
	s.effort.Store(int64(clamp(e, MinEffort, MaxEffort)))
}

// Stats returns a snapshot of the sweeper's counters.
func (s *Sweeper) Stats() SweeperStats {
	return SweeperStats{
		Cycles:         s.cycles.Load(),
		ExpiredKeys:    s.expired.Load(),
		TimeCapReached: s.capped.Load(),
		CPU:            time.Duration(s.cpu.Load()),
		StalePerc:      math.Float64frombits(s.stale.Load()),
		Hz:             int(s.hz.Load()),
		Effort:         int(s.effort.Load()),
	}
}

// Run sweeps until ctx is done, then returns nil. A cycle in progress stops
// between two ExpireShard calls. Run returns ErrSweeperRunning if another
// Run of the same Sweeper has not returned.
func (s *Sweeper) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrSweeperRunning
	}
	defer s.running.Store(false)
	done := ctx.Done()
	start := time.Now() // of the last cycle
	backlog := false
	timer := time.NewTimer(s.period())
	defer timer.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-s.wake:
			// hz changed: a normal wait now ends one new period after the
			// last cycle started; a backlog rest is left alone.
			if !backlog {
				timer.Reset(max(time.Until(start.Add(s.period())), 0))
			}
			continue
		case <-timer.C:
		}
		period := s.period()
		effort := int(s.effort.Load())
		start = time.Now()
		res := s.cycle(done, start, period*time.Duration(slowPerc(effort))/100)
		backlog = res.backlog
		work := time.Since(start)

		s.cycles.Add(1)
		s.expired.Add(uint64(res.expired))
		s.cpu.Add(int64(work))
		if res.capped {
			s.capped.Add(1)
		}
		old := math.Float64frombits(s.stale.Load())
		s.stale.Store(math.Float64bits(0.05*res.stale + 0.95*old))

		wait := period - work
		if res.backlog {
			bp := time.Duration(backlogPerc(effort))
			wait = work * (100 - bp) / bp
		}
		timer.Reset(max(wait, 0))
	}
}

// slowPerc is the share of a cycle period, in percent, a cycle may run.
func slowPerc(effort int) int { return 25 + 2*(effort-1) }

// backlogPerc is the duty cycle, in percent, while cycles hit their budget.
func backlogPerc(effort int) int { return min(2*slowPerc(effort), 75) }

func (s *Sweeper) period() time.Duration { return time.Second / time.Duration(s.hz.Load()) }

// cycleResult is what one cycle did.
type cycleResult struct {
	expired int
	// capped: the budget ran out before every shard was visited and every
	// backlog drained.
	capped bool
	// backlog: when the cycle stopped, some shard was known to hold due
	// entries (it reported more). Unvisited shards alone do not count, so a
	// store with more shards than one cycle can visit is not swept in
	// backlog mode while idle.
	backlog bool
	stale   float64 // stale-shard sample, percent
}

// cycle runs one sweep cycle, stopping early if done is closed.
func (s *Sweeper) cycle(done <-chan struct{}, start time.Time, budget time.Duration) (r cycleResult) {
	n := s.target.NumShards()
	if n <= 0 {
		return r
	}
	if s.cursor >= n {
		s.cursor = 0
	}
	pending := s.pending[:0]
	defer func() { s.pending = pending[:0] }()

	// First pass: every shard once, from the cursor. The first call is
	// always made, so every cycle makes progress.
	now := NowMs(s.clock)
	i := s.cursor
	for k := range n {
		if k > 0 && (stopped(done) || time.Since(start) >= budget) {
			s.cursor = i
			r.capped = !stopped(done)
			r.backlog = r.capped && len(pending) > 0
			r.stale = 100 * float64(len(pending)) / float64(k)
			return r
		}
		e, more := s.target.ExpireShard(i, now, s.batch)
		r.expired += e
		if more {
			pending = append(pending, i)
		}
		if i++; i == n {
			i = 0
		}
	}
	s.cursor = i

	// Backlog passes: one batch per shard that still reported more.
	for len(pending) > 0 {
		now = NowMs(s.clock)
		keep := pending[:0]
		for j, i := range pending {
			if stopped(done) || time.Since(start) >= budget {
				s.cursor = i
				r.capped = !stopped(done)
				r.backlog = r.capped
				r.stale = 100 * float64(len(keep)+len(pending)-j) / float64(n)
				return r
			}
			e, more := s.target.ExpireShard(i, now, s.batch)
			r.expired += e
			if more {
				keep = append(keep, i)
			}
		}
		pending = keep
	}
	return r
}

func stopped(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
