// Package cacheaside is a cache-aside client for cachesrv on top of
// go-redis: GetOrLoad reads a key and, on a miss, runs the loader, with the
// server's stampede protection doing the rest.
//
//   - Lease-based stampede protection: when a key misses, exactly one caller
//     (across every process using the server) runs the loader; the others
//     wait on the server for its result (CACHE.GET ... WAIT) instead of
//     hitting the origin.
//   - Stale-while-revalidate: with a Grace period, an expired value keeps
//     being served while one caller refreshes it in the background.
//   - Probabilistic early refresh (XFetch): the loader's duration is stored
//     with the value, and as expiry nears one caller refreshes it early, in
//     the background, so hot keys never expire under load.
//   - Negative caching: a loader returning ErrNotFound caches "not found" for
//     NegativeTTL, so keys missing at the origin stop reaching it.
//   - Write-through and invalidation helpers: Set writes the origin, then the
//     cache; Update writes the origin, then deletes the cached keys;
//     MarkStale, Invalidate and InvalidateTags drop or stale entries. A write
//     made while a loader runs makes that loader's fill fail on the server,
//     so a value computed before the write never lands in the cache.
//
// Values are bytes; encode structured values in the loader. Values filled
// with an early-refresh record (the default) carry a few bytes of envelope
// that plain GET returns as is: read keys managed by this package through
// it, or set Beta < 0.
//
// The protocol is documented in cachesrv's docs/stampede.md.
//
// A Client is safe for concurrent use. Background refreshes are owned by
// the Client: Close cancels and waits for them.
package cacheaside

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned by a Loader when the key does not exist at the
// origin; GetOrLoad then caches a negative entry and returns ErrNotFound.
var ErrNotFound = errors.New("cacheaside: not found")

// Loader computes a key's value from the origin.
type Loader func(ctx context.Context) ([]byte, error)

// Options are a Client's defaults; each call may override them with Option
// functions.
type Options struct {
	// TTL is how long a loaded value is fresh (default 5m).
	TTL time.Duration
	// Jitter randomises each TTL by up to this fraction (0 < Jitter <= 1);
	// 0 uses the server's expire-jitter, a negative value disables it.
	Jitter float64
	// Grace keeps serving a value for this long after its TTL while one
	// caller refreshes it (stale-while-revalidate); 0 disables.
	Grace time.Duration
	// NegativeTTL is how long an ErrNotFound result is cached (default 30s;
	// negative disables negative caching).
	NegativeTTL time.Duration
	// LeaseTTL is how long a loader may run before other callers stop
	// waiting for it and one of them loads instead (default 10s, at most
	// 10m).
	LeaseTTL time.Duration
	// Wait is how long a caller waits on the server for another caller's
	// load (default LeaseTTL, at most 60s).
	Wait time.Duration
	// Beta is the XFetch early-refresh factor: 0 uses the server's default
	// (1); larger refreshes earlier; negative disables early refresh and
	// leaves values unwrapped for plain GET.
	Beta float64
	// Tags are attached to filled entries (TAGS), for InvalidateTags.
	Tags []string
	// DependsOn lists keys the value is computed from (DEPS): writing or
	// deleting one of them invalidates the entry.
	DependsOn []string
	// Bloom, when set, names a Bloom filter (BF.*) of the keys that exist at
	// the origin: a key absent from it is treated as ErrNotFound without
	// calling the loader (penetration protection). Fill it with BloomAdd.
	Bloom string
	// RefreshTimeout bounds a background refresh (default LeaseTTL).
	RefreshTimeout time.Duration
	// OnError receives errors nobody else sees: failed background refreshes
	// and cache errors that GetOrLoad worked around.
	OnError func(key string, err error)
}

// Option overrides Options for one call.
type Option func(*Options)

// WithTTL sets the fresh lifetime.
func WithTTL(d time.Duration) Option { return func(o *Options) { o.TTL = d } }

// WithGrace sets the stale-while-revalidate window.
func WithGrace(d time.Duration) Option { return func(o *Options) { o.Grace = d } }

// WithJitter sets the TTL jitter fraction.
func WithJitter(f float64) Option { return func(o *Options) { o.Jitter = f } }

