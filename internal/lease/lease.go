package lease

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Kind says why a lease was granted.
type Kind uint8

// Lease kinds.
const (
	// Fill is granted to the first reader of a key that missed.
	Fill Kind = iota
	// Refresh is granted to the first reader of a stale entry (in its grace
	// period or softly invalidated); the others keep getting the stale value.
	Refresh
	// Early is granted to a reader of a fresh entry that XFetch picked for an
	// early refresh.
	Early
)

// TagClock lets a fill fail when one of its tags was invalidated after its
// lease was granted. The tag index implements it; the default does nothing.
// Implementations are called with a store shard lock and a stripe lock held:
// they must be cheap and must not lock store shards.
type TagClock interface {
	// Seq returns the current invalidation sequence number. It never
	// decreases; every tag invalidation (soft or hard) increases it.
	Seq() uint64
	// InvalidatedSince reports whether any of tags (names as the client sent
	// them) in logical database db was invalidated after Seq returned seq.
	InvalidatedSince(db int, tags [][]byte, seq uint64) bool
}

type nopTagClock struct{}

func (nopTagClock) Seq() uint64                                 { return 0 }
func (nopTagClock) InvalidatedSince(int, [][]byte, uint64) bool { return false }

// NopTagClock is the default TagClock: no tag is ever invalidated.
var NopTagClock TagClock = nopTagClock{}

// Clock is the time source of Run (expire.Clock satisfies it).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Options configure a Manager. Zero values pick the defaults.
type Options struct {
	// TTL is the lifetime of a lease whose reader did not ask for one
	// (default 5s): how long others wait for a holder that died.
	TTL time.Duration
	// MaxTTL bounds the lease lifetime a reader may ask for (default 10m).
	MaxTTL time.Duration
	// MaxWait bounds how long a reader may wait for a fill (default 60s).
	MaxWait time.Duration
	// Beta is the default XFetch beta of reads that do not give one (default
	// 1; negative disables early refresh for those reads).
	Beta float64
	// Grace is the stale window of a soft invalidation of an entry that has
	// no grace period of its own (default 10s).
	Grace time.Duration
	// NegativeTTL is the lifetime of a negative entry stored without a TTL
	// (default 30s).
	NegativeTTL time.Duration
	// MaxLeases bounds the outstanding leases (default 1<<20); beyond it
	// reads that miss are not granted a lease.
	MaxLeases int
	// MaxBytes bounds the memory the outstanding leases hold, their keys
	// included (default 64 MiB); beyond it reads that miss are not granted
	// a lease.
	MaxBytes int64
	// Charge, when set, is told every change of that memory, so the
	// store's used_memory (and eviction) sees it. It must be cheap and must
	// not lock store shards.
	Charge func(delta int64)
	// SweepInterval is how often Run drops expired leases (default 1s).
	SweepInterval time.Duration
	// Clock is Run's time source (default the system clock).
	Clock Clock
	// Tags is the tag invalidation clock (default NopTagClock); see also
	// SetTagClock.
	Tags TagClock
}

func (o *Options) defaults() error {
	var errs []error
	neg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", name, d))
		}
	}
	neg("lease TTL", o.TTL)
	neg("max lease TTL", o.MaxTTL)
	neg("max wait", o.MaxWait)
	neg("grace", o.Grace)
	neg("negative TTL", o.NegativeTTL)
	neg("sweep interval", o.SweepInterval)
	if o.MaxLeases < 0 {
		errs = append(errs, fmt.Errorf("max leases must not be negative, got %d", o.MaxLeases))
	}
	if o.TTL == 0 {
		o.TTL = 5 * time.Second
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = 10 * time.Minute
	}
	if o.TTL > o.MaxTTL {
		errs = append(errs, fmt.Errorf("lease TTL %v exceeds the max lease TTL %v", o.TTL, o.MaxTTL))
	}
	if o.MaxWait == 0 {
		o.MaxWait = time.Minute
	}
	switch {
	case o.Beta == 0:
		o.Beta = 1
	case o.Beta < 0:
		o.Beta = 0
	}
	if o.Grace == 0 {
		o.Grace = 10 * time.Second
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = 30 * time.Second
	}
	if o.MaxLeases == 0 {
		o.MaxLeases = 1 << 20
	}
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max lease bytes must not be negative, got %d", o.MaxBytes))
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Charge == nil {
		o.Charge = func(int64) {}
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Second
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Tags == nil {
		o.Tags = NopTagClock
	}
	return errors.Join(errs...)
}

