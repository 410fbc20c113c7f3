// Package app wires cachesrv's parts together: the store, the expiry
// sweeper, the RESP server and the metrics endpoint. cmd/cachesrv and the
// integration tests both build servers through it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/cluster"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/lease"
	"github.com/cachesrv/cachesrv/internal/origin"
	"github.com/cachesrv/cachesrv/internal/persist"
	"github.com/cachesrv/cachesrv/internal/protocol"
	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

// Version is set at build time with -ldflags "-X ...app.Version=...".
var Version = "0.1.0-dev"

// App is one running cachesrv instance.
type App struct {
	fds fdCount // open_fds for INFO

	Store   *store.Store
	Server  *protocol.Server
	Sweeper *expire.Sweeper
	Lag     *expire.LagHistogram
	Tags    *tags.Index
	Log     *slog.Logger
	// Leases is the stampede protection's lease manager (CACHE.*).
	Leases *lease.Manager
	// Origins runs read-through, write-through and write-behind for routed
	// keys; nil when no origin is configured.
	Origins *origin.Manager
	// TLS is the server TLS configuration when tls-port or metrics-tls is
	// set; its certificate reloads when the files change (Certs).
	TLS   *tls.Config
	Certs *protocol.CertReloader

	level *slog.LevelVar
	cfgMu sync.Mutex
	cfg   *config.Config

	cancelMu sync.Mutex
	cancel   context.CancelFunc

	// Persist runs snapshots and the load at start (package persist).
	Persist *persist.Persister
	loaded  atomic.Bool // the load at start is done
	// MetricsHandler, when set before Run, is served on metrics-addr.
	MetricsHandler http.Handler
	// Cluster is the Redis Cluster node and ClusterIndex its per-slot key
	// index; both nil unless cluster-enabled (cluster.go).
	Cluster      *cluster.Node
	ClusterIndex *cluster.Index
}

// Option changes how New builds an App beyond the configuration.
type Option func(*buildOptions)

type buildOptions struct {
	clock expire.Clock
}

// WithClock makes every part read time from clk (the store's deadlines and
// lazy expiry, the sweeper, leases, and the time each command runs at) —
// tests pass an expire.FakeClock and advance it instead of sleeping. Socket
// deadlines, latency timing and the slowlog stay on the wall clock.
func WithClock(clk expire.Clock) Option {
	return func(o *buildOptions) { o.clock = clk }
}

// fakeClock is the clock the wire layer must read per command: nil for the
// wall clock, which it reads once per command anyway for timing.
func (o buildOptions) fakeClock() expire.Clock {
	if o.clock == expire.System {
		return nil
	}
	return o.clock
}

