package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cachesrv/cachesrv/internal/lease"
	"github.com/cachesrv/cachesrv/internal/origin/spec"
	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

var lookupEnv = os.LookupEnv

// Options configure a Manager.
type Options struct {
	Spec   spec.Config
	Store  *store.Store
	Leases *lease.Manager
	Tags   *tags.Index // optional: route tags need it
	Logger *slog.Logger
	// Drain bounds the final write-behind flush at shutdown (default 10s).
	Drain time.Duration
}

// Manager runs the origins and routes of one server. It is safe for
// concurrent use. Loads never hold a store shard lock while they wait on
// an origin: they look up and take a lease under the lock, release it,
// call the origin, and lock again to store.
type Manager struct {
	st      *store.Store
	leases  *lease.Manager
	tags    *tags.Index
	log     *slog.Logger
	drain   time.Duration
	spec    spec.Config
	routes  []*Route
	origins []*Origin
	byName  map[string]*Origin

	anyRefresh bool

	fmu     sync.Mutex
	flights map[string]*flight

	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	ready    chan struct{}
}

type flight struct {
	done  chan struct{}
	val   []byte
	found bool
	err   error
}

func defaults(o *spec.Origin) {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = 16
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerCooldown == 0 {
		o.BreakerCooldown = 5 * time.Second
	}
	w := &o.WriteBehind
	if w.Fsync == "" {
		w.Fsync = "everysec"
	}
	if w.BatchSize == 0 {
		w.BatchSize = 500
	}
	if w.FlushInterval == 0 {
		w.FlushInterval = 100 * time.Millisecond
	}
	if w.MaxAttempts == 0 {
		w.MaxAttempts = 5
	}
	if w.RetryBackoff == 0 {
		w.RetryBackoff = 100 * time.Millisecond
	}
	if w.MaxJournalBytes == 0 {
		w.MaxJournalBytes = 256 << 20
	}
}

// Validate checks a configuration without connecting anywhere: the errors
// of every origin and route, joined.
func Validate(c spec.Config) error {
	var errs []error
	for name, o := range c.Origins {
		defaults(&o)
		e := func(f string, a ...any) {
			errs = append(errs, fmt.Errorf("origin %q: "+f, append([]any{name}, a...)...))
		}
		switch o.Kind {
		case spec.KindPostgres:
			for _, t := range []string{o.Load, o.Store, o.Delete, o.Warm} {
				if _, err := compileSQL(t); err != nil {
					e("template %q: %v", t, err)
				}
			}
		case spec.KindHTTP:
			if o.URL == "" && o.URLEnv == "" && o.URLFile == "" {
				e("http needs url, url_env or url_file")
			}
			if o.Listen != "" {
				e("listen is for postgres origins")
			}
		default:
			e("kind must be postgres or http, got %q", o.Kind)
		}
		if o.Timeout < 0 || o.MaxConcurrency < 0 || o.MaxConcurrency > 1024 || o.BreakerFailures < 0 || o.BreakerCooldown < 0 {
			e("timeout, max_concurrency (at most 1024), breaker_failures and breaker_cooldown must not be negative")
		}
		w := o.WriteBehind
		if w.Fsync != "always" && w.Fsync != "everysec" && w.Fsync != "no" {
			e("write_behind.fsync must be always, everysec or no, got %q", w.Fsync)
		}
		if w.BatchSize < 1 || w.BatchSize > 100000 || w.FlushInterval < time.Millisecond || w.MaxAttempts < 1 || w.RetryBackoff < 0 || w.MaxJournalBytes < 4096 {
			e("write_behind: batch_size 1..100000, flush_interval >= 1ms, max_attempts >= 1, max_journal_bytes >= 4096")
		}
	}
	for i, r := range c.Routes {
		rt, err := compileRoute(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %d: %w", i+1, err))
			continue
		}
		o, ok := c.Origins[r.Origin]
		if !ok {
			errs = append(errs, fmt.Errorf("route %q: unknown origin %q", r.Pattern, r.Origin))
			continue
		}
		if o.Kind == spec.KindPostgres {
			for _, t := range []struct {
				name, src string
				value     bool
			}{{"load", o.Load, false}, {"store", o.Store, true}, {"delete", o.Delete, false}} {
				tp, err := compileSQL(t.src)
				if err != nil || tp == nil {
					continue
				}
				if err := tp.check(rt, t.value); err != nil {
					errs = append(errs, fmt.Errorf("origin %q %s: %w", r.Origin, t.name, err))
				}
			}
			if rt.readThrough && o.Load == "" {
				errs = append(errs, fmt.Errorf("route %q reads through but origin %q has no load query", r.Pattern, r.Origin))
			}
			if (rt.writeThrough || rt.writeBehind) && (o.Store == "" || o.Delete == "") {
				errs = append(errs, fmt.Errorf("route %q writes to origin %q, which needs store and delete queries", r.Pattern, r.Origin))
			}
			if r.Warm && o.Warm == "" {
				errs = append(errs, fmt.Errorf("route %q warms but origin %q has no warm query", r.Pattern, r.Origin))
			}
		} else if r.Warm {
			errs = append(errs, fmt.Errorf("route %q: warming needs a postgres origin", r.Pattern))
		}
	}
	return errors.Join(errs...)
}