// Event is a counted occurrence that the protocol layer observes.
type Event uint8

// Events counted by Count.
const (
	// StaleServe: a stale value was served.
	StaleServe Event = iota
	// NegativeHit: a read found a negative entry.
	NegativeHit
	// NegativeFill: a fill stored a negative entry.
	NegativeFill
	// Pending: a reader was told a fill is in progress (it did not wait, or
	// its wait timed out).
	Pending
	numEvents
)

// counters indexes, after the Events.
const (
	cGranted = int(numEvents) + iota
	cRefreshGranted
	cEarlyGranted
	cRefused
	cFills
	cFillsRejected
	cReleased
	cBroken
	cExpired
	cWaits
	cWaitTimeouts
	cWaitNanos
	numCounters
)

const numStripes = 64

// maxExempt bounds the pending exemptions of a stripe: one per fill in
// flight, so far more than any real concurrency.
const maxExempt = 4096

// lease is one outstanding lease.
type lease struct {
	token   uint64
	expires int64 // unix ms
	seq     uint64
	epoch   uint64 // Manager.epoch at the grant
	kind    Kind
	done    chan struct{} // created when a reader waits; closed when the lease ends
}

type stripe struct {
	mu     sync.Mutex
	leases map[string]*lease // (2-byte little-endian db | key) → lease
	exempt []uintptr         // key arguments whose next Written is a no-op (see Exempt)
	ctr    [numCounters]atomic.Uint64
	_      [64]byte
}

// Manager holds the outstanding leases of every database. See the package
// documentation for the concurrency contract.
type Manager struct {
	opts    Options
	seed    maphash.Seed
	stripes [numStripes]stripe
	active  atomic.Int64
	bytes   atomic.Int64 // held by outstanding leases (leaseCost each)
	exempts atomic.Int64
	waiting atomic.Int64
	tags    atomic.Pointer[TagClock]
	// epoch counts BreakAll calls: a lease granted in an older epoch can no
	// longer fill.
	epoch atomic.Uint64

	doneOnce sync.Once
	done     chan struct{}
}

// New builds a Manager, validating its options.
func New(o Options) (*Manager, error) {
	if err := o.defaults(); err != nil {
		return nil, fmt.Errorf("lease options: %w", err)
	}
	m := &Manager{opts: o, seed: maphash.MakeSeed(), done: make(chan struct{})}
	for i := range m.stripes {
		m.stripes[i].leases = make(map[string]*lease)
	}
	m.SetTagClock(o.Tags)
	return m, nil
}

// Options returns the effective options (defaults filled in).
func (m *Manager) Options() Options { return m.opts }

// SetTagClock installs the tag invalidation clock (nil restores the no-op
// one). It may be called while the Manager is in use.
func (m *Manager) SetTagClock(tc TagClock) {
	if tc == nil {
		tc = NopTagClock
	}
	m.tags.Store(&tc)
}

// TagClock returns the installed tag clock.
func (m *Manager) TagClock() TagClock { return *m.tags.Load() }

// Done is closed when Run returns: waiting readers should give up.
func (m *Manager) Done() <-chan struct{} { return m.done }

// keyBuf is stack space for a (db, key) lookup key.
type keyBuf [128]byte

// locate returns the stripe of (db, key) and its table key, built in buf.
func (m *Manager) locate(db int, key []byte, buf *keyBuf) (*stripe, []byte) {
	k := append(buf[:0], byte(db), byte(db>>8))
	k = append(k, key...)
	h := maphash.Bytes(m.seed, k)
	return &m.stripes[h&(numStripes-1)], k
}