// New builds an App from a validated configuration. level, when not nil,
// is the logger's level, changed by CONFIG SET log-level.
func New(cfg *config.Config, log *slog.Logger, level *slog.LevelVar, opts ...Option) (*App, error) {
	bo := buildOptions{clock: expire.System}
	for _, o := range opts {
		o(&bo)
	}
	clk := bo.clock
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if level == nil {
		level = new(slog.LevelVar)
	}
	a := &App{Log: log, level: level, cfg: cfg.Clone(), Lag: new(expire.LagHistogram)}
	st, err := store.New(store.Options{
		Shards:       cfg.Shards,
		Databases:    cfg.Databases,
		MaxMemory:    cfg.MaxMemory,
		Policy:       cfg.MaxMemoryPolicy,
		LFULogFactor: evictZero(cfg.LFULogFactor),
		LFUDecayTime: evictZero(cfg.LFUDecayTime),
		Samples:      cfg.MaxMemorySamples,
		Clock:        clk,
		Lag:          a.Lag.Observe,
	})
	if err != nil {
		return nil, fmt.Errorf("build store: %w", err)
	}
	a.Store = st
	a.Tags = tags.New(st, tags.Options{MaxPerKey: cfg.TagsMaxPerKey, MaxLen: cfg.TagMaxLen})
	a.Sweeper = expire.NewSweeper(st, expire.SweeperOptions{Hz: cfg.Hz, Effort: cfg.ActiveExpireEffort, Clock: clk})
	if a.Persist, err = persist.New(persist.Options{
		Store: st,
		Tags:  a.Tags,
		Log:   log,
		Changes: func() uint64 {
			if a.Server == nil { // during New
				return 0
			}
			return a.Server.WriteCalls()
		},
		MaxLen:   int(min(cfg.ProtoMaxBulkLen, math.MaxInt32)),
		Settings: persistSettings(cfg),
	}); err != nil {
		return nil, fmt.Errorf("build persister: %w", err)
	}
	if err := a.setupCluster(cfg); err != nil {
		return nil, err
	}
	// stampede protection: leases for CACHE.*, broken by writes (the
	// server's write observer) and by tag invalidations; swept in Run.
	if a.Leases, err = lease.New(lease.Options{Clock: clk, Tags: a.Tags, Charge: st.AddMemory}); err != nil {
		return nil, fmt.Errorf("build lease manager: %w", err)
	}
	if err := a.setupOrigins(cfg); err != nil {
		return nil, err
	}
	port := cfg.Port
	a.Server = protocol.New(protocol.Options{
		Store:            st,
		Logger:           log,
		Config:           (*configBackend)(a),
		MaxClients:       cfg.MaxClients,
		IdleTimeout:      cfg.Timeout,
		TCPKeepAlive:     cfg.TCPKeepalive,
		ProtoMaxBulkLen:  cfg.ProtoMaxBulkLen,
		QueryBufferLimit: cfg.ClientQueryBufferLimit,
		RequirePass:      cfg.RequirePass,
		ExpireJitter:     cfg.ExpireJitter,
		SlowlogSlower:    cfg.SlowlogLogSlowerThan,
		SlowlogMaxLen:    cfg.SlowlogMaxLen,
		Version:          Version,
		Port:             port,
		Info:             a.info,
		Shutdown:         a.Stop,
		ProtectedMode:    cfg.ProtectedMode,
		ACLFile:          cfg.ACLFile,
		AuditLogger:      auditLogger(cfg, log),
		OutputLimit:      outputLimit(cfg),
		OutputTimeout:    cfg.ClientOutputTimeout,
		Persistence:      persistence{a.Persist},
		PubSubLimit:      pubsubLimit(cfg),
		TrackingMaxKeys:  cfg.TrackingTableMaxKeys,
		EventLoops:       eventLoops(cfg.EventLoops),
		Clock:            bo.fakeClock(),
		Cluster:          a.Cluster,
		ClusterIndex:     a.ClusterIndex,
		Tags:             a.Tags,
		Leases:           a.Leases,
		Origins:          a.Origins,
	})
	a.Server.SetBusyReplyThreshold(time.Duration(cfg.BusyReplyThreshold) * time.Millisecond)
	a.Server.SetNotifyKeyspaceEvents(cfg.NotifyKeyspaceEvents)
	if err := a.setupSecurity(cfg); err != nil {
		a.closeOrigins()
		return nil, err
	}
	setMemoryLimit(cfg.MaxMemory)
	return a, nil
}

// setMemoryLimit ties the Go runtime's soft memory limit to maxmemory:
// maxmemory × 1.05 + 16 MiB. The store's accounting covers records, tables,
// tag lists and client buffers, so the live heap sits near maxmemory; the
// limit makes the collector (and the scavenger) keep garbage from large
// values and freed pages within the RSS bound the cache promises
// (1.15 × maxmemory + 32 MiB). Measured with cmd/memsoak (values of 1 B to
// 1 MiB): peak RSS 1.32 × maxmemory at 100mb; with a limit at the bound
// itself RSS reached 1.55 ×, because freed large-object pages went back to
// the OS too late.
func setMemoryLimit(max int64) {
	if max <= 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return
	}
	debug.SetMemoryLimit(max + max/20 + 16<<20)
}

// Stop asks Run to return (SHUTDOWN). It does not block.
func (a *App) Stop() {
	a.cancelMu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.cancelMu.Unlock()
}