// New validates the configuration, builds the backends (connections are
// made lazily, so a database that is down does not stop the server) and
// opens and replays the write-behind journals.
func New(o Options) (*Manager, error) {
	if err := Validate(o.Spec); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Drain == 0 {
		o.Drain = 10 * time.Second
	}
	m := &Manager{st: o.Store, leases: o.Leases, tags: o.Tags, log: o.Logger, drain: o.Drain,
		spec: o.Spec, byName: map[string]*Origin{}, flights: map[string]*flight{}, ready: make(chan struct{})}
	m.bgCtx, m.bgCancel = context.WithCancel(context.Background())
	names := make([]string, 0, len(o.Spec.Origins))
	for n := range o.Spec.Origins {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := o.Spec.Origins[n]
		defaults(&s)
		org := &Origin{Name: n, spec: s, sem: make(chan struct{}, s.MaxConcurrency),
			refreshSem: make(chan struct{}, max(1, s.MaxConcurrency/2))}
		org.br.threshold, org.br.cooldown = s.BreakerFailures, s.BreakerCooldown
		org.warmState.Store("idle")
		org.router = m.routeFor
		var err error
		switch s.Kind {
		case spec.KindPostgres:
			org.be, err = newPostgres(context.Background(), s)
		case spec.KindHTTP:
			org.be, err = newHTTP(s)
		}
		if err != nil {
			m.closeBackends()
			return nil, fmt.Errorf("origin %q: %w", n, err)
		}
		m.origins = append(m.origins, org)
		m.byName[n] = org
	}
	for _, r := range o.Spec.Routes {
		rt, _ := compileRoute(r)
		rt.Origin = m.byName[r.Origin]
		m.routes = append(m.routes, rt)
		m.anyRefresh = m.anyRefresh || r.RefreshAhead > 0
		if rt.writeBehind && rt.Origin.wb == nil {
			if o.Spec.Dir == "" {
				m.closeBackends()
				return nil, errors.New("write-behind needs dir")
			}
			wb, err := newWriteBehind(rt.Origin, originsDir(o.Spec.Dir), m.log)
			if err != nil {
				m.closeBackends()
				return nil, fmt.Errorf("origin %q: open write-behind journal: %w", rt.Origin.Name, err)
			}
			rt.Origin.wb = wb
		}
	}
	return m, nil
}

func originsDir(dir string) string { return dir + "/origins" }

func (m *Manager) closeBackends() {
	for _, o := range m.origins {
		o.be.close()
		if o.wb != nil {
			o.wb.j.close()
		}
	}
}

// Routes returns the routes in match order.
func (m *Manager) Routes() []*Route { return m.routes }

// Origins returns the origins by name.
func (m *Manager) Origins() []*Origin { return m.origins }

