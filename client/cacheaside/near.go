package cacheaside

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// invalidateChannel is where the server delivers invalidations to a
// REDIRECT target (RESP2 client-side caching).
const invalidateChannel = "__redis__:invalidate"

// NearOptions configure a Near cache.
type NearOptions struct {
	// Redis says how to reach the server (address, credentials, TLS). The
	// Near cache makes two clients from it: one for reads, whose every
	// connection turns CLIENT TRACKING on, and one connection subscribed to
	// the invalidation channel. Protocol is forced to RESP2 (invalidations
	// arrive through REDIRECT, never interleaved with replies).
	Redis *redis.Options
	// MaxBytes bounds the L1 by key + value bytes (default 64 MiB).
	MaxBytes uint64
	// MaxTTL caps how long an entry stays in the L1 even without an
	// invalidation (default 1 minute); an entry's server PTTL caps it too.
	MaxTTL time.Duration
	// BCAST selects broadcasting mode: the server keeps no per-key state and
	// sends an invalidation for every change of a key under Prefixes (all
	// keys without prefixes). Default mode remembers which keys this client
	// read and sends only those.
	BCAST    bool
	Prefixes []string
}

// NearStats are a Near cache's counters.
type NearStats struct {
	Hits, Misses   uint64 // Get served by the L1 / by the server
	Invalidations  uint64 // keys dropped by a server push
	Flushes        uint64 // whole-L1 drops (FLUSHALL push, lost invalidation connection)
	FillsDiscarded uint64 // server replies not cached: an invalidation crossed them
	Reconnects     uint64 // invalidation connection re-established
	Entries        int    // L1 entries now
	Bytes          uint64 // L1 weight now
}

// nearEntry is an L1 value; absent records a key the server did not hold
// (reads of missing keys are tracked too).
type nearEntry struct {
	val    []byte
	absent bool
	ttl    time.Duration
}

// epochStripes is how many invalidation counters the keys hash to.
const epochStripes = 256

// Near is an in-process L1 cache in front of cachesrv (or Redis ≥ 6) kept
// coherent by server-assisted client-side caching: every connection that
// reads through it runs CLIENT TRACKING ON REDIRECT <id>, where id is a
// dedicated connection subscribed to __redis__:invalidate. The server sends
// that connection the keys to drop — on writes by anyone, expiry, eviction,
// tag or dependency invalidation — and the Near cache drops them.
//
// Coherence: a value read from the server is cached only if no
// invalidation of its key (or a flush) arrived between sending the read
// and storing the value, so a push that overtakes a reply cannot leave a
// stale entry behind. When the invalidation connection fails, invalidations
// may have been lost: the L1 is dropped at once and bypassed until the
// connection is back and every read connection has been replaced by one
// tracking into the new connection. Entries also expire after min(PTTL,
// MaxTTL).
//
// A Near is safe for concurrent use. Close stops its goroutine and closes
// its connections.
type Near struct {
	opts NearOptions
	l1   *otter.Cache[string, nearEntry]
	sf   singleflight.Group
	seed maphash.Seed

	// mu orders invalidations against fills: the listener bumps the key's
	// epoch and drops the key under mu; a fill checks the epoch and stores
	// under mu.
	mu     sync.Mutex
	epochs [epochStripes]uint64
	// up is false while the invalidation connection is down (the L1 is
	// bypassed); data is the read client tracking into the current
	// invalidation connection.
	up   atomic.Bool
	data atomic.Pointer[redis.Client]
	inv  *redis.Client
	ps   *redis.PubSub
	// invID is the invalidation connection's CLIENT ID (set by its
	// OnConnect); dataFor is the invID the current data client tracks into.
	invID   atomic.Int64
	dataFor int64

	hits, misses, invalidations, flushes, discarded, reconnects atomic.Uint64

	cancel context.CancelFunc
	done   chan struct{}
	closed []*redis.Client // data clients replaced after a reconnect
}

// NewNear connects the invalidation connection, then returns a Near cache.
func NewNear(ctx context.Context, o NearOptions) (*Near, error) {
	if o.Redis == nil {
		return nil, errors.New("cacheaside: NearOptions.Redis is required")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = time.Minute
	}
	n := &Near{opts: o, seed: maphash.MakeSeed(), done: make(chan struct{})}
	l1, err := otter.New(&otter.Options[string, nearEntry]{
		MaximumWeight: o.MaxBytes,
		Weigher: func(k string, e nearEntry) uint32 {
			return uint32(min(len(k)+len(e.val)+48, 1<<32-1))
		},
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[string, nearEntry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("cacheaside: build the L1: %w", err)
	}
	n.l1 = l1

	invOpts := *o.Redis
	invOpts.Protocol = 2
	invOpts.PoolSize = 1
	invOpts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return err
		}
		n.invID.Store(id)
		return nil
	}
	n.inv = redis.NewClient(&invOpts)
	n.ps = n.inv.Subscribe(ctx, invalidateChannel)
	if _, err := n.ps.Receive(ctx); err != nil { // the subscription confirmed
		n.ps.Close()
		n.inv.Close()
		l1.StopAllGoroutines()
		return nil, fmt.Errorf("cacheaside: subscribe to %s: %w", invalidateChannel, err)
	}
	n.newDataClient()
	n.up.Store(true)
	lctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go n.listen(lctx)
	return n, nil
}