// newToken returns a random nonzero token.
func newToken() uint64 {
	for {
		if t := rand.Uint64(); t != 0 {
			return t
		}
	}
}

// endLocked wakes the lease's waiters; the caller removes it from the table.
func endLocked(l *lease) {
	if l.done != nil {
		close(l.done)
		l.done = nil
	}
}

// Grant is the outcome of Acquire.
type Grant struct {
	// Token is the granted lease's token; 0 when no lease was granted.
	Token uint64
	// Expires is the deadline (unix ms) of the granted lease or of the
	// outstanding one that prevented the grant; 0 when the table is full.
	Expires int64
	// Wait, when the caller asked for it and another lease is outstanding,
	// is closed when that lease ends.
	Wait <-chan struct{}
}

// Acquire grants a lease of the given kind on (db, key) unless an unexpired
// one is outstanding; an expired one is replaced (and its waiters woken).
// ttl is the lease lifetime in ms. When wait is set and a lease is
// outstanding, the Grant carries the channel to wait on. Call it with the
// key's shard lock held, so the read that preceded it and the grant are one
// step.
func (m *Manager) Acquire(db int, key []byte, now, ttl int64, kind Kind, wait bool) Grant {
	var buf keyBuf
	s, k := m.locate(db, key, &buf)
	s.mu.Lock()
	l := s.leases[string(k)]
	epoch := m.epoch.Load()
	if l != nil && l.expires > now && l.epoch == epoch {
		g := Grant{Expires: l.expires}
		if wait {
			if l.done == nil {
				l.done = make(chan struct{})
			}
			g.Wait = l.done
		}
		s.mu.Unlock()
		return g
	}
	if l != nil {
		endLocked(l)
		s.ctr[cExpired].Add(1)
	} else {
		cost := leaseCost(len(k))
		if m.active.Load() >= int64(m.opts.MaxLeases) || m.bytes.Load()+cost > m.opts.MaxBytes {
			s.mu.Unlock()
			s.ctr[cRefused].Add(1)
			return Grant{}
		}
		l = new(lease)
		s.leases[string(k)] = l
		m.active.Add(1)
		m.bytes.Add(cost)
		m.opts.Charge(cost)
	}
	*l = lease{token: newToken(), expires: now + ttl, seq: m.TagClock().Seq(), epoch: epoch, kind: kind}
	g := Grant{Token: l.token, Expires: l.expires}
	s.mu.Unlock()
	switch kind {
	case Fill:
		s.ctr[cGranted].Add(1)
	case Refresh:
		s.ctr[cRefreshGranted].Add(1)
	case Early:
		s.ctr[cEarlyGranted].Add(1)
	}
	return g
}

// leaseCost is what one lease holds: its table key (db and key bytes), the
// map entry and the lease itself.
func leaseCost(keyLen int) int64 { return int64(keyLen) + 112 }

// dropLocked removes the lease under table key k (stripe lock held).
func (m *Manager) dropLocked(s *stripe, k string) {
	delete(s.leases, k)
	m.active.Add(-1)
	cost := leaseCost(len(k))
	m.bytes.Add(-cost)
	m.opts.Charge(-cost)
}

// Outstanding reports whether an unexpired lease on (db, key) exists.
func (m *Manager) Outstanding(db int, key []byte, now int64) bool {
	var buf keyBuf
	s, k := m.locate(db, key, &buf)
	s.mu.Lock()
	l := s.leases[string(k)]
	ok := l != nil && l.expires > now && l.epoch == m.epoch.Load()
	s.mu.Unlock()
	return ok
}

// BreakAll makes every outstanding lease unable to fill, in O(1): the
// keyspace changed under all of them at once (FLUSHDB, FLUSHALL, SWAPDB).
// Their holders' fills are refused; the next reader of each key is granted
// a new lease.
func (m *Manager) BreakAll() { m.epoch.Add(1) }