// Match returns the first route whose pattern matches key, or nil. It does
// not allocate.
func (m *Manager) Match(key []byte) *Route {
	var buf [4][]byte
	for _, r := range m.routes {
		if _, ok := r.match(key, buf[:0]); ok {
			return r
		}
	}
	return nil
}

// routeFor matches key and returns its parameters.
func (m *Manager) routeFor(key []byte) (*Route, *Params) {
	for _, r := range m.routes {
		if vals, ok := r.match(key, nil); ok {
			return r, &Params{Key: key, Values: vals}
		}
	}
	return nil, nil
}

// IsNegative reports whether a cached value is a negative ("not found at
// the origin") entry.
func IsNegative(v []byte) bool {
	if len(v) < 5 || v[0] != 0 {
		return false
	}
	_, _, neg := lease.ParseEnvelope(v)
	return neg
}

// Hit is called by reads that found key cached, with the key's shard lock
// held; val aliases the store. It reports whether the entry is negative
// (reply as a miss) and starts a refresh-ahead reload when the entry is past
// its route's refresh point. It costs a byte compare unless a route
// refreshes ahead and the entry has a deadline.
func (m *Manager) Hit(db int, key, val []byte, deadline, now int64) (negative bool) {
	if len(val) > 0 && val[0] == 0 && IsNegative(val) && m.Match(key) != nil {
		return true
	}
	if !m.anyRefresh || deadline == 0 {
		return false
	}
	rt := m.Match(key)
	if rt == nil || rt.spec.RefreshAhead == 0 || !rt.readThrough {
		return false
	}
	at := deadline - int64(float64(rt.ttl.Milliseconds())*(1-rt.spec.RefreshAhead))
	if now < at {
		return false
	}
	o := rt.Origin
	select {
	case o.refreshSem <- struct{}{}:
	default:
		return false
	}
	g := m.leases.Acquire(db, key, now, o.spec.Timeout.Milliseconds()+1000, lease.Refresh, false)
	if g.Token == 0 {
		<-o.refreshSem
		return false
	}
	k := clone(key)
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		defer func() { <-o.refreshSem }()
		_, _, err := m.loadAndStore(m.bgCtx, db, k, rt, g.Token, true)
		if err != nil {
			o.refreshErr.Add(1)
			m.log.Debug("refresh-ahead failed", "origin", o.Name, "err", err)
			return
		}
		o.refreshes.Add(1)
	}()
	return false
}

// Load reads a routed key that missed through its origin: concurrent
// loads of one key share one origin call. found=false with a nil error is
// "not found" (cached negatively). rt must be m.Match(key) and read
// through. The caller holds no lock.
func (m *Manager) Load(ctx context.Context, db int, key []byte, rt *Route) (val []byte, found bool, err error) {
	fk := string(rune(db)) + "\x00" + string(key)
	m.fmu.Lock()
	if f := m.flights[fk]; f != nil {
		m.fmu.Unlock()
		rt.Origin.coalesced.Add(1)
		select {
		case <-f.done:
			return f.val, f.found, f.err
		case <-ctx.Done():
			return nil, false, &Error{Origin: rt.Origin.Name, Err: ctx.Err()}
		}
	}
	f := &flight{done: make(chan struct{})}
	m.flights[fk] = f
	m.fmu.Unlock()
	f.val, f.found, f.err = m.fill(ctx, db, key, rt)
	m.fmu.Lock()
	delete(m.flights, fk)
	m.fmu.Unlock()
	close(f.done)
	return f.val, f.found, f.err
}