// Run serves on the given listeners (and metrics, when ln for it is given)
// until ctx ends or SHUTDOWN, then shuts down in order: stop accepting,
// drain clients within shutdown-timeout, stop the sweeper. It waits for
// every goroutine it started.
func (a *App) Run(ctx context.Context, lns []net.Listener, metricsLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.cancelMu.Lock()
	a.cancel = cancel
	a.cancelMu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, len(lns)+4)
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Sweeper.Run(sweepCtx); err != nil {
			errs <- fmt.Errorf("expiry sweeper: %w", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Tags.Run(sweepCtx); err != nil {
			errs <- fmt.Errorf("tag reclaimer: %w", err)
		}
	}()
	// stampede protection: the lease sweeper stops as soon as shutdown
	// begins (ctx), so clients waiting for a fill are answered at once.
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Leases.Run(ctx)
	}()
	// origins: warmed before clients are served; stopped (write-behind
	// drained) after the clients are.
	stopOrigins := a.startOrigins(a.Config())
	var hs *http.Server
	if metricsLn != nil && a.MetricsHandler != nil {
		hs = &http.Server{Handler: a.MetricsHandler, ReadHeaderTimeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("metrics server: %w", err)
				cancel()
			}
		}()
	}
	// With a snapshot to load, clients get -LOADING until it is in (Ready
	// turns true then); without one the server is ready at once.
	mustLoad := a.Persist.SnapshotExists()
	if mustLoad {
		a.Server.SetLoading(true)
	} else {
		a.Persist.RemoveTempFiles()
		a.loaded.Store(true)
	}
	for _, ln := range lns {
		a.Log.Info("listening", "addr", ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Server.Serve(ln); err != nil {
				errs <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
				cancel()
			}
		}()
	}
	waitCluster := a.startCluster(sweepCtx, lns, errs)
	var errList []error
	a.cfgMu.Lock()
	startEmpty := a.cfg.StartEmptyOnBadSnapshot
	a.cfgMu.Unlock()
	var loadErr error
	if mustLoad {
		_, loadErr = a.Persist.LoadAtStart(startEmpty)
	}
	if loadErr != nil {
		a.Log.Error("refusing to start: the snapshot cannot be loaded", "err", loadErr)
		errList = append(errList, fmt.Errorf("load snapshot: %w", loadErr))
		cancel()
	} else {
		a.Server.SetLoading(false)
		a.loaded.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Persist.Run(sweepCtx)
		}()
	}
	<-ctx.Done()
	a.Log.Info("shutting down")
	a.cfgMu.Lock()
	timeout := a.cfg.ShutdownTimeout
	a.cfgMu.Unlock()
	sctx, scancel := context.WithTimeout(context.Background(), timeout)
	defer scancel()
	if err := a.Server.Shutdown(sctx); err != nil {
		a.Log.Warn("clients cut at shutdown timeout", "err", err)
	}
	a.Server.CloseMigrateConns()
	stopOrigins()
	if a.loaded.Load() {
		// SIGTERM (or a SHUTDOWN that already saved: then a no-op).
		if err := a.Persist.Shutdown(persist.ShutdownDefault); err != nil {
			errList = append(errList, fmt.Errorf("shutdown snapshot: %w", err))
		}
	}
	if hs != nil {
		if err := hs.Shutdown(sctx); err != nil {
			errList = append(errList, fmt.Errorf("metrics shutdown: %w", err))
		}
	}
	stopSweep()
	waitCluster()
	wg.Wait()
	a.Persist.Close()
	close(errs)
	for err := range errs {
		errList = append(errList, err)
	}
	return errors.Join(errList...)
}

// Config returns a copy of the current configuration.
func (a *App) Config() *config.Config {
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	return a.cfg.Clone()
}

// configBackend serves CONFIG GET/SET/REWRITE for the protocol server.
type configBackend App