// WithNegativeTTL sets the lifetime of a cached ErrNotFound.
func WithNegativeTTL(d time.Duration) Option { return func(o *Options) { o.NegativeTTL = d } }

// WithLeaseTTL sets the lease lifetime.
func WithLeaseTTL(d time.Duration) Option { return func(o *Options) { o.LeaseTTL = d } }

// WithWait sets how long to wait for another caller's load.
func WithWait(d time.Duration) Option { return func(o *Options) { o.Wait = d } }

// WithBeta sets the XFetch factor.
func WithBeta(b float64) Option { return func(o *Options) { o.Beta = b } }

// WithTags attaches tags to the filled entry.
func WithTags(tags ...string) Option {
	return func(o *Options) { o.Tags = append(o.Tags[:len(o.Tags):len(o.Tags)], tags...) }
}

// WithDependsOn declares keys the value is computed from.
func WithDependsOn(keys ...string) Option {
	return func(o *Options) { o.DependsOn = append(o.DependsOn[:len(o.DependsOn):len(o.DependsOn)], keys...) }
}

// WithBloom gates the loader behind a Bloom filter of existing keys.
func WithBloom(filter string) Option { return func(o *Options) { o.Bloom = filter } }

const (
	maxLeaseTTL = 10 * time.Minute
	maxWait     = time.Minute
)

func (o *Options) defaults() {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = 30 * time.Second
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	o.LeaseTTL = min(o.LeaseTTL, maxLeaseTTL)
	if o.Wait <= 0 {
		o.Wait = o.LeaseTTL
	}
	o.Wait = min(o.Wait, maxWait)
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = o.LeaseTTL
	}
}

// Stats are a Client's counters.
type Stats struct {
	Hits          uint64 // fresh values served from the cache
	StaleHits     uint64 // stale values served while a refresh runs
	NegativeHits  uint64 // cached ErrNotFound results
	Loads         uint64 // loader calls
	Fills         uint64 // values (or negatives) stored
	FillsRejected uint64 // fills refused because a write overtook the load
	Refreshes     uint64 // background refreshes started (stale or early)
	Uncached      uint64 // loads whose result could not be cached (no lease, cache error)
	BloomRejects  uint64 // keys the Bloom filter ruled out
}

// Client is a cache-aside client. See the package documentation.
type Client struct {
	rdb  redis.UniversalClient
	opts Options

	mu     sync.Mutex // guards closed and wg.Add against Close
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc

	hits, stale, negative, loads, fills, rejected, refreshes, uncached, bloomRejects atomic.Uint64
}

// New returns a Client using rdb with default options o.
func New(rdb redis.UniversalClient, o Options) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{rdb: rdb, opts: o, ctx: ctx, cancel: cancel}
}

// Close cancels background refreshes and waits for them. It does not close
// rdb. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), StaleHits: c.stale.Load(), NegativeHits: c.negative.Load(),
		Loads: c.loads.Load(), Fills: c.fills.Load(), FillsRejected: c.rejected.Load(),
		Refreshes: c.refreshes.Load(), Uncached: c.uncached.Load(), BloomRejects: c.bloomRejects.Load(),
	}
}

func (c *Client) options(opts []Option) Options {
	o := c.opts
	for _, f := range opts {
		f(&o)
	}
	o.defaults()
	return o
}

func (c *Client) report(key string, err error) {
	if c.opts.OnError != nil && err != nil {
		c.opts.OnError(key, err)
	}
}