// fill is the single loader of a key: pending write-behind data first,
// then the cache again (another path may have filled it), then the origin
// under a fill lease, so that a write racing the load wins.
func (m *Manager) fill(ctx context.Context, db int, key []byte, rt *Route) ([]byte, bool, error) {
	if wb := rt.Origin.wb; wb != nil {
		if v, del, ok := wb.pending(key); ok {
			if del {
				return nil, false, nil
			}
			return clone(v), true, nil
		}
	}
	now := m.st.NowMs()
	tx := m.st.NewTxn(nil)
	h := tx.Key(now, key)
	if e, ok := tx.Lookup(db, key, h, store.NoStats|store.NoTouch); ok && e.Type == store.TypeString {
		v := clone(e.Value)
		tx.Release()
		if IsNegative(v) {
			return nil, false, nil
		}
		return v, true, nil
	}
	g := m.leases.Acquire(db, key, now, rt.Origin.spec.Timeout.Milliseconds()+1000, lease.Fill, false)
	tx.Release()
	return m.loadAndStore(ctx, db, key, rt, g.Token, false)
}

// loadAndStore calls the origin and stores its answer if token's lease is
// still valid (no write overtook the load). Token 0 stores nothing.
func (m *Manager) loadAndStore(ctx context.Context, db int, key []byte, rt *Route, token uint64, refresh bool) ([]byte, bool, error) {
	o := rt.Origin
	var ld Loaded
	_, p := rt, &Params{Key: key}
	p.Values, _ = rt.match(key, nil)
	err := o.call(ctx, OpLoad, func(ctx context.Context) error {
		var err error
		ld, err = o.be.load(ctx, rt, p)
		return err
	})
	if err != nil {
		if token != 0 {
			m.leases.Release(db, key, token)
		}
		return nil, false, err
	}
	if token == 0 {
		return ld.Value, ld.Found, nil
	}
	val := ld.Value
	now := m.st.NowMs()
	meta := store.Meta{Type: store.TypeString}
	ttl := rt.ttl
	if ld.HasTTL {
		ttl = ld.TTL
	}
	if !ld.Found {
		ttl = rt.negTTL
		val = lease.AppendEnvelope(nil, 0, true, nil)
		o.negative.Add(1)
	}
	if ttl > 0 {
		meta.Deadline = now + ttl.Milliseconds()
	}
	var tagNames [][]byte
	if m.tags != nil && (len(rt.tags) > 0 || len(ld.Tags) > 0) && ld.Found {
		for _, t := range rt.tags {
			tagNames = append(tagNames, rt.expand(t, p))
		}
		for _, t := range ld.Tags {
			tagNames = append(tagNames, []byte(t))
		}
		refs, err := m.tags.Resolve(db, tagNames, nil)
		if err != nil {
			m.tags.Release(refs)
			m.leases.Release(db, key, token)
			return nil, false, &Error{Origin: o.Name, Err: fmt.Errorf("tags: %w", err)}
		}
		meta.Tags = refs
		defer m.tags.Release(refs)
	}
	storeIt := (ld.Found || rt.negTTL > 0) && !(ld.HasTTL && ld.TTL == 0)
	tx := m.st.NewTxn(nil)
	h := tx.Key(now, key)
	if m.leases.Fill(db, key, token, now, tagNames) && storeIt {
		if err := tx.Set(db, key, h, val, meta); err != nil {
			m.log.Debug("origin value not cached", "origin", o.Name, "err", err)
		}
	}
	tx.Release()
	return ld.Value, ld.Found, nil
}

// WriteThrough writes key (or deletes it) at its route's origin; the
// caller changes the cache only when it returns nil.
func (m *Manager) WriteThrough(ctx context.Context, rt *Route, key, val []byte, del bool) error {
	return rt.Origin.write(ctx, []Op{{Del: del, Key: key, Value: val}})
}

// Ticket identifies a journaled write-behind write.
type Ticket struct {
	wb  *writeBehind
	seq uint64
}

// EnqueueLocked journals a write-behind write of key; the caller holds the
// key's shard lock (so that one key's journal order is its cache order)
// and must then call Durable without it.
func (m *Manager) EnqueueLocked(rt *Route, key, val []byte, del bool) (Ticket, error) {
	wb := rt.Origin.wb
	seq, err := wb.enqueueLocked(del, key, val)
	if err != nil {
		return Ticket{}, &Error{Origin: rt.Origin.Name, Err: err}
	}
	return Ticket{wb, seq}, nil
}