// newDataClient replaces the read client with one whose connections track
// into the current invalidation connection.
func (n *Near) newDataClient() {
	id := n.invID.Load()
	dOpts := *n.opts.Redis
	dOpts.Protocol = 2
	args := []any{"CLIENT", "TRACKING", "ON", "REDIRECT", id}
	if n.opts.BCAST {
		args = append(args, "BCAST")
		for _, p := range n.opts.Prefixes {
			args = append(args, "PREFIX", p)
		}
	}
	user := dOpts.OnConnect
	dOpts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if user != nil {
			if err := user(ctx, cn); err != nil {
				return err
			}
		}
		return cn.Do(ctx, args...).Err()
	}
	if old := n.data.Swap(redis.NewClient(&dOpts)); old != nil {
		n.closed = append(n.closed, old)
	}
	n.dataFor = id
}

// Client returns the client reads go through (for writes too: a write on a
// tracking connection invalidates other clients' copies, and this client's
// own copy through its invalidation connection).
func (n *Near) Client() *redis.Client { return n.data.Load() }

func (n *Near) stripe(key string) int {
	return int(maphash.String(n.seed, key) % epochStripes)
}

// Get returns key's value: from the L1 when it holds it, else from the
// server (one read per key at a time, shared by concurrent callers), cached
// until the server says it changed. A key the server does not hold returns
// redis.Nil, and that answer is cached the same way.
func (n *Near) Get(ctx context.Context, key string) ([]byte, error) {
	if n.up.Load() {
		if e, ok := n.l1.GetIfPresent(key); ok {
			n.hits.Add(1)
			if e.absent {
				return nil, redis.Nil
			}
			return e.val, nil
		}
	}
	n.misses.Add(1)
	v, err, _ := n.sf.Do(key, func() (any, error) { return n.fetch(ctx, key) })
	if err != nil {
		return nil, err
	}
	e := v.(nearEntry)
	if e.absent {
		return nil, redis.Nil
	}
	return e.val, nil
}

// fetch reads key and its PTTL from the server and caches the answer if
// no invalidation crossed it.
func (n *Near) fetch(ctx context.Context, key string) (nearEntry, error) {
	s := n.stripe(key)
	n.mu.Lock()
	epoch, up := n.epochs[s], n.up.Load()
	n.mu.Unlock()
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err := n.data.Load().Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		pttl = p.PTTL(ctx, key)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nearEntry{}, err
	}
	e := nearEntry{ttl: n.opts.MaxTTL}
	if b, err := get.Bytes(); err == nil {
		e.val = b
	} else if errors.Is(err, redis.Nil) {
		e.absent = true
	} else {
		return nearEntry{}, err
	}
	if d := pttl.Val(); d > 0 && d < e.ttl {
		e.ttl = d
	}
	n.mu.Lock()
	if up && n.up.Load() && n.epochs[s] == epoch {
		n.l1.Set(key, e)
	} else {
		n.discarded.Add(1)
	}
	n.mu.Unlock()
	return e, nil
}

// listen applies the server's invalidations until ctx ends.
func (n *Near) listen(ctx context.Context) {
	defer close(n.done)
	for {
		msg, err := n.ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The connection failed (or the server sent a payload go-redis
			// cannot parse, such as the null of a FLUSHALL): invalidations
			// may be lost. Drop everything and bypass the L1 until the
			// subscription is back.
			n.flush(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			// Re-subscribed on a new connection: read connections must track
			// into it before the L1 is trusted again.
			if m.Kind == "subscribe" && n.invID.Load() != n.dataFor {
				n.reconnects.Add(1)
				n.mu.Lock()
				n.newDataClient()
				n.mu.Unlock()
				n.flush(true)
			}
		case *redis.Message:
			if m.Channel != invalidateChannel {
				continue
			}
			if m.PayloadSlice == nil && m.Payload == "" {
				n.flush(n.up.Load())
				continue
			}
			keys := m.PayloadSlice
			if keys == nil {
				keys = []string{m.Payload}
			}
			n.mu.Lock()
			for _, k := range keys {
				n.epochs[n.stripe(k)]++
				n.l1.Invalidate(k)
			}
			n.mu.Unlock()
			n.invalidations.Add(uint64(len(keys)))
		}
	}
}

// flush drops the whole L1 and invalidates fills in flight; up says whether
// the L1 may be used afterwards.
func (n *Near) flush(up bool) {
	n.mu.Lock()
	for i := range n.epochs {
		n.epochs[i]++
	}
	n.up.Store(up)
	n.l1.InvalidateAll()
	n.mu.Unlock()
	n.flushes.Add(1)
}

// Stats returns the Near cache's counters.
func (n *Near) Stats() NearStats {
	return NearStats{
		Hits: n.hits.Load(), Misses: n.misses.Load(),
		Invalidations: n.invalidations.Load(), Flushes: n.flushes.Load(),
		FillsDiscarded: n.discarded.Load(), Reconnects: n.reconnects.Load(),
		Entries: n.l1.EstimatedSize(), Bytes: n.l1.WeightedSize(),
	}
}

// Close stops the listener and closes every connection. It is safe to call
// more than once.
func (n *Near) Close() error {
	if n.cancel == nil {
		return nil
	}
	n.cancel()
	err := n.ps.Close()
	<-n.done
	n.cancel = nil
	err = errors.Join(err, n.inv.Close(), n.data.Load().Close())
	for _, c := range n.closed {
		c.Close()
	}
	n.l1.StopAllGoroutines()
	return err
}