func ms(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// GetOrLoad returns key's value from the cache or, on a miss, from load,
// caching the result. Only one caller at a time runs load for a key; the
// others wait for its result. A loader returning ErrNotFound is cached as a
// negative entry and GetOrLoad returns ErrNotFound. Loader errors are
// returned and not cached. If the cache fails, GetOrLoad calls load
// directly (fail open) and reports the cache error to OnError.
func (c *Client) GetOrLoad(ctx context.Context, key string, load Loader, opts ...Option) ([]byte, error) {
	o := c.options(opts)
	args := []any{"cache.get", key, "lease", ms(o.LeaseTTL), "wait", ms(o.Wait)}
	switch {
	case o.Beta > 0:
		args = append(args, "beta", strconv.FormatFloat(o.Beta, 'g', -1, 64))
	case o.Beta < 0:
		args = append(args, "beta", "0")
	}
	for attempt := 0; ; attempt++ {
		r, err := c.rdb.Do(ctx, args...).Slice()
		if err == nil && len(r) != 3 {
			err = fmt.Errorf("unexpected CACHE.GET reply %v", r)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.report(key, fmt.Errorf("cache read: %w", err))
			return c.loadUncached(ctx, key, load, &o)
		}
		state, _ := r[0].(string)
		val, _ := r[1].(string)
		tok, _ := r[2].(string)
		switch state {
		case "HIT":
			c.hits.Add(1)
			if tok != "" {
				c.refreshAsync(key, tok, load, o)
			}
			return []byte(val), nil
		case "STALE":
			c.stale.Add(1)
			if tok != "" {
				c.refreshAsync(key, tok, load, o)
			}
			return []byte(val), nil
		case "NOTFOUND":
			c.negative.Add(1)
			return nil, ErrNotFound
		case "LEASE":
			return c.fill(ctx, key, tok, load, &o)
		case "PENDING":
			// Another caller is still loading after our wait: ask again
			// (its lease may have expired meanwhile), then give up waiting.
			if attempt < 2 {
				continue
			}
			return c.loadUncached(ctx, key, load, &o)
		default: // MISS: no lease could be granted
			return c.loadUncached(ctx, key, load, &o)
		}
	}
}

// loadUncached runs the loader without caching its result.
func (c *Client) loadUncached(ctx context.Context, key string, load Loader, o *Options) ([]byte, error) {
	c.uncached.Add(1)
	if ruledOut, err := c.bloomRuledOut(ctx, key, o); err == nil && ruledOut {
		return nil, ErrNotFound
	}
	c.loads.Add(1)
	return load(ctx)
}

// bloomRuledOut reports whether the Bloom filter says key does not exist.
func (c *Client) bloomRuledOut(ctx context.Context, key string, o *Options) (bool, error) {
	if o.Bloom == "" {
		return false, nil
	}
	ok, err := c.rdb.Do(ctx, "bf.exists", o.Bloom, key).Bool()
	if err != nil {
		c.report(key, fmt.Errorf("bloom filter: %w", err))
		return false, err
	}
	if !ok {
		c.bloomRejects.Add(1)
	}
	return !ok, nil
}

// fill runs the loader under the lease tok and stores its result.
func (c *Client) fill(ctx context.Context, key, tok string, load Loader, o *Options) (val []byte, err error) {
	// The result is worth storing even if the caller gives up meanwhile.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	released := false
	defer func() {
		if r := recover(); r != nil {
			if !released {
				c.rdb.Do(wctx, "cache.release", key, tok)
			}
			panic(r)
		}
	}()
	var delta time.Duration
	ruledOut, _ := c.bloomRuledOut(ctx, key, o)
	if ruledOut {
		err = ErrNotFound
	} else {
		c.loads.Add(1)
		start := time.Now()
		val, err = load(ctx)
		delta = time.Since(start)
	}
	var args []any
	switch {
	case errors.Is(err, ErrNotFound) && o.NegativeTTL > 0:
		args = append([]any{"cache.notfound", key, tok, "px", ms(o.NegativeTTL)}, c.tagArgs(o)...)
	case err != nil:
		released = true
		if rerr := c.rdb.Do(wctx, "cache.release", key, tok).Err(); rerr != nil {
			c.report(key, fmt.Errorf("cache release: %w", rerr))
		}
		return nil, err
	default:
		args = c.fillArgs(key, tok, val, delta, o)
	}
	released = true
	n, ferr := c.rdb.Do(wctx, args...).Int64()
	switch {
	case ferr != nil:
		c.report(key, fmt.Errorf("cache fill: %w", ferr))
	case n == 1:
		c.fills.Add(1)
	default:
		c.rejected.Add(1)
	}
	return val, err
}

func (c *Client) fillArgs(key, tok string, val []byte, delta time.Duration, o *Options) []any {
	args := []any{"cache.fill", key, tok, val, "px", ms(o.TTL)}
	if o.Grace > 0 {
		args = append(args, "grace", ms(o.Grace))
	}
	if d := delta.Milliseconds(); d > 0 && o.Beta >= 0 {
		args = append(args, "delta", strconv.FormatInt(d, 10))
	}
	switch {
	case o.Jitter > 0:
		args = append(args, "jitter", strconv.FormatFloat(min(o.Jitter, 1), 'g', -1, 64))
	case o.Jitter < 0:
		args = append(args, "nojitter")
	}
	return append(args, c.tagArgs(o)...)
}

func (c *Client) tagArgs(o *Options) []any {
	var args []any
	if len(o.Tags) > 0 {
		args = append(args, "tags", strconv.Itoa(len(o.Tags)))
		for _, t := range o.Tags {
			args = append(args, t)
		}
	}
	if len(o.DependsOn) > 0 {
		args = append(args, "deps", strconv.Itoa(len(o.DependsOn)))
		for _, k := range o.DependsOn {
			args = append(args, k)
		}
	}
	return args
}

// refreshAsync runs a refresh under lease tok in the background.
func (c *Client) refreshAsync(key, tok string, load Loader, o Options) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.rdb.Do(context.Background(), "cache.release", key, tok)
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	c.refreshes.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, o.RefreshTimeout)
		defer cancel()
		if _, err := c.fill(ctx, key, tok, load, &o); err != nil && !errors.Is(err, ErrNotFound) {
			c.report(key, fmt.Errorf("background refresh: %w", err))
		}
	}()
}