func (b *configBackend) Get(pattern string) [][2]string {
	a := (*App)(b)
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	var out [][2]string
	for _, name := range a.cfg.Match(pattern) {
		if v, ok := a.cfg.Get(name); ok {
			out = append(out, [2]string{name, v})
		}
	}
	// Read-only Redis settings that tools such as redis-benchmark query:
	// cachesrv keeps no persistence.
	if glob.Match(pattern, "lua-time-limit", true) { // Redis's old name of busy-reply-threshold
		if v, ok := a.cfg.Get("busy-reply-threshold"); ok {
			out = append(out, [2]string{"lua-time-limit", v})
		}
	}
	for _, kv := range [][2]string{{"appendonly", "no"}} {
		if glob.Match(pattern, kv[0], true) {
			out = append(out, kv)
		}
	}
	return out
}

// errNoAOF refuses CONFIG SET appendonly yes: warm restarts use snapshots.
var errNoAOF = errors.New("cachesrv keeps no append-only file; use snapshots (save, BGSAVE)")

func (b *configBackend) Set(name, value string) error {
	a := (*App)(b)
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	switch name {
	case "lua-time-limit":
		name = "busy-reply-threshold"
	case "appendonly":
		// Listed by CONFIG GET for tools that ask; settable to what it is.
		if strings.EqualFold(value, "no") {
			return nil
		}
		if strings.EqualFold(value, "yes") {
			return errNoAOF
		}
		return errors.New("argument must be 'yes' or 'no'")
	}
	next := a.cfg.Clone()
	if err := next.Set(name, value); err != nil {
		if errors.Is(err, config.ErrUnknownParam) {
			return protocol.ErrUnknownConfig
		}
		var pe *config.ParamError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if err := a.apply(name, next); err != nil {
		return err
	}
	a.cfg = next
	return nil
}

func (b *configBackend) Rewrite() error {
	a := (*App)(b)
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	if a.cfg.ConfigFile == "" {
		return config.ErrNoConfigFile
	}
	return a.cfg.Rewrite(a.cfg.ConfigFile)
}

// apply makes a changed setting take effect.
func (a *App) apply(name string, c *config.Config) error {
	switch name {
	case "maxmemory":
		a.Store.SetMaxMemory(c.MaxMemory)
		setMemoryLimit(c.MaxMemory)
	case "maxmemory-policy":
		return a.Store.SetPolicy(c.MaxMemoryPolicy)
	case "lfu-log-factor", "lfu-decay-time":
		return a.Store.SetLFU(evictZero(c.LFULogFactor), evictZero(c.LFUDecayTime))
	case "maxmemory-samples":
		a.Store.SetSamples(c.MaxMemorySamples)
	case "maxclients":
		a.Server.SetMaxClients(c.MaxClients)
	case "timeout":
		a.Server.SetIdleTimeout(c.Timeout)
	case "tcp-keepalive":
		a.Server.SetTCPKeepAlive(c.TCPKeepalive)
	case "proto-max-bulk-len":
		a.Server.SetProtoMaxBulkLen(c.ProtoMaxBulkLen)
	case "client-query-buffer-limit":
		a.Server.SetQueryBufferLimit(c.ClientQueryBufferLimit)
	case "requirepass":
		a.Server.SetRequirePass(c.RequirePass)
	case "client-output-buffer-limit", "client-output-timeout":
		a.Server.SetOutputLimit(outputLimit(c), c.ClientOutputTimeout)
		a.Server.SetPubSubLimit(pubsubLimit(c))
	case "notify-keyspace-events":
		a.Server.SetNotifyKeyspaceEvents(c.NotifyKeyspaceEvents)
	case "tracking-table-max-keys":
		a.Server.SetTrackingMaxKeys(c.TrackingTableMaxKeys)
	case "hz":
		a.Sweeper.SetHz(c.Hz)
	case "active-expire-effort":
		a.Sweeper.SetEffort(c.ActiveExpireEffort)
	case "slowlog-log-slower-than", "slowlog-max-len":
		a.Server.SetSlowlog(c.SlowlogLogSlowerThan, c.SlowlogMaxLen)
	case "expire-jitter":
		a.Server.SetExpireJitter(c.ExpireJitter)
	case "log-level":
		a.level.Set(c.SlogLevel())
	case "dir", "dbfilename", "save", "save-on-shutdown":
		a.Persist.Configure(persistSettings(c))
	case "busy-reply-threshold":
		a.Server.SetBusyReplyThreshold(time.Duration(c.BusyReplyThreshold) * time.Millisecond)
	case "tags-max-per-key", "tag-max-len":
		a.Tags.SetLimits(c.TagsMaxPerKey, c.TagMaxLen)
	}
	return nil
}

// fdCount counts the process's open descriptors for INFO, listing
// /proc/self/fd at most once a second (four system calls and an entry per
// descriptor; INFO may be polled far more often than that).
type fdCount struct {
	mu sync.Mutex
	at time.Time
	n  int64
}

func (c *fdCount) get() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.at.IsZero() || now.Sub(c.at) >= time.Second {
		c.at, c.n = now, -1
		if d, err := os.Open("/proc/self/fd"); err == nil {
			// Names only: no sorting, no entry per descriptor. The count
			// includes the descriptor reading the directory, as
			// os.ReadDir's did.
			if names, err := d.Readdirnames(-1); err == nil {
				c.n = int64(len(names))
			}
			d.Close()
		}
	}
	return c.n
}