// Durable waits until the ticket's write is as durable as the fsync policy
// promises (always: fsynced).
func (m *Manager) Durable(t Ticket) error {
	if t.wb == nil {
		return nil
	}
	if err := t.wb.durable(t.seq); err != nil {
		return &Error{Origin: t.wb.o.Name, Err: err}
	}
	return nil
}

// Flush waits until every write-behind write acknowledged so far reached
// its origin (or the dead letters), or ctx ends.
func (m *Manager) Flush(ctx context.Context) error {
	for _, o := range m.origins {
		if o.wb != nil {
			if err := o.wb.flushed(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Origin returns the named origin or nil.
func (m *Manager) Origin(name string) *Origin { return m.byName[name] }

// Route returns the route with the given pattern or nil.
func (m *Manager) Route(pattern string) *Route {
	for _, r := range m.routes {
		if r.Name == pattern {
			return r
		}
	}
	return nil
}

// errStopWarm ends a warm run at maxmemory.
var errStopWarm = errors.New("stop")

// Warm preloads rt's keys from its origin's warm query into database 0,
// without overwriting cached keys and stopping at maxmemory. It returns the
// number of keys loaded.
func (m *Manager) Warm(ctx context.Context, rt *Route) (int, error) {
	o := rt.Origin
	o.warmState.Store("running")
	n := 0
	start := time.Now()
	var ttlMs int64
	if rt.ttl > 0 {
		ttlMs = rt.ttl.Milliseconds()
	}
	tx := m.st.NewTxn(nil)
	err := o.be.warm(ctx, rt, func(key, val []byte) error {
		if m.st.OverLimit() {
			return errStopWarm
		}
		now := m.st.NowMs()
		meta := store.Meta{Type: store.TypeString}
		if ttlMs > 0 {
			meta.Deadline = now + ttlMs
		}
		h := tx.Key(now, key)
		if !tx.Exists(0, key, h) {
			if err := tx.Set(0, key, h, val, meta); err == nil {
				n++
				o.warmed.Add(1)
			}
		}
		tx.Release()
		return nil
	})
	o.ops[OpWarm].observe(time.Since(start), func() error {
		if errors.Is(err, errStopWarm) {
			return nil
		}
		return err
	}())
	switch {
	case errors.Is(err, errStopWarm):
		o.warmState.Store("stopped at maxmemory")
		m.log.Warn("warming stopped at maxmemory", "route", rt.Name, "keys", n)
		return n, nil
	case err != nil:
		o.warmState.Store("failed")
		return n, &Error{Origin: o.Name, Err: err}
	}
	o.warmState.Store("done")
	m.log.Info("warmed", "route", rt.Name, "keys", n, "took", time.Since(start).Round(time.Millisecond))
	return n, nil
}

// schedulePoll is how often a scheduled warm checks the store's clock. The
// clock is the store's (injectable: tests advance a fake clock), so the
// schedule is polled rather than slept on.
const schedulePoll = 100 * time.Millisecond

// warmOnSchedule re-runs rt's warm query at every time its warm_schedule
// names, until ctx ends. Runs never overlap (one goroutine per route); a
// run that outlasts the next scheduled time makes the schedule skip it.
func (m *Manager) warmOnSchedule(ctx context.Context, rt *Route) {
	now := func() time.Time { return time.UnixMilli(m.st.NowMs()).UTC() }
	next := rt.schedule.Next(now())
	t := time.NewTicker(schedulePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now().Before(next) {
			continue
		}
		if _, err := m.Warm(ctx, rt); err != nil && ctx.Err() == nil {
			m.log.Warn("scheduled warming failed", "route", rt.Name, "err", err)
		}
		next = rt.schedule.Next(now())
	}
}

// WarmAll warms every route with warm set, within ctx.
func (m *Manager) WarmAll(ctx context.Context) error {
	var errs []error
	for _, rt := range m.routes {
		if rt.spec.Warm {
			if _, err := m.Warm(ctx, rt); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Notification is the payload of an invalidation NOTIFY: keys to drop and
// tags to invalidate in database DB. A payload that is not a JSON object is
// one key.
type Notification struct {
	DB   int      `json:"db"`
	Keys []string `json:"keys"`
	Tags []string `json:"tags"`
}

// Invalidate drops keys and invalidates tags, breaking in-flight loads of
// the keys so that they do not store what they read before the change.
func (m *Manager) Invalidate(n Notification) {
	if n.DB < 0 || n.DB >= m.st.Databases() {
		return
	}
	tx := m.st.NewTxn(nil)
	for _, k := range n.Keys {
		key := []byte(k)
		h := tx.Key(m.st.NowMs(), key)
		tx.Delete(n.DB, key, h, store.Invalidated)
		m.leases.Written(n.DB, key)
		tx.Release()
	}
	if len(n.Tags) > 0 && m.tags != nil {
		names := make([][]byte, len(n.Tags))
		for i, t := range n.Tags {
			names[i] = []byte(t)
		}
		m.tags.Invalidate(n.DB, names, false, 0, nil)
	}
}

func parseNotification(payload string) Notification {
	var n Notification
	if len(payload) > 0 && payload[0] == '{' && json.Unmarshal([]byte(payload), &n) == nil {
		return n
	}
	return Notification{Keys: []string{payload}}
}

// dropRoute deletes every cached key of rt (a gap in the NOTIFY stream).
func (m *Manager) dropRoute(rt *Route) int {
	n := 0
	for db := 0; db < m.st.Databases(); db++ {
		var keys [][]byte
		cur := uint64(0)
		for {
			cur = m.st.Scan(db, cur, 1000, func(key []byte, _ uint8) {
				if rt.Match(key) {
					keys = append(keys, clone(key))
				}
			})
			if cur == 0 {
				break
			}
		}
		tx := m.st.NewTxn(nil)
		for _, k := range keys {
			h := tx.Key(m.st.NowMs(), k)
			if tx.Delete(db, k, h, store.Invalidated) {
				n++
			}
			m.leases.Written(db, k)
			tx.Release()
		}
	}
	return n
}

// listen follows o's NOTIFY channel until ctx ends, reconnecting with
// backoff; every (re)connection is a possible gap, so the routes of o with
// on_gap flush drop their keys then.
func (m *Manager) listen(ctx context.Context, o *Origin) {
	url, err := resolveURL(o.spec)
	if err != nil {
		m.log.Error("origin listen", "origin", o.Name, "err", err)
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := m.listenOnce(ctx, o, url)
		o.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("origin NOTIFY connection lost; reconnecting", "origin", o.Name, "err", reason(err), "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (m *Manager) listenOnce(ctx context.Context, o *Origin, url string) error {
	cctx, cancel := context.WithTimeout(ctx, o.spec.Timeout)
	conn, err := pgx.Connect(cctx, url)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{o.spec.Listen}.Sanitize()); err != nil {
		return err
	}
	o.listening.Store(true)
	o.gaps.Add(1)
	for _, rt := range m.routes {
		if rt.Origin == o && rt.spec.OnGap != "none" {
			if n := m.dropRoute(rt); n > 0 {
				m.log.Info("NOTIFY (re)connected: dropped the route's keys", "route", rt.Name, "keys", n)
			}
		}
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		o.notifies.Add(1)
		m.Invalidate(parseNotification(n.Payload))
	}
}

// Run runs the write-behind flushers and NOTIFY listeners until ctx ends;
// then it drains the write-behind queues (up to the drain timeout), stops
// background refreshes and closes the backends.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, o := range m.origins {
		if o.wb != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o.wb.run(ctx, m.drain)
			}()
		}
		if o.spec.Listen != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.listen(ctx, o)
			}()
		}
	}
	for _, rt := range m.routes {
		if rt.schedule != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.warmOnSchedule(ctx, rt)
			}()
		}
	}
	close(m.ready)
	<-ctx.Done()
	wg.Wait()
	m.bgCancel()
	m.bg.Wait()
	for _, o := range m.origins {
		o.be.close()
	}
	return nil
}