// Set writes value through: write (the origin) first, then the cache,
// unconditionally (CACHE.FILL with token "*"), which also makes any load in
// flight for key fail to store its older result. If write fails, the cache
// is left alone and the error returned.
func (c *Client) Set(ctx context.Context, key string, value []byte, write func(ctx context.Context) error, opts ...Option) error {
	if write != nil {
		if err := write(ctx); err != nil {
			return err
		}
	}
	o := c.options(opts)
	if err := c.rdb.Do(ctx, c.fillArgs(key, "*", value, 0, &o)...).Err(); err != nil {
		return fmt.Errorf("cache write: %w", err)
	}
	return nil
}

// Update writes the origin, then invalidates keys (DEL), so the next read
// loads the new state. Loads in flight for those keys fail to store their
// older results.
func (c *Client) Update(ctx context.Context, write func(ctx context.Context) error, keys ...string) error {
	if err := write(ctx); err != nil {
		return err
	}
	return c.Invalidate(ctx, keys...)
}

// Invalidate deletes keys from the cache.
func (c *Client) Invalidate(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := c.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("cache invalidate: %w", err)
	}
	return nil
}

// MarkStale softly invalidates keys: they keep being served, stale, for
// grace (0: their own grace period, or the server's default) while one
// reader refreshes each.
func (c *Client) MarkStale(ctx context.Context, grace time.Duration, keys ...string) error {
	p := c.rdb.Pipeline()
	for _, k := range keys {
		if grace > 0 {
			p.Do(ctx, "cache.stale", k, "grace", ms(grace))
		} else {
			p.Do(ctx, "cache.stale", k)
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("cache mark stale: %w", err)
	}
	return nil
}

// InvalidateTags drops every entry carrying any of tags (INVALIDATE), or,
// with grace > 0, serves them stale for grace first (SOFTINVALIDATE). It
// returns the number of keys reached.
func (c *Client) InvalidateTags(ctx context.Context, grace time.Duration, tags ...string) (int64, error) {
	if len(tags) == 0 {
		return 0, nil
	}
	args := []any{"invalidate"}
	if grace > 0 {
		args = []any{"softinvalidate", ms(grace)}
	}
	for _, t := range tags {
		args = append(args, t)
	}
	n, err := c.rdb.Do(ctx, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("cache invalidate tags: %w", err)
	}
	return n, nil
}

// BloomAdd records keys as existing at the origin in the Bloom filter used
// with Options.Bloom (created with RedisBloom's defaults if needed).
func (c *Client) BloomAdd(ctx context.Context, filter string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	args := []any{"bf.madd", filter}
	for _, k := range keys {
		args = append(args, k)
	}
	if err := c.rdb.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("bloom add: %w", err)
	}
	return nil
}