// Fill consumes the lease with token on (db, key) and reports whether the
// fill may be stored: false when the token is not the key's current lease
// (it was broken by a write, released, replaced, or never existed), when the
// lease expired, or when one of tags was invalidated after the grant (the
// lease then ends too). Call it with the key's shard lock held, before
// storing the value; waiters woken by it read the value once the caller
// unlocks.
func (m *Manager) Fill(db int, key []byte, token uint64, now int64, tags [][]byte) bool {
	var buf keyBuf
	s, k := m.locate(db, key, &buf)
	s.mu.Lock()
	l := s.leases[string(k)]
	if l == nil || l.token != token || l.expires <= now {
		s.mu.Unlock()
		s.ctr[cFillsRejected].Add(1)
		return false
	}
	stale := l.epoch != m.epoch.Load() || len(tags) != 0 && m.TagClock().InvalidatedSince(db, tags, l.seq)
	endLocked(l)
	m.dropLocked(s, string(k))
	s.mu.Unlock()
	if stale {
		s.ctr[cFillsRejected].Add(1)
		s.ctr[cBroken].Add(1)
		return false
	}
	s.ctr[cFills].Add(1)
	return true
}

// Release ends the lease with token on (db, key) without a fill (the
// holder's load failed) and reports whether it was the current lease.
// Waiters wake and one of them is granted the next lease.
func (m *Manager) Release(db int, key []byte, token uint64) bool {
	var buf keyBuf
	s, k := m.locate(db, key, &buf)
	s.mu.Lock()
	l := s.leases[string(k)]
	if l == nil || l.token != token {
		s.mu.Unlock()
		return false
	}
	endLocked(l)
	m.dropLocked(s, string(k))
	s.mu.Unlock()
	s.ctr[cReleased].Add(1)
	return true
}

// Written breaks the lease on (db, key), if any: the key was written,
// deleted or invalidated, so a fill computed before cannot be trusted. It is
// the protocol server's write observer and costs two atomic loads while no
// lease is outstanding.
func (m *Manager) Written(db int, key []byte) {
	if m.active.Load() == 0 && m.exempts.Load() == 0 {
		return
	}
	var buf keyBuf
	s, k := m.locate(db, key, &buf)
	s.mu.Lock()
	if len(s.exempt) > 0 {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(key)))
		for i, e := range s.exempt {
			if e == p {
				s.exempt[i] = s.exempt[len(s.exempt)-1]
				s.exempt = s.exempt[:len(s.exempt)-1]
				m.exempts.Add(-1)
				s.mu.Unlock()
				return
			}
		}
	}
	l := s.leases[string(k)]
	if l == nil {
		s.mu.Unlock()
		return
	}
	endLocked(l)
	m.dropLocked(s, string(k))
	s.mu.Unlock()
	s.ctr[cBroken].Add(1)
}

// Exempt makes the next Written call for this very key argument — the same
// backing array, as the protocol server passes a command's arguments to its
// handler and then to the write observer — a no-op. A fill with a token is a
// write command, but it must not break the lease it consumed, nor, when it
// is refused, the lease another client holds now. Every Exempt must be
// followed by that Written call.
func (m *Manager) Exempt(db int, key []byte) {
	var buf keyBuf
	s, _ := m.locate(db, key, &buf)
	s.mu.Lock()
	if len(s.exempt) >= maxExempt {
		// Written is not being called (another write observer replaced
		// this one?): forget the oldest rather than grow without bound.
		s.exempt = append(s.exempt[:0], s.exempt[1:]...)
		m.exempts.Add(-1)
	}
	s.exempt = append(s.exempt, uintptr(unsafe.Pointer(unsafe.SliceData(key))))
	m.exempts.Add(1)
	s.mu.Unlock()
}

// Count records an event observed by the protocol layer. spread picks the
// counter stripe (a client id will do).
func (m *Manager) Count(e Event, spread uint64) {
	m.stripes[spread&(numStripes-1)].ctr[e].Add(1)
}