// info adds cachesrv's own INFO sections and fields.
func (a *App) info(section string) []protocol.InfoField {
	f := protocol.NewInfoField
	switch section {
	case "clients+":
		// For soak runs and leak hunting: every client is a goroutine and a
		// descriptor.
		return []protocol.InfoField{f("go_goroutines", runtime.NumGoroutine()), f("open_fds", a.fds.get())}
	case "stats+":
		ss := a.Sweeper.Stats()
		return append([]protocol.InfoField{
			f("expired_stale_perc", strconv.FormatFloat(ss.StalePerc, 'f', 2, 64)),
			f("expired_time_cap_reached_count", ss.TimeCapReached),
			f("expire_cycle_cpu_milliseconds", ss.CPU.Milliseconds()),
		}, a.Server.SecurityStats().InfoFields()...)
	case "expiry":
		ss := a.Sweeper.Stats()
		return []protocol.InfoField{
			f("expire_cycles", ss.Cycles),
			f("expire_swept_keys", ss.ExpiredKeys),
			f("expire_lag_p50_seconds", strconv.FormatFloat(a.Lag.Quantile(0.5), 'f', 4, 64)),
			f("expire_lag_p99_seconds", strconv.FormatFloat(a.Lag.Quantile(0.99), 'f', 4, 64)),
			f("expire_jitter", strconv.FormatFloat(a.Config().ExpireJitter, 'f', -1, 64)),
		}
	case "tags":
		ts := a.Tags.Stats()
		return []protocol.InfoField{
			f("tags", ts.Tags),
			f("tagged_keys", ts.TaggedKeys),
			f("tag_index_bytes", ts.IndexBytes),
			f("invalidations", ts.Invalidations),
			f("soft_invalidations", ts.SoftInvalidations),
			f("keys_invalidated_by_tag", ts.KeysInvalidatedByTag),
			f("keys_invalidated_by_dependency", ts.KeysInvalidatedByDep),
			f("dependency_invalidations", ts.DependencyBumps),
			f("version_rejections", ts.VersionRejections),
			f("reclaimed_keys", ts.Reclaimed),
			f("reclaim_pending", ts.PendingReclaimEntries),
		}
	case "stampede":
		return protocol.StampedeInfo(a.Leases)
	case "origins":
		return a.originsInfo()
	case "eviction":
		return []protocol.InfoField{
			f("maxmemory_policy", a.Store.Policy()),
			f("evicted_keys", a.Store.Removed(store.Evicted)),
			f("shards", a.Store.NumShards()),
		}
	}
	return nil
}

// evictZero hands a Redis LFU setting to package evict, where 0 asks for
// the default: Redis's 0 (lfu-log-factor 0: every access counts;
// lfu-decay-time 0: counters never decay) is a negative value there.
func evictZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// eventLoops resolves event-loops "auto" to one loop per CPU.
func eventLoops(n int) int {
	if n == config.EventLoopsAuto {
		return runtime.GOMAXPROCS(0)
	}
	return n
}
