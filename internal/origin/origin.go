package origin

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// Breaker states.
const (
	BreakerClosed = iota
	BreakerOpen
	BreakerHalfOpen
)

// breaker is a consecutive-failure circuit breaker: threshold failures in
// a row open it; after cooldown one probe call passes (half-open); its
// success closes it, its failure opens it again.
type breaker struct {
	mu        sync.Mutex
	state     int
	fails     int
	openedAt  time.Time
	probing   bool
	threshold int
	cooldown  time.Duration
	opened    atomic.Uint64
}

func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if now.Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state = BreakerHalfOpen
		b.probing = true
		return true
	case BreakerHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return true
}

func (b *breaker) done(ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.state, b.fails = BreakerClosed, 0
		return
	}
	b.fails++
	if b.state == BreakerHalfOpen || b.fails >= b.threshold {
		if b.state != BreakerOpen {
			b.opened.Add(1)
		}
		b.state, b.openedAt = BreakerOpen, now
	}
}

func (b *breaker) get() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && time.Since(b.openedAt) >= b.cooldown {
		return BreakerHalfOpen
	}
	return b.state
}

// Operations counted per origin.
const (
	OpLoad = iota
	OpWrite
	OpWarm
	numOps
)

// OpNames names the operations in metrics and INFO.
var OpNames = [numOps]string{"load", "write", "warm"}

// Latency histogram buckets, seconds.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type opStats struct {
	calls   atomic.Uint64
	errs    sync.Map // kind → *atomic.Uint64
	buckets [14]atomic.Uint64
	sumNano atomic.Int64
}

func (s *opStats) observe(d time.Duration, err error) {
	s.calls.Add(1)
	s.sumNano.Add(int64(d))
	sec := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && sec > LatencyBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	if err != nil {
		k := errKind(err)
		v, ok := s.errs.Load(k)
		if !ok {
			v, _ = s.errs.LoadOrStore(k, new(atomic.Uint64))
		}
		v.(*atomic.Uint64).Add(1)
	}
}

// Origin is one configured backend with its breaker, concurrency bound,
// counters and (when a route writes behind) its journal.
type Origin struct {
	Name string
	spec spec.Origin
	be   backend
	br   breaker
	sem  chan struct{}
	wb   *writeBehind

	ops        [numOps]opStats
	coalesced  atomic.Uint64 // readers that shared another reader's load
	negative   atomic.Uint64 // not-found results cached
	refreshes  atomic.Uint64
	refreshErr atomic.Uint64
	warmed     atomic.Uint64
	warmState  atomic.Value // string
	notifies   atomic.Uint64
	gaps       atomic.Uint64
	listening  atomic.Bool
	refreshSem chan struct{}
	router     func(key []byte) (*Route, *Params)
}

// call runs fn under the breaker, the concurrency bound and the timeout.
func (o *Origin) call(ctx context.Context, op int, fn func(ctx context.Context) error) error {
	now := time.Now()
	if !o.br.allow(now) {
		o.ops[op].observe(0, ErrCircuitOpen)
		return &Error{Origin: o.Name, Err: ErrCircuitOpen}
	}
	select {
	case o.sem <- struct{}{}:
	case <-ctx.Done():
		o.br.done(true, now) // not the origin's fault
		return &Error{Origin: o.Name, Err: ctx.Err()}
	}
	cctx, cancel := context.WithTimeout(ctx, o.spec.Timeout)
	err := fn(cctx)
	cancel()
	<-o.sem
	d := time.Since(now)
	o.ops[op].observe(d, err)
	o.br.done(err == nil, time.Now())
	if err != nil {
		return &Error{Origin: o.Name, Err: err}
	}
	return nil
}

func (o *Origin) write(ctx context.Context, ops []Op) error {
	return o.call(ctx, OpWrite, func(ctx context.Context) error { return o.be.write(ctx, o.router, ops) })
}