// WaitStarted records that a reader begins to wait for a fill; WaitEnded
// follows when it stops.
func (m *Manager) WaitStarted() { m.waiting.Add(1) }

// WaitEnded records the end of a wait.
func (m *Manager) WaitEnded() { m.waiting.Add(-1) }

// Waited records that a reader waited d in all for a fill before its
// reply; timedOut says it gave up.
func (m *Manager) Waited(d time.Duration, timedOut bool, spread uint64) {
	s := &m.stripes[spread&(numStripes-1)]
	s.ctr[cWaits].Add(1)
	s.ctr[cWaitNanos].Add(uint64(max(d, 0)))
	if timedOut {
		s.ctr[cWaitTimeouts].Add(1)
	}
}

// Sweep drops leases whose deadline passed, waking their waiters, and
// returns how many it dropped.
func (m *Manager) Sweep(now int64) int {
	n := 0
	for i := range m.stripes {
		if m.active.Load() == 0 {
			break
		}
		s := &m.stripes[i]
		dropped := 0
		s.mu.Lock()
		for k, l := range s.leases {
			if l.expires <= now {
				endLocked(l)
				m.dropLocked(s, k)
				dropped++
			}
		}
		s.mu.Unlock()
		s.ctr[cExpired].Add(uint64(dropped))
		n += dropped
	}
	return n
}

// Run sweeps expired leases every SweepInterval until ctx ends, then closes
// Done so that waiting readers return at once. It returns nil.
func (m *Manager) Run(ctx context.Context) error {
	defer m.doneOnce.Do(func() { close(m.done) })
	t := time.NewTicker(m.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.Sweep(m.opts.Clock.Now().UnixMilli())
		}
	}
}

// Stats are the Manager's counters, summed over stripes.
type Stats struct {
	Active         int64  // outstanding leases
	Bytes          int64  // memory the outstanding leases hold (charged to used_memory)
	Waiting        int64  // readers waiting for a fill now
	Granted        uint64 // fill leases granted to readers that missed
	RefreshGranted uint64 // refresh leases granted to readers of stale entries
	EarlyRefreshes uint64 // XFetch early-refresh leases granted
	Refused        uint64 // misses not granted a lease because the table was full
	Pending        uint64 // readers told a fill is in progress
	Fills          uint64 // fills accepted
	FillsRejected  uint64 // fills refused as stale (broken, released, replaced or expired lease; invalidated tag)
	NegativeFills  uint64 // fills that stored a negative entry
	Released       uint64 // leases given back without a fill
	Broken         uint64 // leases broken by a write or a tag invalidation
	Expired        uint64 // leases that passed their deadline
	Waits          uint64 // readers that waited for a fill
	WaitTimeouts   uint64 // waits that ended without the fill
	WaitTime       time.Duration
	StaleServes    uint64 // stale values served
	NegativeHits   uint64 // reads that found a negative entry
}

// Stats sums the counters.
func (m *Manager) Stats() Stats {
	var c [numCounters]uint64
	for i := range m.stripes {
		for j := range c {
			c[j] += m.stripes[i].ctr[j].Load()
		}
	}
	return Stats{
		Active:         m.active.Load(),
		Bytes:          m.bytes.Load(),
		Waiting:        m.waiting.Load(),
		Granted:        c[cGranted],
		RefreshGranted: c[cRefreshGranted],
		EarlyRefreshes: c[cEarlyGranted],
		Refused:        c[cRefused],
		Pending:        c[Pending],
		Fills:          c[cFills],
		FillsRejected:  c[cFillsRejected],
		NegativeFills:  c[NegativeFill],
		Released:       c[cReleased],
		Broken:         c[cBroken],
		Expired:        c[cExpired],
		Waits:          c[cWaits],
		WaitTimeouts:   c[cWaitTimeouts],
		WaitTime:       time.Duration(c[cWaitNanos]),
		StaleServes:    c[StaleServe],
		NegativeHits:   c[NegativeHit],
	}
}
